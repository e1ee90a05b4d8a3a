//! The default policy (`TlsPolicy::Verify`) trusts what the system trusts: a company CA made
//! here (rcgen) signs the simulator's certificate, and the client, with no TLS option at all,
//! accepts it when the CA is given through `SSL_CERT_FILE`, through `SSL_CERT_DIR` (c_rehash
//! names), or installed the way an administrator does it (`update-ca-certificates`), and refuses
//! it, naming the store it consulted, when it is not installed.
//!
//! The variables are process-wide and the system store is shared, so each client runs in a child
//! process (this test binary again, running [`child_process_body`]) with its own environment,
//! and the tests that start children take one lock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use xenapi::api::{Pool, Vdi, VdiRecord};
use xenapi::transfer::{self, Control, DiskFormat};
use xenapi::{Options, Session};
use xenapi_tests::*;

/// Set in a child: the simulator's URL to connect to.
const CHILD_URL: &str = "XENAPI_SYSTEM_TRUST_URL";
/// Set in a child: after the session is up, point `SSL_CERT_FILE` here and try a transfer.
const CHILD_THEN_FILE: &str = "XENAPI_SYSTEM_TRUST_THEN_FILE";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A CA and a server certificate it signed for the loopback names.
struct Pki {
    ca_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

fn make_pki(org: &str) -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, org);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{org} Root CA"));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pool coordinator");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        leaf_pem: leaf.pem(),
        leaf_key_pem: leaf_key.serialize_pem(),
    }
}

fn sim_signed_by(pki: &Pki) -> Running {
    let sim = sim_with(Dialect::Xapi, |c| {
        c.tls = true;
        c.tls_identity = Some((pki.leaf_pem.clone(), pki.leaf_key_pem.clone()));
    });
    assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());
    sim
}

/// A fresh directory for this test's files.
fn scratch(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("xenapi-system-trust-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a child process saw.
#[derive(Debug)]
struct Seen {
    /// `Ok` when the session came up (and a transfer went through); `Err` with the error.
    connect: Result<(), String>,
    /// With [`CHILD_THEN_FILE`]: the transfer's error after the store changed.
    transfer_after: Option<Result<(), String>>,
}

/// Runs [`child_process_body`] against `url` with `SSL_CERT_FILE`/`SSL_CERT_DIR` removed, then
/// `env` set.
fn in_child(url: &str, env: &[(&str, &Path)]) -> Seen {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "child_process_body",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_URL, url)
    .env_remove("SSL_CERT_FILE")
    .env_remove("SSL_CERT_DIR")
    .env_remove(CHILD_THEN_FILE);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // The harness prints "test child_process_body ... " before the body's first line.
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |tag: &str| {
        stdout
            .lines()
            .find_map(|l| l.find(tag).map(|at| &l[at + tag.len()..]))
            .map(|rest| match rest.strip_prefix("ok") {
                Some(_) => Ok(()),
                None => Err(rest.trim_start_matches("err ").to_owned()),
            })
    };
    Seen {
        connect: line("CONNECT: ")
            .unwrap_or_else(|| panic!("no outcome from the child:\n{stdout}")),
        transfer_after: line("TRANSFER-AFTER: "),
    }
}

fn new_vdi(s: &Session, size: u64) -> xenapi::Ref<Vdi> {
    let pool = Pool::get_all(s).unwrap().remove(0);
    let sr = Pool::get_default_sr(s, &pool).unwrap();
    let rec = VdiRecord {
        name_label: "system trust".into(),
        sr,
        virtual_size: size as i64,
        type_: xenapi::api::VdiType::User,
        ..VdiRecord::default()
    };
    Vdi::create(s, &rec).unwrap()
}

fn round_trip(s: &Session, vdi: &xenapi::Ref<Vdi>) -> xenapi::Result<()> {
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7) as u8).collect();
    transfer::import_vdi(
        s,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut &data[..],
        Some(data.len() as u64),
        Control::default(),
    )?;
    let mut back = Vec::new();
    transfer::export_vdi(
        s,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut back,
        Control::default(),
    )?;
    assert!(back == data, "the disk came back different");
    Ok(())
}

/// Not a test on its own: the body of the child processes the tests start (does nothing unless
/// [`CHILD_URL`] is set). Connects with the default options, then moves a disk both ways over
/// the raw transfer connection, and prints what happened.
#[test]
fn child_process_body() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let options = Options::new(url)
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(5));
    let s = match Session::connect(options, "root", "password") {
        Ok(s) => s,
        Err(e) => {
            println!("CONNECT: err {:?}: {e}", e.kind());
            return;
        }
    };
    let vdi = new_vdi(&s, 1 << 20);
    match round_trip(&s, &vdi) {
        Ok(()) => println!("CONNECT: ok"),
        Err(e) => println!("CONNECT: err the transfer failed: {:?}: {e}", e.kind()),
    }
    if let Ok(other) = std::env::var(CHILD_THEN_FILE) {
        // This child is single-threaded here: no other thread reads the environment.
        std::env::set_var("SSL_CERT_FILE", other);
        match round_trip(&s, &vdi) {
            Ok(()) => println!("TRANSFER-AFTER: ok"),
            Err(e) => println!("TRANSFER-AFTER: err {:?}: {e}", e.kind()),
        }
    }
    let _ = s.logout();
}

