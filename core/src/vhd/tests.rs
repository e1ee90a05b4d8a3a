use super::*;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;

fn opts() -> WriteOptions {
    WriteOptions {
        uuid: *b"0123456789abcdef",
        timestamp: 123_456,
    }
}

/// A disk of `size` bytes with a distinct pattern in each listed block, zeros elsewhere.
fn disk_with(size: u64, blocks: &[u64]) -> Vec<u8> {
    let mut disk = vec![0u8; size as usize];
    for &b in blocks {
        let start = (b * u64::from(BLOCK_SIZE)) as usize;
        let end = (start + BLOCK_SIZE as usize).min(disk.len());
        for (i, byte) in disk[start..end].iter_mut().enumerate() {
            *byte = (i as u64 * 7 + b * 13 + 1) as u8;
        }
    }
    disk
}

fn write(size: u64, blocks: &[u64], disk: &mut [u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let n = write_dynamic(&mut out, size, blocks.iter().copied(), disk, &opts()).unwrap();
    assert_eq!(n, out.len() as u64);
    out
}

fn read_back(image: &[u8], size: u64) -> Result<(VhdInfo, Vec<u8>), Error> {
    let mut disk = vec![0u8; size as usize];
    let info = read(image, disk.as_mut_slice())?;
    Ok((info, disk))
}

#[test]
fn dynamic_round_trip_keeps_every_byte_and_only_allocated_blocks() {
    let size = 9 * MIB + 512; // five blocks, the last one partial
    let blocks = [0u64, 3, 4];
    let mut disk = disk_with(size, &blocks);
    let image = write(size, &blocks, &mut disk);
    assert_eq!(image.len() as u64, dynamic_size(size, 3));
    // 3 blocks of 2 MiB + bitmaps, not the 9 MiB disk
    assert!(image.len() < 7 * MIB as usize);
    let (info, back) = read_back(&image, size).unwrap();
    assert_eq!(back, disk);
    assert_eq!(
        info,
        VhdInfo {
            disk_type: DiskType::Dynamic,
            virtual_size: size,
            uuid: *b"0123456789abcdef",
            timestamp: 123_456,
            block_size: BLOCK_SIZE,
            allocated_blocks: 3,
        }
    );
}

#[test]
fn the_layout_is_the_specifications() {
    let size = 4 * MIB;
    let mut disk = disk_with(size, &[1]);
    let image = write(size, &[1], &mut disk);
    // footer copy, dynamic header at 512, BAT at 1536 padded to a sector
    assert_eq!(&image[0..8], b"conectix");
    assert_eq!(be64(&image, 16), 512);
    assert_eq!(be32(&image, 60), 3);
    assert_eq!(be64(&image, 40), size);
    assert_eq!(be64(&image, 48), size);
    assert_eq!(&image[512..520], b"cxsparse");
    assert_eq!(be64(&image, 512 + 8), u64::MAX);
    assert_eq!(be64(&image, 512 + 16), 1536);
    assert_eq!(be32(&image, 512 + 28), 2);
    assert_eq!(be32(&image, 512 + 32), BLOCK_SIZE);
    assert_eq!(be32(&image, 1536), UNUSED);
    assert_eq!(be32(&image, 1540), 2048 / 512); // first block right after the BAT sector
    assert_eq!(be32(&image, 1544), UNUSED); // padding
    let block = 2048 + 512; // past the bitmap
    assert!(image[2048..2560].iter().all(|b| *b == 0xFF));
    assert_eq!(&image[block..block + 16], &disk[2 << 20..(2 << 20) + 16]);
    // the footer at the end repeats the copy
    assert_eq!(&image[image.len() - 512..], &image[..512]);
    // checksums: ones' complement of the byte sum without the field
    assert_eq!(be32(&image, 64), checksum(&image[..512], 64..68));
    assert_eq!(be32(&image, 512 + 36), checksum(&image[512..1536], 36..40));
}

#[test]
fn geometry_follows_the_specifications_algorithm() {
    assert_eq!(geometry(1 << 30), (2080, 16, 63));
    assert_eq!(geometry(10 * MIB), (301, 4, 17)); // 20480 sectors / 17 / 4
    assert_eq!(geometry(3 << 40), (65535, 16, 255)); // capped
}

#[test]
fn writing_is_deterministic_and_ignores_order_and_repeats() {
    let size = 8 * MIB;
    let mut disk = disk_with(size, &[0, 2]);
    let a = write(size, &[0, 2], &mut disk);
    let b = write(size, &[2, 0, 2], &mut disk);
    assert_eq!(a, b);
}

#[test]
fn an_empty_disk_is_headers_bat_and_footer() {
    let image = write(64 * MIB, &[], &mut []);
    assert_eq!(image.len(), 512 + 1024 + 512 + 512);
    let (info, back) = read_back(&image, 64 * MIB).unwrap();
    assert_eq!(info.allocated_blocks, 0);
    assert!(back.iter().all(|b| *b == 0));
    let zero = write(0, &[], &mut []);
    assert_eq!(read_back(&zero, 0).unwrap().0.virtual_size, 0);
}

#[test]
fn the_writer_refuses_bad_sizes_and_blocks_beyond_the_end() {
    let mut out = Vec::new();
    let e = write_dynamic(&mut out, 1000, [], &mut [][..], &opts()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadSize);
    let e = write_dynamic(&mut out, 4 * MIB, [2u64], &mut [][..], &opts()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert!(e.to_string().contains("block 2"), "{e}");
    let e = write_dynamic(&mut out, MAX_SIZE + 512, [], &mut [][..], &opts()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadSize);
}

fn fixed_image(data: &[u8]) -> Vec<u8> {
    let mut image = data.to_vec();
    image.extend_from_slice(
        &Footer {
            data_offset: u64::MAX,
            timestamp: 9,
            current_size: data.len() as u64,
            disk_type: 2,
            uuid: [1; 16],
        }
        .encode(),
    );
    image
}

#[test]
fn a_fixed_vhd_reads_whole_across_buffer_boundaries() {
    for size in [
        0usize,
        512,
        BUFFER - 512,
        BUFFER,
        BUFFER + 512,
        3 * BUFFER + 1024,
    ] {
        let mut data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        if size > 4096 {
            data[1024..3072].fill(0); // a zero run the reader skips
        }
        let image = fixed_image(&data);
        let (info, back) = read_back(&image, size as u64).unwrap();
        assert_eq!(back, data, "size {size}");
        assert_eq!(info.disk_type, DiskType::Fixed);
        assert_eq!(info.virtual_size, size as u64);
        assert_eq!(info.uuid, [1; 16]);
    }
}

#[test]
fn a_fixed_vhd_whose_footer_disagrees_with_its_length_is_refused() {
    let mut image = fixed_image(&[5u8; 2048]);
    image.drain(..512);
    let e = read_back(&image, 2048).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadSize);
    assert!(e.to_string().contains("2048"), "{e}");
}

#[test]
fn raw_bytes_are_not_a_vhd() {
    let e = read_back(&[7u8; 4096], 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadCookie);
    assert!(e.to_string().contains("not a VHD"), "{e}");
    let e = read_back(&[7u8; 100], 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated);
}

fn sample() -> (Vec<u8>, Vec<u8>) {
    let size = 6 * MIB;
    let mut disk = disk_with(size, &[0, 2]);
    let image = write(size, &[0, 2], &mut disk);
    (image, disk)
}

/// Rewrites the footer (both copies) or the header with a valid checksum after `edit`.
fn patch_footer(image: &mut [u8], edit: impl Fn(&mut [u8])) {
    let len = image.len();
    for at in [0, len - 512] {
        let f = &mut image[at..at + 512];
        edit(f);
        let sum = checksum(f, 64..68);
        f[64..68].copy_from_slice(&sum.to_be_bytes());
    }
}

fn patch_header(image: &mut [u8], edit: impl Fn(&mut [u8])) {
    let h = &mut image[512..1536];
    edit(h);
    let sum = checksum(h, 36..40);
    h[36..40].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn malformed_dynamic_vhds_are_refused_clearly() {
    let (image, _) = sample();
    let kind = |image: &[u8]| read_back(image, 6 * MIB).unwrap_err();

    let mut bad = image.clone();
    bad[100] ^= 1; // inside the footer copy: checksum
    let e = kind(&bad);
    assert_eq!(e.kind(), ErrorKind::BadChecksum);
    assert!(e.to_string().contains("footer checksum"), "{e}");

    let mut bad = image.clone();
    bad[512 + 200] ^= 1;
    assert_eq!(kind(&bad).kind(), ErrorKind::BadChecksum);

    let mut bad = image.clone();
    bad[512] = b'X';
    assert_eq!(kind(&bad).kind(), ErrorKind::BadCookie);

    let mut bad = image.clone();
    patch_footer(&mut bad, |f| f[60..64].copy_from_slice(&4u32.to_be_bytes()));
    let e = kind(&bad);
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("differencing"), "{e}");

    let mut bad = image.clone();
    patch_footer(&mut bad, |f| {
        f[48..56].copy_from_slice(&1000u64.to_be_bytes())
    });
    assert_eq!(kind(&bad).kind(), ErrorKind::BadSize);

    // a disk bigger than the BAT covers
    let mut bad = image.clone();
    patch_footer(&mut bad, |f| {
        f[48..56].copy_from_slice(&(64 * MIB).to_be_bytes())
    });
    let e = kind(&bad);
    assert_eq!(e.kind(), ErrorKind::BadSize);
    assert!(e.to_string().contains("BAT"), "{e}");

    let mut bad = image.clone();
    patch_header(&mut bad, |h| {
        h[32..36].copy_from_slice(&3000u32.to_be_bytes())
    });
    assert_eq!(kind(&bad).kind(), ErrorKind::BadSize);

    let mut bad = image.clone();
    patch_header(&mut bad, |h| {
        h[28..32].copy_from_slice(&(MAX_BLOCKS + 1).to_be_bytes())
    });
    assert_eq!(kind(&bad).kind(), ErrorKind::BadSize);

    // the footer at the end differs from the copy
    let mut bad = image.clone();
    let at = bad.len() - 512 + 100;
    bad[at] ^= 1;
    assert_eq!(kind(&bad).kind(), ErrorKind::BadChecksum);
}

#[test]
fn a_block_beyond_the_disks_end_is_refused() {
    let (mut image, _) = sample();
    // 6 MiB: 3 blocks; grow the BAT's count and allocate entry 3 (the BAT sector has room)
    patch_header(&mut image, |h| {
        h[28..32].copy_from_slice(&4u32.to_be_bytes())
    });
    let first = be32(&image, 1536);
    image[1536 + 12..1536 + 16].copy_from_slice(&first.to_be_bytes());
    let e = read_back(&image, 6 * MIB).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert!(e.to_string().contains("block 3"), "{e}");
}

#[test]
fn overlapping_blocks_and_a_bat_after_the_data_are_not_streamable() {
    let (image, _) = sample();
    let mut bad = image.clone();
    let first = be32(&bad, 1536);
    bad[1536 + 8..1536 + 12].copy_from_slice(&first.to_be_bytes()); // block 2 = block 0
    let e = read_back(&bad, 6 * MIB).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotStreamable);
    assert!(e.to_string().contains("one pass"), "{e}");

    let mut bad = image.clone();
    bad[1536..1540].copy_from_slice(&2u32.to_be_bytes()); // block 0 inside the header
    assert_eq!(
        read_back(&bad, 6 * MIB).unwrap_err().kind(),
        ErrorKind::NotStreamable
    );

    let mut bad = image.clone();
    patch_header(&mut bad, |h| h[16..24].copy_from_slice(&0u64.to_be_bytes()));
    assert_eq!(
        read_back(&bad, 6 * MIB).unwrap_err().kind(),
        ErrorKind::NotStreamable
    );
}

