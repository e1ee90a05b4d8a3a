//! Generates `include/xenapi.h` from the `xenapi-ffi` sources with the cbindgen library, so no
//! global `cbindgen` install is needed.
//!
//! ```text
//! cargo run -p xenapi-ffi-header                 # write include/xenapi.h
//! cargo run -p xenapi-ffi-header -- --check      # fail if include/xenapi.h is stale
//! cargo run -p xenapi-ffi-header -- --output F   # write F instead
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const PREAMBLE: &str = include_str!("../preamble.h");

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let mut check = false;
    let mut output: PathBuf = root.join("include/xenapi.h");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--check" => check = true,
            "--output" | "-o" => match args.next() {
                Some(p) => output = p.into(),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let text = match generate(&root.join("ffi")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("xenapi-ffi-header: {e}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        let current = std::fs::read_to_string(&output).unwrap_or_default();
        if current != text {
            eprintln!(
                "xenapi-ffi-header: {} is stale; run `make ffi-header` and commit it",
                output.display()
            );
            return ExitCode::FAILURE;
        }
        println!("{} is up to date", output.display());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = std::fs::write(&output, text) {
        eprintln!("xenapi-ffi-header: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", output.display());
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: xenapi-ffi-header [--check] [--output FILE]");
    ExitCode::from(2)
}

fn generate(ffi: &Path) -> Result<String, String> {
    let mut config = cbindgen::Config::from_file(ffi.join("cbindgen.toml"))?;
    // The library's version (the workspace version, shared by this crate) as macros.
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split(['.', '-']);
    let mut next = || parts.next().unwrap_or("0").to_owned();
    let (major, minor, patch) = (next(), next(), next());
    // The ABI's major version: the soname's number (libxenapi.so.N), kept in ffi/abi/MAJOR.
    let abi_path = ffi.join("abi/MAJOR");
    let abi = std::fs::read_to_string(&abi_path)
        .map_err(|e| format!("cannot read {}: {e}", abi_path.display()))?;
    let abi = abi.trim();
    if abi.is_empty() || !abi.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{} must hold one number, not {abi:?}",
            abi_path.display()
        ));
    }
    config.header = Some(PREAMBLE.trim_end().to_owned());
    config.after_includes = Some(format!(
        "\n/** The version of the header; compare with xenapi_version() at run time. */\n\
         #define XENAPI_VERSION \"{version}\"\n\
         #define XENAPI_VERSION_MAJOR {major}\n\
         #define XENAPI_VERSION_MINOR {minor}\n\
         #define XENAPI_VERSION_PATCH {patch}\n\n\
         /** The ABI's major version: the N of the soname libxenapi.so.N; it changes on every \
         incompatible change. */\n\
         #define XENAPI_ABI_MAJOR {abi}\n\n\
         /** A list of strings (hand-written; also every generated `string set` and `<class> ref set`). */\n\
         typedef struct xenapi_string_list xenapi_string_list;"
    ));
    // The generated API (`include/xenapi/`, from `cargo run -p xenapi-codegen`), after every
    // hand-written declaration it uses: a program includes xenapi.h alone.
    config.trailer = Some(
        "/* The generated API: every XenAPI class, record, enum, list, map and error code. */\n\
         #include \"xenapi/api.h\""
            .to_owned(),
    );
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(ffi.join("src/lib.rs"))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    bindings.write(&mut buf);
    String::from_utf8(buf).map_err(|e| e.to_string())
}
