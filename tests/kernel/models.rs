//! YAML models against the kernel, through the `ipvsrs` binary: each fixture in
//! tests/data/models applies into a fresh namespace, ipvsadm then saves exactly the lines
//! in its `.saved` twin (written by hand from the model), and the changeset is then
//! ipvsctl's empty one, `{}` (idempotence, ipvsctl's apply-and-changeset case).

use std::path::{Path, PathBuf};

use crate::support::{assert_saved, Netns};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/models");
    let mut models: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    models.sort();
    models
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn every_model_fixture_applies_as_written_and_then_diffs_empty() {
    let models = fixtures();
    assert!(models.len() >= 4, "{models:?}");
    for path in models {
        let ns = Netns::new();
        let model = path.to_str().unwrap();
        ns.ipvsrs_exits(&["apply", "-f", model], 0);
        let saved = std::fs::read_to_string(path.with_extension("saved")).unwrap();
        assert_saved(&ns, &saved.lines().collect::<Vec<_>>());
        let again = ns.ipvsrs_exits(&["diff", "-f", model, "--format", "yaml"], 0);
        assert_eq!(again, "{}\n", "{model}: not idempotent");
    }
}
