//! ipvsrs.h builds beside the kernel's <linux/ip_vs.h> and <linux/netfilter.h>, before
//! them or after, with -Wall -Wextra -Werror, included as `<ipvsrs/ipvsrs.h>`, and the
//! constants both define agree (tests/c/coexist.c); the kernel's own names clash with
//! it in neither order.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[path = "support/c_syntax.rs"]
mod c_syntax;

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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/coexist.c");
    let source = std::fs::read_to_string(path).unwrap() + extra;
    let mut args: Vec<&OsStr> = vec![OsStr::new("-Wextra"), OsStr::new("-I")];
    args.push(include_root().as_os_str());
    args.extend(defines.iter().map(OsStr::new));
    c_syntax::check_c(&source, args)
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