fn assert_refused_naming(seen: &Seen, store: &str) {
    let e = seen
        .connect
        .as_ref()
        .expect_err("the certificate was accepted");
    assert!(e.starts_with("Tls:"), "{e}");
    assert!(e.contains("not trusted"), "{e}");
    assert!(e.contains(store), "the error does not name {store}: {e}");
}

#[test]
fn trusted_through_ssl_cert_file_for_calls_and_transfers() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch("file");
    let pki = make_pki("Example Corp");
    let ca = dir.join("company-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let stranger = dir.join("another-ca.pem");
    std::fs::write(&stranger, make_pki("Someone Else").ca_pem).unwrap();
    let sim = sim_signed_by(&pki);

    let seen = in_child(
        &sim.url(),
        &[("SSL_CERT_FILE", &ca), (CHILD_THEN_FILE, &stranger)],
    );
    assert_eq!(seen.connect, Ok(()), "{seen:?}");
    // The raw transfer connection builds its verifier the same way: a store that does not hold
    // the CA refuses it there too, named.
    let after = seen.transfer_after.expect("the child tried the transfer");
    let e = after.expect_err("the transfer trusted a CA its store does not hold");
    assert!(e.starts_with("Tls:"), "{e}");
    assert!(
        e.contains(&format!("SSL_CERT_FILE={}", stranger.display())),
        "{e}"
    );

    // A file that holds another CA: refused, and the error names the variable and the file.
    let seen = in_child(&sim.url(), &[("SSL_CERT_FILE", &stranger)]);
    assert_refused_naming(&seen, &format!("SSL_CERT_FILE={}", stranger.display()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `openssl x509 -hash`: the subject hash OpenSSL looks certificates up by in a directory.
fn subject_hash(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-hash", "-noout", "-in"])
        .arg(pem)
        .output()
        .expect("openssl (the command) is installed");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn trusted_through_ssl_cert_dir_with_hashed_names() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch("dir");
    let pki = make_pki("Example Corp");
    // The CA lives outside the directory; the directory holds only its c_rehash link.
    let ca = dir.join("company-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let certs = dir.join("certs");
    std::fs::create_dir(&certs).unwrap();
    let hash = subject_hash(&ca);
    assert_eq!(hash.len(), 8, "{hash}");
    std::os::unix::fs::symlink(&ca, certs.join(format!("{hash}.0"))).unwrap();
    let sim = sim_signed_by(&pki);

    let seen = in_child(&sim.url(), &[("SSL_CERT_DIR", &certs)]);
    assert_eq!(seen.connect, Ok(()), "{seen:?}");

    // A directory without it: refused, naming the directory.
    let empty = dir.join("other-certs");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("x.pem"), make_pki("Someone Else").ca_pem).unwrap();
    let seen = in_child(&sim.url(), &[("SSL_CERT_DIR", &empty)]);
    assert_refused_naming(&seen, &format!("SSL_CERT_DIR={}", empty.display()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The system bundle update-ca-certificates writes (Debian, Ubuntu).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn update_ca_certificates() {
    let out = Command::new("update-ca-certificates")
        .output()
        .expect("update-ca-certificates (Debian package ca-certificates) is installed");
    assert!(out.status.success(), "update-ca-certificates: {out:?}");
}

/// Removes the installed CA and rebuilds the store, also when the test fails.
struct Installed(PathBuf);

impl Drop for Installed {
    fn drop(&mut self) {
        if std::fs::remove_file(&self.0).is_ok() {
            update_ca_certificates();
        }
    }
}

#[test]
fn installed_by_update_ca_certificates_it_is_trusted_and_removed_it_is_refused() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let pki = make_pki("Example Corp");
    let sim = sim_signed_by(&pki);

    // Not installed: refused, naming the system's store.
    let seen = in_child(&sim.url(), &[]);
    assert_refused_naming(&seen, "the system's certificates (");
    if Path::new(SYSTEM_BUNDLE).exists() {
        assert_refused_naming(&seen, SYSTEM_BUNDLE);
    }

    if !is_root() {
        eprintln!(
            "SKIPPED the installed-CA half of this test: installing a CA with \
             update-ca-certificates needs root (CI runs as root)"
        );
        return;
    }
    let local = Path::new("/usr/local/share/ca-certificates");
    std::fs::create_dir_all(local).unwrap();
    let installed = Installed(local.join(format!("xenapi-test-{}.crt", std::process::id())));
    std::fs::write(&installed.0, &pki.ca_pem).unwrap();
    update_ca_certificates();
    assert!(
        std::fs::read_to_string(SYSTEM_BUNDLE)
            .unwrap()
            .contains(pki.ca_pem.lines().nth(1).unwrap()),
        "update-ca-certificates did not add the CA to {SYSTEM_BUNDLE}"
    );

    let seen = in_child(&sim.url(), &[]);
    assert_eq!(seen.connect, Ok(()), "{seen:?}");

    // Removed again (what the guard does at the end): refused again.
    drop(installed);
    let seen = in_child(&sim.url(), &[]);
    assert_refused_naming(&seen, "the system's certificates (");
}

#[test]
fn a_store_with_no_certificate_falls_back_to_the_mozilla_roots_and_says_so() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch("empty");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let sim = sim_signed_by(&make_pki("Example Corp"));
    let seen = in_child(&sim.url(), &[("SSL_CERT_FILE", &empty)]);
    assert_refused_naming(&seen, "the bundled Mozilla roots");
    assert_refused_naming(
        &seen,
        &format!(
            "no certificate found in the certificates of SSL_CERT_FILE={}",
            empty.display()
        ),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
