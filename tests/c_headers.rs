//! ipvsrs.h builds beside the kernel's <linux/ip_vs.h> and <linux/netfilter.h>, before
//! them or after, with -Wall -Wextra -Werror, included as `<ipvsrs/ipvsrs.h>`, and the
//! constants both define agree (tests/c/coexist.c); the kernel's own names clash with
//! it in neither order.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A directory whose `ipvsrs/` is the repository's include/, as an install lays it out;
/// made once for the tests of this binary, which run on several threads.
fn include_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("ipvsrs-headers-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
        std::os::unix::fs::symlink(include, root.join("ipvsrs")).unwrap();
        root
    })
}

/// Compiles tests/c/coexist.c, with `extra` appended, and `defines`.
fn compile(defines: &[&str], extra: &str) -> std::process::Output {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/coexist.c");
    let source = std::fs::read_to_string(path).unwrap() + extra;
    let mut child = Command::new(cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
        .args(defines)
        .arg("-I")
        .arg(include_root())
        .args(["-x", "c", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the C compiler");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_native_header_builds_beside_the_kernels_in_either_order() {
    for defines in [&[][..], &["-DIPVSRS_FIRST"]] {
        let out = compile(defines, "");
        assert!(
            out.status.success(),
            "{defines:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_comparison_of_constants_is_compiled() {
    // The check cannot pass by being skipped: a false one fails the build.
    let wrong = "\n_Static_assert(IPVSRS_CONN_F_DROUTE == IP_VS_CONN_F_TUNNEL, \"wrong\");\n";
    let out = compile(&["-DIPVSRS_FIRST"], wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("wrong"),
        "{stderr}"
    );
}
