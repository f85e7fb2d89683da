//! One pipeline for every front end: the C API (tests/c/changes.c, on
//! `ipvsrs_diff_yaml`), the CLI (`ipvsrs diff`) and the Python module (`diff_yaml`), given
//! the same model, table and parameter sources, resolve the same parameters and report the
//! same changes; and each of them refuses a parameter whose source it was not given.

use std::process::{Command, Output};

use crate::support::{c_binary, Netns};

/// Every kind of parameter: an interface's first and second address, an environment
/// variable, list items of a values file.
const MODEL: &str = "\
services:
  - address: tcp://${host.dum0}:${env.IPVSRS_PORT}
    sched: wrr
    destinations:
      - { address: \"${backends.web.0}:8080\", weight: 3 }
      - address: ${backends.web.1}:8080
  - address: udp://${host.dum0_1}:53
";

const VALUES: &str = "backends:\n  web: [10.1.0.7, 10.1.0.8]\n";

/// The table the model is diffed against: its first service in other settings, and a
/// service it does not have.
const START: &[&str] = &[
    "-A -t 10.9.0.1:8443 -s rr",
    "-a -t 10.9.0.1:8443 -r 10.1.0.7:8080 -m -w 1",
    "-A -u 10.9.0.9:53 -s rr",
];

const CHANGES: &[&str] = &[
    "delete service udp://10.9.0.9:53",
    "update service tcp://10.9.0.1:8443 (scheduler rr -> wrr)",
    "update destination 10.1.0.7:8080 of tcp://10.9.0.1:8443 (forward nat -> direct, weight 1 -> 3)",
    "add destination 10.1.0.8:8080 to tcp://10.9.0.1:8443 (weight 1)",
    "add service udp://10.9.0.2:53 (rr)",
];

/// tests/c/changes.c's arguments, in Python.
const PYTHON_CHANGES: &str = r#"
import sys
import ipvsrs

model, args = sys.argv[1], sys.argv[2:]
files = [args[i + 1] for i, a in enumerate(args) if a == "file"]
try:
    with ipvsrs.Handle() as h:
        changes = h.diff_yaml(
            model,
            path=True,
            params_env="env" in args,
            params_network="network" in args,
            params_files=files,
        )
except ipvsrs.IpvsError as e:
    sys.exit(e.message)
for change in changes:
    print(change.description)
"#;

/// The parameter sources, as the CLI names them and as the C and Python programs do.
const SOURCES: [(&str, &str); 3] = [
    ("env", "--params-env"),
    ("network", "--params-network"),
    ("file", "--params-file"),
];

/// Runs the three front ends on `model` with the sources in `enabled`; each one's output.
fn front_ends(
    ns: &Netns,
    model: &str,
    values: &str,
    enabled: &[&str],
) -> [(&'static str, Output); 3] {
    let mut generic: Vec<&str> = Vec::new();
    let mut cli: Vec<&str> = Vec::new();
    for (name, option) in SOURCES.into_iter().filter(|(n, _)| enabled.contains(n)) {
        generic.push(name);
        cli.push(option);
        if name == "file" {
            generic.push(values);
            cli.push(values);
        }
    }
    cli.extend(["diff", "-f", model]);
    let run = |mut command: Command| {
        command
            .env("IPVSRS_PORT", "8443")
            .output()
            .expect("run a front end")
    };
    let mut c = ns.exec(c_binary("changes").to_str().unwrap());
    c.arg(model).args(&generic);
    let mut python = ns.python();
    python.args(["-c", PYTHON_CHANGES, model]).args(&generic);
    [
        ("C", run(c)),
        ("CLI", run(ns.ipvsrs_command(&cli))),
        ("Python", run(python)),
    ]
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_cli_and_python_resolve_parameters_and_report_changes_alike() {
    let ns = Netns::new();
    ns.ip(&["link", "add", "dum0", "type", "dummy"]);
    ns.ip(&["link", "set", "dum0", "up"]);
    ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "dum0"]);
    ns.ip(&["addr", "add", "10.9.0.2/24", "dev", "dum0"]);
    ns.ipvsadm_each(START);
    let before = ns.saved();
    let model = ns.model_file("model", MODEL);
    let model = model.to_str().unwrap();
    let values = ns.model_file("values", VALUES);
    let values = values.to_str().unwrap();

    for (front_end, out) in front_ends(&ns, model, values, &["env", "network", "file"]) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{front_end}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().collect::<Vec<_>>(), CHANGES, "{front_end}");
    }

    // Without one source, its parameter is not defined, for each front end alike.
    for (missing, parameter) in [
        ("env", "${env.IPVSRS_PORT}"),
        ("network", "${host.dum0}"),
        ("file", "${backends.web.0}"),
    ] {
        let enabled: Vec<&str> = SOURCES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| *name != missing)
            .collect();
        for (front_end, out) in front_ends(&ns, model, values, &enabled) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{front_end} without {missing}");
            assert!(out.stdout.is_empty(), "{front_end} without {missing}");
            let expected = format!("parameter {parameter} is not defined");
            assert!(
                stderr.contains(&expected),
                "{front_end} without {missing}: {stderr}"
            );
        }
    }
    assert_eq!(ns.saved(), before, "a diff changed the table");
}
