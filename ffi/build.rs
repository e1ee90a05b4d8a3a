//! Gives libxenapi.so a soname carrying the ABI's major version, so programs linked against it
//! keep working across compatible updates (`libxenapi.so.0`).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "freebsd" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxenapi.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
