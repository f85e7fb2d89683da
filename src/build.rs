//! Gives the shared library its SONAME, so programs record `libipvsrs.so.<major>` and
//! keep working across compatible updates.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libipvsrs.so.{major}");
    // Only this file (and the version, which cargo tracks) matters: without the line, any
    // new file in the tree, such as make deb's debian/changelog, would rebuild the crate.
    println!("cargo:rerun-if-changed=src/build.rs");
}
