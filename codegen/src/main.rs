//! `xenapi-codegen`: generates the typed XenAPI layers from `spec/datamodel.json` and
//! `spec/errors.json`.
//!
//! ```text
//! cargo run -p xenapi-codegen            # regenerate every file
//! cargo run -p xenapi-codegen -- --check # list stale files, exit 1 if any
//! ```
//!
//! [`model`] (crate `xenapi-spec`) parses the datamodel once; each backend ([`rust`], [`python`],
//! [`c`], [`csharp`]) turns the model into `(path, contents)` pairs; this file formats (`.rs`
//! files, with rustfmt), compares and writes them.

mod abi;
mod c;
mod csharp;
mod http_actions;
mod naming;
mod overloads;
mod python;
mod rust;

/// The parsed datamodel, shared with the simulator (crate `xenapi-spec`).
use xenapi_spec as model;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Directories whose files of the listed extensions are all generated: a file there that the
/// generator no longer writes is stale.
const GENERATED_DIRS: &[(&str, &[&str])] = &[
    ("core/src/api", &["rs"]),
    ("ffi/src/api", &["rs"]),
    ("include/xenapi", &["h"]),
    ("dotnet/src/Generated", &["cs"]),
    ("dotnet/tests/Generated", &["cs"]),
];

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some("--coverage") => return coverage(),
        Some(other) => {
            eprintln!("usage: xenapi-codegen [--check | --coverage]  (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xenapi-codegen: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints, per binding, how many of the datamodel's messages have a typed function or method;
/// fails if a binding misses one.
fn coverage() -> ExitCode {
    let model = match model::Model::embedded() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("xenapi-codegen: {e}");
            return ExitCode::from(2);
        }
    };
    let rows = [
        (
            "Rust",
            rust::coverage(&model),
            "xenapi::api, logins on xenapi::Session",
        ),
        (
            "C",
            c::coverage(&model),
            "include/xenapi.h, logins on xenapi_session",
        ),
        (
            "C#",
            csharp::coverage(&model),
            "namespace XenAPI, logins on Session",
        ),
        (
            "Python",
            python::coverage(&model),
            "typed in the stubs; every message is callable, as with XenAPI.py",
        ),
    ];
    println!("typed messages of the datamodel, per binding:");
    let mut complete = true;
    for (name, (covered, total), what) in rows {
        println!("  {name:<7}{covered:>5} of {total}  ({what})");
        complete &= covered == total;
    }
    // The C and C# outputs are counted as generated, with the committed enum table.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let table = std::fs::read_to_string(root.join(abi::TABLE))
        .map_err(|e| format!("{}: {e}", abi::TABLE))
        .and_then(|text| abi::EnumTable::parse(&text, abi::TABLE));
    let table = match table {
        Ok(t) => t.extended(&model),
        Err(e) => {
            eprintln!("xenapi-codegen: {e}");
            return ExitCode::from(2);
        }
    };
    println!("parameter defaults of the datamodel, per binding (generated output counted):");
    for (name, (found, expected), what) in overloads::coverage(&model, &table) {
        println!("  {name:<7}{found:>5} of {expected}  ({what})");
        complete &= found == expected;
    }
    if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Generates everything; writes it, or (`check`) reports what differs. Returns whether the tree
/// is up to date.
fn run(check: bool) -> Result<bool, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no repository root")?
        .to_path_buf();
    let json = |name: &str| -> Result<serde_json::Value, String> {
        let path = root.join("spec").join(name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let model = model::Model::parse(&json("datamodel.json")?, &json("errors.json")?)?;

    // The C enum numbers: the committed table, extended with new datamodel values, never
    // losing or moving one the last release had.
    let read = |rel: &str| -> Result<String, String> {
        std::fs::read_to_string(root.join(rel)).map_err(|e| format!("{rel}: {e}"))
    };
    let table = abi::EnumTable::parse(&read(abi::TABLE)?, abi::TABLE)?.extended(&model);
    table.check_extends(&abi::EnumTable::parse(
        &read(abi::RELEASED)?,
        abi::RELEASED,
    )?)?;

    let mut files = rust::generate(&model);
    files.extend(python::generate(&model));
    files.extend(c::generate(&model, &table));
    files.extend(csharp::generate(&model, &table));
    files.push(http_actions::generate(&json("http_actions.json")?)?);
    files.push((abi::TABLE.to_owned(), table.to_json()));
    let written: BTreeSet<PathBuf> = files.iter().map(|(p, _)| root.join(p)).collect();
    let mut stale = Vec::new();
    for (rel, text) in &files {
        let text = if rel.ends_with(".rs") {
            rustfmt(text, &root).map_err(|e| format!("{rel}: {e}"))?
        } else {
            text.clone()
        };
        let path = root.join(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        stale.push(rel.clone());
        if !check {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    for (dir, exts) in GENERATED_DIRS {
        let entries = match std::fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            // Not written yet (`--check` before the first generation): every file is stale.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{dir}: {e}")),
        };
        let mut extra: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) && !written.contains(p)
            })
            .collect();
        extra.sort();
        for path in extra {
            stale.push(format!("{} (no longer generated)", path.display()));
            if !check {
                std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    if check {
        for s in &stale {
            eprintln!("stale: {s}");
        }
        if !stale.is_empty() {
            eprintln!("run `cargo run -p xenapi-codegen` and commit the result");
        }
    } else {
        let (c_covered, c_total) = c::coverage(&model);
        let (covered, total) = csharp::coverage(&model);
        eprintln!(
            "xenapi-codegen: {} files, {} updated; C API: {c_covered} of {c_total} messages; \
             C#: {covered} of {total}",
            files.len(),
            stale.len()
        );
    }
    Ok(stale.is_empty() || !check)
}

/// Formats Rust source with the toolchain's rustfmt (`$RUSTFMT`, else `rustfmt` on the path),
/// with the repository's rustfmt configuration, if it has one, as `cargo fmt` would.
fn rustfmt(source: &str, root: &Path) -> Result<String, String> {
    let bin = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned());
    let mut cmd = Command::new(&bin);
    cmd.args(["--edition", "2021", "--emit", "stdout", "--quiet"]);
    if ["rustfmt.toml", ".rustfmt.toml"]
        .iter()
        .any(|f| root.join(f).exists())
    {
        cmd.arg("--config-path").arg(root);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer
        .join()
        .map_err(|_| "writer panicked")?
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}
