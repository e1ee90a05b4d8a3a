//! `xenapi-sim run -- CMD` and `--save` on SIGTERM, through the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_xenapi-sim");

#[test]
fn run_exports_the_url_and_exits_with_the_commands_status() {
    let out = Command::new(BIN)
        .args([
            "run",
            "--vms",
            "2",
            "--user",
            "admin",
            "--password",
            "pw",
            "--",
        ])
        .args([
            "sh",
            "-c",
            "echo \"$XENAPI_URL $XENAPI_USER $XENAPI_PASSWORD\"; exit 7",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(7));
    let line = String::from_utf8_lossy(&out.stdout);
    let mut words = line.split_whitespace();
    let url = words.next().expect("a URL");
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    assert!(
        !url.ends_with(":9363"),
        "a free port, not the default: {url}"
    );
    assert_eq!(words.next(), Some("admin"));
    assert_eq!(words.next(), Some("pw"));

    let out = Command::new(BIN)
        .args(["run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = Command::new(BIN)
        .args(["run", "--vms", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
    let out = Command::new(BIN)
        .args(["run", "--", "/nonexistent/command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
}

#[cfg(unix)]
#[test]
fn sigterm_saves_the_pool_and_the_saved_pool_loads() {
    let path = std::env::temp_dir().join(format!("xenapi-sim-save-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--vms",
            "3",
            "--templates",
            "2",
            "--save",
        ])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on "), "{line}");
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "xenapi-sim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&path).expect("saved");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "xenapi-sim inventory 1");
    // Control domain, 3 guests, 2 templates.
    assert_eq!(doc["objects"]["VM"].as_array().unwrap().len(), 6);

    let out = Command::new(BIN)
        .arg("run")
        .arg("--state")
        .arg(&path)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&path).ok();
}

/// What the project's C and C# tests read: the dialect, the TLS pin and CA file, the pool
/// members, and `--env NAME` for a second simulator around the first.
#[test]
fn run_exports_tls_members_and_named_simulators() {
    let out = Command::new(BIN)
        .args([
            "run", "--env", "XEND", "--dialect", "xend", "--tls", "--hosts", "2", "--",
        ])
        .args([BIN, "run", "--vms", "1", "--"])
        .args([
            "sh",
            "-c",
            "echo \"$XENAPI_URL|$XENAPI_DIALECT|$XENAPI_MEMBER_URLS|${XENAPI_FINGERPRINT-unset}\"; \
             echo \"$XEND_URL|$XEND_DIALECT|$XEND_MEMBER_URLS|$XEND_FINGERPRINT\"; \
             head -n 1 \"$XEND_CA_FILE\"; echo \"$XEND_CA_FILE\"",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let inner: Vec<&str> = lines[0].split('|').collect();
    assert!(inner[0].starts_with("http://127.0.0.1:"), "{text}");
    assert_eq!(&inner[1..], ["xapi", "", "unset"], "{text}");
    let outer: Vec<&str> = lines[1].split('|').collect();
    assert!(outer[0].starts_with("https://127.0.0.1:"), "{text}");
    assert_eq!(outer[1], "xend");
    // The member listens on its own loopback address at the coordinator's port.
    let port = outer[0].rsplit(':').next().unwrap_or("?");
    assert_eq!(outer[2], format!("https://127.0.0.2:{port}"), "{text}");
    assert_eq!(outer[3].len(), 32 * 3 - 1, "a SHA-256 as AA:BB:…: {text}");
    assert_eq!(lines[2], "-----BEGIN CERTIFICATE-----");
    assert!(
        !std::path::Path::new(lines[3]).exists(),
        "run removes the certificate file it wrote"
    );
    let bad = Command::new(BIN)
        .args(["run", "--env", "lower", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
