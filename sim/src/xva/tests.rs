use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::dialect::Dialect;
use crate::objects::{get_str, refs_of};
use crate::state::State;
use crate::state::{field, str_field};
use crate::{lifecycle, net, storage, world};
use xenapi::Value;

/// Disks in memory, sparse by chunk.
#[derive(Default)]
struct Store {
    disks: HashMap<String, BTreeMap<u64, Vec<u8>>>,
}

struct Open<'a> {
    size: u64,
    chunks: &'a mut BTreeMap<u64, Vec<u8>>,
}

impl DiskContent for Open<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let at = offset + i as u64;
            let chunk = self.chunks.get(&(at / CHUNK as u64));
            *b = chunk.map_or(0, |c| c[(at % CHUNK as u64) as usize]);
        }
        Ok(())
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if offset + data.len() as u64 > self.size {
            return Err(io::Error::other("beyond the disk"));
        }
        for (i, b) in data.iter().enumerate() {
            let at = offset + i as u64;
            let chunk = self
                .chunks
                .entry(at / CHUNK as u64)
                .or_insert_with(|| vec![0; CHUNK]);
            chunk[(at % CHUNK as u64) as usize] = *b;
        }
        Ok(())
    }
}

impl DiskStore for Store {
    fn open(&mut self, vdi: &str, size: u64) -> io::Result<Box<dyn DiskContent + '_>> {
        let chunks = self.disks.entry(vdi.to_owned()).or_default();
        Ok(Box::new(Open { size, chunks }))
    }
}

impl Store {
    fn bytes(&mut self, vdi: &str, size: u64) -> Vec<u8> {
        let mut out = vec![0u8; size as usize];
        self.open(vdi, size).unwrap().read_at(0, &mut out).unwrap();
        out
    }
}

