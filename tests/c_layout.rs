//! The libipvs struct layouts of tests/c/layout.c (static assertions on sizes and offsets)
//! hold in the committed headers, checked on the host by compiling it; and an assertion
//! that is false fails the compile, so the check cannot pass by being skipped.

use std::path::Path;
use std::process::Output;

#[path = "support/c_syntax.rs"]
mod c_syntax;

fn compile(source: &str) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let include = |dir: &str| [Path::new("-I").to_path_buf(), root.join(dir)];
    c_syntax::check_c(
        source,
        include("include").into_iter().chain(include("tests/c")),
    )
}

fn layout_c() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/layout.c")).unwrap()
}

#[test]
fn the_headers_have_libipvs_layouts() {
    let out = compile(&layout_c());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wrong_size_or_offset_fails_the_compile() {
    for (wrong, message) in [
        ("LAYOUT(ipvs_service_t, 83);", "sizeof ipvs_service_t"),
        ("AT(ipvs_dest_t, weight, 16);", "ipvs_dest_t.weight"),
    ] {
        let out = compile(&format!("{}\n{wrong}\n", layout_c()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{wrong} compiled");
        assert!(stderr.contains(message), "{wrong}: {stderr}");
    }
}
