//! HTTPS against the simulator's self-signed certificate: pin, CA file, insecure, and the
//! default verification that must refuse it.

use std::path::PathBuf;
use std::time::Duration;

use xenapi::{ErrorKind, Options, Session, TlsPolicy};
use xenapi_tests::*;

fn tls_sim(d: Dialect) -> Running {
    sim_with(d, |c| c.tls = true)
}

fn opts(sim: &Running, policy: TlsPolicy) -> Options {
    Options::new(sim.url())
        .tls(policy)
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(5))
}

fn works(sim: &Running, policy: TlsPolicy) {
    let s = Session::connect(opts(sim, policy.clone()), "root", "password")
        .unwrap_or_else(|e| panic!("{policy:?}: {e}"));
    assert_eq!(
        s.call("VM.get_all", vec![])
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        5
    );
    s.logout().unwrap();
}

#[test]
fn the_sim_serves_https() {
    let sim = tls_sim(Dialect::Xapi);
    assert!(sim.url().starts_with("https://"), "{}", sim.url());
    assert!(sim.fingerprint().is_some());
    assert!(sim.cert_pem().unwrap().contains("BEGIN CERTIFICATE"));
}

#[test]
fn pinned_fingerprint_works_and_a_wrong_pin_fails() {
    for d in DIALECTS {
        let sim = tls_sim(d);
        let fp = sim.fingerprint().unwrap().to_owned();
        works(&sim, TlsPolicy::fingerprint(&fp).unwrap());
        // Also lowercase and without colons.
        works(
            &sim,
            TlsPolicy::fingerprint(&fp.replace(':', "").to_ascii_lowercase()).unwrap(),
        );
        let mut wrong = TlsPolicy::fingerprint(&fp).unwrap();
        if let TlsPolicy::Fingerprint(bytes) = &mut wrong {
            bytes[31] ^= 1;
        }
        let e = expect_kind(
            Session::connect(opts(&sim, wrong), "root", "password"),
            ErrorKind::Tls,
        );
        assert!(
            e.to_string().contains(&sim.url()) || e.to_string().contains("127.0.0.1"),
            "{e}"
        );
        assert_eq!(sim.stats().logins, 2, "the wrong pin never logged in");
    }
}

#[test]
fn ca_file_from_the_sims_certificate_works() {
    let sim = tls_sim(Dialect::Xapi);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "xenapi-itests-ca-{}-{}.pem",
        std::process::id(),
        sim.addr().port()
    ));
    std::fs::write(&path, sim.cert_pem().unwrap()).unwrap();
    works(&sim, TlsPolicy::CaFile(path.clone()));
    // The certificate of another simulator is not this one's CA.
    let other = tls_sim(Dialect::Xapi);
    expect_kind(
        Session::connect(
            opts(&other, TlsPolicy::CaFile(path.clone())),
            "root",
            "password",
        ),
        ErrorKind::Tls,
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn ca_file_written_by_the_sim_itself_works() {
    let path: PathBuf =
        std::env::temp_dir().join(format!("xenapi-itests-certout-{}.pem", std::process::id()));
    let sim = sim_with(Dialect::Xend, |c| {
        c.tls = true;
        c.cert_out = Some(path.clone());
    });
    works(&sim, TlsPolicy::CaFile(path.clone()));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn insecure_works() {
    for d in DIALECTS {
        let sim = tls_sim(d);
        works(&sim, TlsPolicy::InsecureSkipVerify);
    }
}

#[test]
fn default_verification_refuses_a_self_signed_certificate() {
    let sim = tls_sim(Dialect::Xapi);
    let e = expect_kind(
        Session::connect(opts(&sim, TlsPolicy::Verify), "root", "password"),
        ErrorKind::Tls,
    );
    assert!(!e.to_string().is_empty());
    assert_eq!(sim.stats().logins, 0);
    // Options::new defaults to verification.
    let e = Session::connect(
        Options::new(sim.url()).timeout(Duration::from_secs(10)),
        "root",
        "password",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e:?}");
}

#[test]
fn plain_http_to_a_tls_port_fails_cleanly() {
    let sim = tls_sim(Dialect::Xapi);
    let url = sim.url().replacen("https://", "http://", 1);
    let e = Session::connect(
        Options::new(url).timeout(Duration::from_secs(5)),
        "root",
        "password",
    )
    .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Connect | ErrorKind::Protocol | ErrorKind::Http
        ),
        "{e:?}"
    );
}

#[test]
fn coordinator_redirect_keeps_the_pin() {
    let sim = sim_with(Dialect::Xapi, |c| {
        c.tls = true;
        c.hosts = 2;
    });
    let fp = sim.fingerprint().unwrap().to_owned();
    let member = &sim.member_urls()[0];
    assert!(member.starts_with("https://"));
    let s = Session::connect(
        Options::new(member)
            .tls(TlsPolicy::fingerprint(&fp).unwrap())
            .timeout(Duration::from_secs(10)),
        "root",
        "password",
    )
    .unwrap();
    assert_eq!(s.url(), sim.url());
    s.call("VM.get_all", vec![]).unwrap();
}