#[test]
fn blocks_stored_out_of_index_order_are_read() {
    let (mut image, disk) = sample();
    // swap the two blocks' places in the file and their BAT entries
    let (a, b) = (be32(&image, 1536), be32(&image, 1544));
    let per = (bitmap_len(BLOCK_SIZE) + u64::from(BLOCK_SIZE)) as usize;
    let (pa, pb) = (a as usize * 512, b as usize * 512);
    let block_a = image[pa..pa + per].to_vec();
    let block_b = image[pb..pb + per].to_vec();
    image[pa..pa + per].copy_from_slice(&block_b);
    image[pb..pb + per].copy_from_slice(&block_a);
    image[1536..1540].copy_from_slice(&b.to_be_bytes());
    image[1544..1548].copy_from_slice(&a.to_be_bytes());
    let (_, back) = read_back(&image, 6 * MIB).unwrap();
    assert_eq!(back, disk);
}

#[test]
fn a_truncated_dynamic_vhd_is_refused() {
    let (image, _) = sample();
    for cut in [600, 1600, 3000, image.len() / 2, image.len() - 1] {
        let e = read_back(&image[..cut], 6 * MIB).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Truncated, "cut at {cut}: {e}");
    }
}

#[test]
fn the_bitmap_decides_which_sectors_are_written() {
    let (mut image, _) = sample();
    let at = be32(&image, 1536) as usize * 512;
    image[at] = 0x7F; // sector 0 of block 0 absent
    let mut sink: Vec<u8> = vec![0xEE; 6 * MIB as usize];
    read(image.as_slice(), &mut sink).unwrap();
    assert!(sink[..512].iter().all(|b| *b == 0xEE));
    assert_ne!(sink[512], 0xEE);
}