fn world() -> State {
    let mut st = State::new(Dialect::Xapi, 7);
    world::build(&mut st, 1, 2, 0);
    st
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

const SIZES: [u64; 2] = [3 * (1 << 20) + 512, 2 << 20];

/// A Halted VM "exported" with two disks of SIZES, a VIF, and content in the store: disk 0 has
/// data in its first and third chunk and the last bytes; disk 1 only zeros.
fn vm_with_disks(st: &mut State, store: &mut Store) -> String {
    let gib = (1i64 << 30).to_string();
    let vm = lifecycle::create(
        st,
        &[Value::Struct(vec![
            ("name_label".into(), s("exported")),
            ("name_description".into(), s("two disks")),
            ("memory_static_min".into(), s(&gib)),
            ("memory_dynamic_min".into(), s(&gib)),
            ("memory_dynamic_max".into(), s(&gib)),
            ("memory_static_max".into(), s(&gib)),
            ("VCPUs_max".into(), s("2")),
            ("VCPUs_at_startup".into(), s("2")),
            (
                "other_config".into(),
                Value::Struct(vec![("owner".into(), s("xva-test"))]),
            ),
        ])],
    )
    .unwrap();
    let vm = vm.as_str().unwrap().to_owned();
    let sr = get_str(
        st,
        "pool",
        &st.table("pool").unwrap().refs()[0].clone(),
        "default_SR",
    );
    for (i, size) in SIZES.iter().enumerate() {
        let vdi = storage::vdi_create(
            st,
            &[Value::Struct(vec![
                ("name_label".into(), s(&format!("disk {i}"))),
                ("SR".into(), s(&sr)),
                ("virtual_size".into(), s(&size.to_string())),
                ("type".into(), s("user")),
            ])],
        )
        .unwrap();
        let vdi = vdi.as_str().unwrap().to_owned();
        storage::vbd_create(
            st,
            &[Value::Struct(vec![
                ("VM".into(), s(&vm)),
                ("VDI".into(), s(&vdi)),
                ("userdevice".into(), s(&i.to_string())),
                ("bootable".into(), Value::Bool(i == 0)),
                ("mode".into(), s("RW")),
                ("type".into(), s("Disk")),
                ("empty".into(), Value::Bool(false)),
            ])],
        )
        .unwrap();
        if i == 0 {
            let mut d = store.open(&vdi, *size).unwrap();
            d.write_at(5, b"boot sector").unwrap();
            d.write_at(2 * CHUNK as u64 + 100, &[9u8; 4000]).unwrap();
            d.write_at(size - 3, b"end").unwrap();
        }
    }
    let network = st.table("network").unwrap().refs()[0].clone();
    net::vif_create(
        st,
        &[Value::Struct(vec![
            ("VM".into(), s(&vm)),
            ("network".into(), s(&network)),
            ("device".into(), s("0")),
            ("MAC".into(), s("02:00:00:00:00:01")),
            ("MTU".into(), s("1500")),
        ])],
    )
    .unwrap();
    vm
}

fn export(st: &State, store: &mut Store, vm: &str, c: Compression) -> Vec<u8> {
    let plan = plan_export(st, vm).unwrap();
    let mut out = Vec::new();
    write(&plan, store, &mut out, c, &mut |_, _| true).unwrap();
    out
}

fn names(xva: &[u8]) -> Vec<String> {
    let mut input = xva;
    let mut out = Vec::new();
    while let Some(e) = tar::next(&mut input).unwrap() {
        let mut skip = vec![0u8; e.size as usize];
        tar::read_exact(&mut input, &mut skip).unwrap();
        tar::skip_padding(&mut input, e.size).unwrap();
        out.push(e.name);
    }
    out
}

/// As the `/import` handler does: objects, then disks, undoing the objects when the disks fail.
fn import(st: &mut State, store: &mut Store, xva: &[u8], force: bool) -> Result<Imported, Failure> {
    let mut input = xva;
    let reader = Reader::open(&mut input)?;
    let imported = create_objects(st, &reader.header, None, false)?;
    if let Err(e) = reader.read_disks(&imported.disks, store, force, &mut |_, _| true) {
        undo(st, &imported.made);
        return Err(e);
    }
    Ok(imported)
}

fn disks_of(st: &State, vm: &str) -> Vec<(String, String, u64)> {
    let mut out: Vec<(String, String, u64)> = refs_of(st.get("VM", vm).unwrap(), "VBDs")
        .into_iter()
        .map(|b| {
            let vdi = get_str(st, "VBD", &b, "VDI");
            let size = get_str(st, "VDI", &vdi, "virtual_size").parse().unwrap();
            (get_str(st, "VBD", &b, "userdevice"), vdi, size)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_tar_is_as_xapi_writes_it() {
    let mut st = world();
    let mut store = Store::default();
    let vm = vm_with_disks(&mut st, &mut store);
    let xva = export(&st, &mut store, &vm, Compression::None);
    let n = names(&xva);
    assert_eq!(n[0], "ova.xml");
    let plan = plan_export(&st, &vm).unwrap();
    assert_eq!(plan.disks.len(), 2);
    let (a, b) = (&plan.disks[0].id, &plan.disks[1].id);
    // disk 0 (4 chunks): 0, 2 (data), 3 (last); 1 is zeros. disk 1 (2 chunks): first and last.
    let want: Vec<String> = [
        format!("{a}/00000000"),
        format!("{a}/00000002"),
        format!("{a}/00000003"),
        format!("{b}/00000000"),
        format!("{b}/00000001"),
    ]
    .iter()
    .flat_map(|c| [c.clone(), format!("{c}.xxhash")])
    .collect();
    let disk_of = |id: &str| plan.disks.iter().find(|d| d.id == id).unwrap().size;
    assert_eq!(disk_of(a), SIZES[0]);
    assert_eq!(&n[1..], &want[..]);
    // ova.xml: version, objects with Ref:N ids; the VM first, Halted, references rewritten.
    let header = parse(plan.ova_xml.as_bytes()).unwrap();
    assert_eq!(header.export_vsn, 2);
    let vm_obj = &header.objects[0];
    assert_eq!((vm_obj.class.as_str(), vm_obj.id.as_str()), ("VM", "Ref:0"));
    assert_eq!(str_field(&vm_obj.snapshot, "name_label"), "exported");
    assert_eq!(str_field(&vm_obj.snapshot, "power_state"), "Halted");
    assert_eq!(str_field(&vm_obj.snapshot, "metrics"), "OpaqueRef:NULL");
    let vbds = refs_of(&vm_obj.snapshot, "VBDs");
    assert_eq!(vbds.len(), 2);
    assert!(vbds.iter().all(|r| r.starts_with("Ref:")), "{vbds:?}");
    let classes: Vec<&str> = header.objects.iter().map(|o| o.class.as_str()).collect();
    for c in ["VM", "VBD", "VIF", "network", "VDI", "SR"] {
        assert!(classes.contains(&c), "{c} exported: {classes:?}");
    }
    // The checksum of a chunk is XXH64 in upper-case hex.
    let mut input: &[u8] = &xva;
    let mut last = Vec::new();
    while let Some(e) = tar::next(&mut input).unwrap() {
        let mut data = vec![0u8; e.size as usize];
        tar::read_exact(&mut input, &mut data).unwrap();
        tar::skip_padding(&mut input, e.size).unwrap();
        if e.name.ends_with(".xxhash") {
            assert_eq!(data, hash::xxhash_text(&last).as_bytes());
        }
        last = data;
    }
}

#[test]
fn export_then_import_round_trips_metadata_and_disks() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut st = world();
        let mut store = Store::default();
        let vm = vm_with_disks(&mut st, &mut store);
        let xva = export(&st, &mut store, &vm, c);
        match c {
            Compression::Gzip => assert_eq!(&xva[..2], &[0x1f, 0x8b]),
            Compression::Zstd => assert_eq!(&xva[..4], &[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::None => assert_eq!(&xva[..7], b"ova.xml"),
        }
        let vms_before = st.table("VM").unwrap().len();
        let imported = import(&mut st, &mut store, &xva, false).unwrap();
        assert_eq!(imported.vms.len(), 1);
        assert_eq!(st.table("VM").unwrap().len(), vms_before + 1);
        let new = &imported.vms[0];
        assert_ne!(new, &vm);
        let (old_rec, new_rec) = (st.get("VM", &vm).unwrap(), st.get("VM", new).unwrap());
        assert_ne!(str_field(old_rec, "uuid"), str_field(new_rec, "uuid"));
        for f in [
            "name_label",
            "name_description",
            "memory_static_max",
            "VCPUs_max",
            "other_config",
        ] {
            assert_eq!(field(old_rec, f), field(new_rec, f), "{f}");
        }
        assert_eq!(str_field(new_rec, "power_state"), "Halted");
        assert_eq!(refs_of(new_rec, "VIFs").len(), 1);
        let (old_disks, new_disks) = (disks_of(&st, &vm), disks_of(&st, new));
        assert_eq!(new_disks.len(), 2);
        for ((ud, a, size), (ud2, b, size2)) in old_disks.iter().zip(&new_disks) {
            assert_eq!((ud, size), (ud2, size2));
            assert_ne!(a, b, "a new VDI");
            assert_eq!(store.bytes(a, *size), store.bytes(b, *size), "disk {ud}");
        }
        let content = store.bytes(&new_disks[0].1, SIZES[0]);
        assert_eq!(&content[5..16], b"boot sector");
        assert_eq!(&content[content.len() - 3..], b"end");
    }
}

#[test]
fn a_running_vm_is_not_exported() {
    let st = world();
    let running = st
        .table("VM")
        .unwrap()
        .iter()
        .find(|(_, r)| {
            str_field(r, "power_state") == "Running"
                && !crate::objects::bool_of(r, "is_control_domain")
        })
        .map(|(r, _)| r.clone())
        .unwrap();
    let e = plan_export(&st, &running).err().unwrap();
    assert_eq!(e.0[0], "VM_BAD_POWER_STATE");
    assert_eq!(e.0[2], "halted, suspended");
    assert_eq!(e.0[3], "running");
}

#[test]
fn bad_xvas_get_xapis_errors_and_leave_nothing_behind() {
    let mut st = world();
    let mut store = Store::default();
    let vm = vm_with_disks(&mut st, &mut store);
    let xva = export(&st, &mut store, &vm, Compression::None);
    let count = |st: &State| {
        (
            st.table("VM").unwrap().len(),
            st.table("VDI").unwrap().len(),
        )
    };

    // A wrong first file.
    let mut other = Vec::new();
    tar::write_file(&mut other, "something", b"x").unwrap();
    let e = import(&mut st, &mut store, &other, false).unwrap_err();
    assert_eq!(
        e.0,
        ["IMPORT_ERROR_UNEXPECTED_FILE", "ova.xml", "something"]
    );

    // Truncated: the objects are made, then the disks fail, and the objects go.
    let before = count(&st);
    let e = import(&mut st, &mut store, &xva[..xva.len() - 3000], false).unwrap_err();
    assert_eq!(e.0, ["IMPORT_ERROR_PREMATURE_EOF"]);
    assert_eq!(count(&st), before, "nothing left behind");

    // A damaged chunk: its checksum fails, unless forced.
    let at = xva.windows(11).position(|w| w == b"boot sector").unwrap();
    let mut bad = xva.clone();
    bad[at] = b'B';
    let e = import(&mut st, &mut store, &bad, false).unwrap_err();
    assert_eq!(e.0, ["IMPORT_ERROR_SOME_CHECKSUMS_FAILED"]);
    assert_eq!(count(&st), before);
    assert!(import(&mut st, &mut store, &bad, true).is_ok());

    // Not an XVA at all.
    let e = import(&mut st, &mut store, b"hello", false).unwrap_err();
    assert_eq!(e.0[0], "IMPORT_ERROR_PREMATURE_EOF");
    assert_eq!(Compression::from_query(Some("zstd")), Compression::Zstd);
    assert_eq!(Compression::from_query(Some("true")), Compression::Gzip);
    assert_eq!(Compression::from_query(Some("gzip")), Compression::Gzip);
    assert_eq!(Compression::from_query(Some("false")), Compression::None);
    assert_eq!(Compression::from_query(None), Compression::None);
}

#[test]
fn a_failed_create_removes_what_it_made() {
    let mut st = world();
    let mut store = Store::default();
    let vm = vm_with_disks(&mut st, &mut store);
    let plan = plan_export(&st, &vm).unwrap();
    let mut header = parse(plan.ova_xml.as_bytes()).unwrap();
    // A VIF whose network is missing from the file.
    header.objects.retain(|o| o.class != "network");
    let (vms, vdis, vbds) = (
        st.table("VM").unwrap().len(),
        st.table("VDI").unwrap().len(),
        st.table("VBD").unwrap().len(),
    );
    let e = create_objects(&mut st, &header, None, false).unwrap_err();
    assert_eq!(e.0[0], "IMPORT_ERROR_FAILED_TO_FIND_OBJECT");
    assert_eq!(st.table("VM").unwrap().len(), vms);
    assert_eq!(st.table("VDI").unwrap().len(), vdis);
    assert_eq!(st.table("VBD").unwrap().len(), vbds);
}
