//! The Python ctypes module (c-examples/python/ipvsrs.py) and its unittest suite
//! (tests/python/test_ipvsrs.py), run in a fresh namespace against the library that
//! `make c-tests` installed into a DESTDIR stage.

use std::path::{Path, PathBuf};

use crate::support::Netns;

/// The test cases of tests/python/test_ipvsrs.py.
const PYTHON_TESTS: usize = 23;

/// The installed `libipvsrs.so.0`: the stage `make c-tests` built the binaries of
/// IPVSRS_C_TESTS (`target/c-tests`) against, `target/stage/usr/lib`.
fn staged_library() -> PathBuf {
    let c_tests = std::env::var_os("IPVSRS_C_TESTS")
        .expect("IPVSRS_C_TESTS names the C test binaries: run `make test-kernel`");
    let target = Path::new(&c_tests)
        .parent()
        .expect("IPVSRS_C_TESTS is a directory in target/");
    let library = target.join("stage/usr/lib/libipvsrs.so.0");
    assert!(
        library.exists(),
        "{} is missing: run `make c-tests`",
        library.display()
    );
    library
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn python_module_drives_the_kernel() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ns = Netns::new();
    let out = ns
        .exec("python3")
        .args(["-m", "unittest", "-v", "tests/python/test_ipvsrs.py"])
        .current_dir(repo)
        .env("IPVSRS_LIBRARY", staged_library())
        .env("PYTHONPATH", repo.join("c-examples/python"))
        .output()
        .expect("run python3");
    // unittest reports on stderr.
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(&format!("\nRan {PYTHON_TESTS} tests in ")),
        "{report}"
    );
    assert!(report.trim_end().ends_with("\nOK"), "{report}");
}
