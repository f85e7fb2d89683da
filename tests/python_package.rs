//! The Python package (c-examples/python) carries the crate's version: `__version__` in
//! its source, from which pyproject.toml takes the distribution's version. The installed
//! distribution's version is checked against `__version__` by tests/python/check.

use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn python_version_is_the_crate_version() {
    let source = read("c-examples/python/ipvsrs/__init__.py");
    let version = source
        .lines()
        .find_map(|line| line.strip_prefix("__version__ = "))
        .expect("c-examples/python/ipvsrs/__init__.py assigns __version__");
    assert_eq!(
        version,
        format!("\"{}\"", env!("CARGO_PKG_VERSION")),
        "ipvsrs.__version__ must be Cargo.toml's version"
    );
}

#[test]
fn python_distribution_takes_its_version_from_the_package() {
    let pyproject = read("c-examples/python/pyproject.toml");
    assert!(
        pyproject.contains("dynamic = [\"version\"]")
            && pyproject.contains("version = { attr = \"ipvsrs.__version__\" }"),
        "pyproject.toml must take the version from ipvsrs.__version__:\n{pyproject}"
    );
}