#[test]
fn errors_convert_for_io_and_the_client() {
    let e = read_back(&[0u8; 10], 0).unwrap_err();
    let io: io::Error = e.clone().into();
    assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof);
    let client: crate::Error = e.into();
    assert_eq!(client.kind(), crate::ErrorKind::InvalidArgument);
}

#[test]
fn timestamps_count_from_2000() {
    use std::time::{Duration, UNIX_EPOCH};
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_secs(EPOCH_OFFSET + 5)),
        5
    );
    assert_eq!(timestamp(UNIX_EPOCH), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_blocks_round_trip(blocks in proptest::collection::vec(0u64..6, 0..6), tail in 0u64..4) {
        let size = 10 * MIB + tail * 512 * 1000 + 512;
        let mut disk = disk_with(size, &blocks);
        let image = write(size, &blocks, &mut disk);
        let (info, back) = read_back(&image, size).unwrap();
        prop_assert_eq!(back, disk);
        let mut distinct = blocks.clone();
        distinct.sort_unstable();
        distinct.dedup();
        prop_assert_eq!(info.allocated_blocks as usize, distinct.len());
    }

    #[test]
    fn damaged_input_never_panics(edits in proptest::collection::vec((0usize..8192, any::<u8>()), 1..8), cut in 0usize..10_000) {
        let size = 4 * MIB;
        let mut disk = disk_with(size, &[1]);
        let mut image = write(size, &[1], &mut disk);
        let len = image.len();
        for (at, byte) in edits {
            // the headers, the BAT, the start of the block and the end
            let at = if at < 4096 { at } else { len - 1 - (at - 4096) % 512 };
            image[at] = byte;
        }
        let keep = len - cut.min(len);
        let mut sink = vec![0u8; size as usize];
        let _ = read(&image[..keep], sink.as_mut_slice());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000), cookie in any::<bool>()) {
        let mut bytes = bytes;
        if cookie && bytes.len() >= 8 {
            bytes[..8].copy_from_slice(b"conectix");
        }
        let mut sink = Vec::new();
        let _ = read(bytes.as_slice(), &mut sink);
    }
}

