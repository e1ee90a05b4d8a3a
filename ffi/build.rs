//! Gives libxenapi.so a soname carrying the ABI's major version (`libxenapi.so.1`), kept in
//! `ffi/abi/MAJOR` apart from the crate version: it moves only on an incompatible change, so
//! programs linked against the library keep working across compatible updates.

fn main() {
    let path =
        std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("abi/MAJOR");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the ABI major version {}: {e}", path.display()));
    let major: u32 = text.trim().parse().unwrap_or_else(|_| {
        panic!(
            "{} must hold one number (the ABI major version), not {text:?}",
            path.display()
        )
    });
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "freebsd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxenapi.so.{major}");
    }
}
