//! tests/c/hostile.c (run in the kernel tests, directly and under valgrind) must call every
//! function the C headers declare, so a new entry point cannot skip the hostile-caller
//! checks.

use std::collections::BTreeSet;

/// The names of the functions declared in `header`: `name(` at the start of a
/// declaration's name, for the library's two prefixes.
fn declared_functions(header: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut declaration = String::new();
    for line in header.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('*') || line.starts_with("/*") {
            continue;
        }
        declaration.push_str(line);
        declaration.push(' ');
        if !line.ends_with(';') {
            continue;
        }
        if !declaration.starts_with("typedef") {
            if let Some(open) = declaration.find('(') {
                let name = declaration[..open]
                    .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                if name.starts_with("ipvs_") || name.starts_with("ipvsrs_") {
                    names.insert(name.to_string());
                }
            }
        }
        declaration.clear();
    }
    names
}

#[test]
fn the_hostile_caller_test_calls_every_exported_function() {
    let root = env!("CARGO_MANIFEST_DIR");
    let header = std::fs::read_to_string(format!("{root}/include/ipvsrs.h")).unwrap();
    let test = std::fs::read_to_string(format!("{root}/tests/c/hostile.c")).unwrap();
    let functions = declared_functions(&header);
    // The header declares the libipvs functions and the native ones; a parse that found
    // only some of them would make the check below vacuous.
    for known in [
        "ipvs_init",
        "ipvs_get_dests",
        "ipvsrs_open",
        "ipvsrs_changeset_free",
    ] {
        assert!(
            functions.contains(known),
            "{known} not found in {functions:?}"
        );
    }
    let missing: Vec<_> = functions
        .iter()
        .filter(|f| !test.contains(&format!("{f}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/c/hostile.c does not call {missing:?}"
    );
}