/// Both directions against another implementation: qemu-img's `vpc` driver. Needs qemu-img
/// (Debian's qemu-utils, which `scripts/deps.sh` does not install); without it the test says so
/// and checks nothing.
#[test]
fn qemu_img_reads_ours_and_we_read_its() {
    use std::process::Command;
    if Command::new("qemu-img").arg("--version").output().is_err() {
        eprintln!("qemu-img not found: VHD interoperability NOT checked");
        return;
    }
    let dir = std::env::temp_dir().join(format!("xenapi-vhd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let size = 10 * MIB;
    let mut disk = disk_with(size, &[1, 4]);
    disk[100] = 7;
    let raw = dir.join("disk.raw");
    std::fs::write(&raw, &disk).unwrap();
    let qemu = |args: &[&str]| {
        let out = Command::new("qemu-img").args(args).output().unwrap();
        assert!(out.status.success(), "qemu-img {args:?}: {out:?}");
    };
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();

    // ours, read by qemu-img
    let ours = write(size, &[0, 1, 4], &mut disk);
    std::fs::write(dir.join("ours.vhd"), &ours).unwrap();
    qemu(&[
        "convert",
        "-f",
        "vpc",
        "-O",
        "raw",
        &path("ours.vhd"),
        &path("q.raw"),
    ]);
    assert_eq!(std::fs::read(dir.join("q.raw")).unwrap(), disk);

    // qemu-img's, dynamic and fixed, read by us
    for sub in ["dynamic", "fixed"] {
        let name = format!("{sub}.vhd");
        let options = format!("subformat={sub},force_size=on");
        qemu(&[
            "convert",
            "-f",
            "raw",
            "-O",
            "vpc",
            "-o",
            &options,
            &path("disk.raw"),
            &path(&name),
        ]);
        let image = std::fs::read(dir.join(&name)).unwrap();
        let (info, back) = read_back(&image, size).unwrap();
        assert_eq!(info.virtual_size, size, "{sub}");
        assert_eq!(back, disk, "{sub}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
