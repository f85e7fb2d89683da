//! Gives the shared library its SONAME, so programs record `libipvsrs.so.<major>` and
//! keep working across compatible updates.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libipvsrs.so.{major}");
}
