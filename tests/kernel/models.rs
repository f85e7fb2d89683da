//! YAML models against the kernel: each fixture in tests/data/models applies into a fresh
//! namespace, ipvsadm then saves exactly the lines in its `.saved` twin (written by hand
//! from the model), and a second diff is empty (idempotence).

use std::path::{Path, PathBuf};

use ipvsrs::desired::diff::{apply, diff, Action, DiffOptions, KernelTable};
use ipvsrs::desired::yaml::{self, NoParams};

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
        let name = path.display();
        let text = std::fs::read_to_string(&path).unwrap();
        let model = yaml::parse(&text, &NoParams).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let ns = Netns::new();
        let mut h = ns.handle();
        let options = DiffOptions::default();
        let changes = diff(&model, &KernelTable::read(&mut h).unwrap(), &options);
        let report = apply(&mut h, changes, &Action::ALL).unwrap();
        assert!(report.succeeded(), "{name}: {:?}", report.results);
        let saved = std::fs::read_to_string(path.with_extension("saved")).unwrap();
        assert_saved(&ns, &saved.lines().collect::<Vec<_>>());
        let again = diff(&model, &KernelTable::read(&mut h).unwrap(), &options);
        assert!(again.is_empty(), "{name}: not idempotent: {again:?}");
    }
}
