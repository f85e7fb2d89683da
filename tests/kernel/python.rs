//! The Python package (c-examples/python), as `make python-venv` pip-installed it, and its
//! unittest suite (tests/python/test_ipvsrs.py), run in a fresh namespace against the
//! library that `make c-tests` installed into a DESTDIR stage.

use std::path::Path;

use crate::support::Netns;

/// The test cases of tests/python/test_ipvsrs.py.
const PYTHON_TESTS: usize = 31;

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn python_module_drives_the_kernel() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ns = Netns::new();
    let out = ns
        .python()
        .args(["-m", "unittest", "-v", "tests/python/test_ipvsrs.py"])
        .current_dir(repo)
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
