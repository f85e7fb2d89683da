//! The behaviours of ipvsctl's end-to-end tests (its bats files: apply-services,
//! apply-destinations, apply-defaults, apply-keepweights, apply-allowedactions, changeset,
//! get, params), through the `ipvsrs` binary against a real kernel; apply-and-changeset is
//! tests/kernel/models.rs.
//! Each case builds its starting table with ipvsadm in a fresh namespace, runs one
//! command, and checks the exit code and `ipvsadm -Sn` (written by hand); every successful
//! apply is followed by a diff that must print ipvsctl's empty changeset `{}`.
//! ipvsctl's validate cases are host tests (tests/desired_yaml.rs), as validation needs
//! no kernel.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::Netns;

/// One apply against a starting table.
struct Case<'a> {
    what: &'a str,
    /// ipvsadm commands, run in order.
    start: &'a [&'a str],
    model: &'a str,
    /// What follows `apply -f MODEL`.
    options: &'a [&'a str],
    exit: i32,
    /// `ipvsadm -Sn` afterwards.
    saved: &'a [&'a str],
}

fn case<'a>(what: &'a str, start: &'a [&'a str], model: &'a str, saved: &'a [&'a str]) -> Case<'a> {
    Case {
        what,
        start,
        model,
        options: &[],
        exit: 0,
        saved,
    }
}

fn lines(saved: &[&str]) -> String {
    saved.iter().map(|l| format!("{l}\n")).collect()
}

fn run_cases(cases: &[Case]) {
    for case in cases {
        let what = case.what;
        let ns = Netns::new();
        ns.ipvsadm_each(case.start);
        let path = ns.model_file("model", case.model);
        let path = path.to_str().unwrap();
        let mut args = vec!["apply", "-f", path];
        args.extend(case.options);
        let out = ns.ipvsrs(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(case.exit), "{what}: {stderr}");
        assert_eq!(ns.saved(), lines(case.saved), "{what}");
        if case.exit == 0 {
            let mut diff = vec!["diff", "-f", path, "--format", "yaml"];
            let diff_options = case.options.iter();
            diff.extend(
                diff_options.filter(|o| o.starts_with("--scope") || **o == "--keep-weights"),
            );
            assert_eq!(ns.ipvsrs_exits(&diff, 0), "{}\n", "{what}: not idempotent");
        }
    }
}

const ONE_SERVICE: &str = "services:\n  - address: tcp://10.0.0.1:80\n";

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_services() {
    run_cases(&[
        case("an empty model on an empty table", &[], "{}\n", &[]),
        case(
            "one service",
            &[],
            ONE_SERVICE,
            &["-A -t 10.0.0.1:80 -s rr"],
        ),
        case(
            "a second service beside the first",
            &["-A -t 10.0.0.1:80 -s rr"],
            "services:\n  - address: tcp://10.0.0.1:80\n  - address: udp://10.0.0.2:53\n    sched: wlc\n",
            &["-A -t 10.0.0.1:80 -s rr", "-A -u 10.0.0.2:53 -s wlc"],
        ),
        case(
            "a service replaced by another",
            &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
            "services:\n  - address: tcp://10.0.0.3:8080\n",
            &["-A -t 10.0.0.3:8080 -s rr"],
        ),
        case(
            "a service removed",
            &["-A -t 10.0.0.1:80 -s rr", "-A -u 10.0.0.2:53 -s rr"],
            ONE_SERVICE,
            &["-A -t 10.0.0.1:80 -s rr"],
        ),
        case(
            "every service removed by an empty model",
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1",
                "-A -f 7 -s wrr",
            ],
            "{}\n",
            &[],
        ),
        case(
            "a scheduler changed in place",
            &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
            "services:\n  - address: tcp://10.0.0.1:80\n    sched: wrr\n    destinations:\n      - address: 10.1.0.1:80\n",
            &["-A -t 10.0.0.1:80 -s wrr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
        ),
        case(
            "a mixed table: tcp, udp, sctp, IPv6 and a firewall mark",
            &[],
            "\
services:
  - address: tcp://10.0.0.1:80
  - address: udp://10.0.0.1:53
    sched: lc
  - address: sctp://10.0.0.1:3868
    sched: sh
  - address: tcp://[2001:db8::1]:443
    sched: wlc
  - address: fwmark:7
    sched: dh
",
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-A -u 10.0.0.1:53 -s lc",
                "-A --sctp-service 10.0.0.1:3868 -s sh",
                "-A -t [2001:db8::1]:443 -s wlc",
                "-A -f 7 -s dh",
            ],
        ),
        Case {
            exit: 3,
            ..case(
                "a model that is not YAML changes nothing",
                &["-A -t 10.0.0.1:80 -s rr"],
                "services: [\n",
                &["-A -t 10.0.0.1:80 -s rr"],
            )
        },
    ]);
    let ns = Netns::new();
    ns.ipvsadm_each(&["-A -t 10.0.0.1:80 -s rr"]);
    let out = ns.ipvsrs(&["apply", "-f", "/nonexistent/model.yaml"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read /nonexistent/model.yaml"),
        "{stderr}"
    );
    assert_eq!(ns.saved(), "-A -t 10.0.0.1:80 -s rr\n");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_destinations() {
    run_cases(&[
        case(
            "a single destination",
            &[],
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - { address: 10.1.0.1:8080, forward: nat, weight: 5 }\n",
            &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 5"],
        ),
        case(
            "several destinations, added beside one that stays",
            &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
            "\
services:
  - address: tcp://10.0.0.1:80
    destinations:
      - address: 10.1.0.1:80
      - address: 10.1.0.2:80
        weight: 2
      - address: 10.1.0.3:80
        forward: tunnel
",
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
                "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 2",
                "-a -t 10.0.0.1:80 -r 10.1.0.3:80 -i -w 1 --tun-type ipip",
            ],
        ),
        case(
            "destinations updated (weight, forwarding) and removed",
            &[
                "-A -t 10.0.0.1:80 -s wrr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
                "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 1",
                "-a -t 10.0.0.1:80 -r 10.1.0.3:80 -g -w 1",
            ],
            "\
services:
  - address: tcp://10.0.0.1:80
    sched: wrr
    destinations:
      - { address: 10.1.0.1:80, weight: 40 }
      - { address: 10.1.0.2:80, forward: nat }
",
            &[
                "-A -t 10.0.0.1:80 -s wrr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 40",
                "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 1",
            ],
        ),
    ]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_defaults() {
    let model = |defaults: &str| {
        format!("defaults: {{ {defaults} }}\nservices:\n  - address: tcp://10.0.0.1\n    destinations:\n      - address: 10.1.0.1\n")
    };
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "port",
            "port: 8080",
            &[
                "-A -t 10.0.0.1:8080 -s rr",
                "-a -t 10.0.0.1:8080 -r 10.1.0.1:8080 -g -w 1",
            ],
        ),
        (
            "scheduler",
            "port: 80, sched: wlc",
            &[
                "-A -t 10.0.0.1:80 -s wlc",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
            ],
        ),
        (
            "forwarding",
            "port: 80, forward: nat",
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1",
            ],
        ),
        (
            "weight",
            "port: 80, weight: 7",
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 7",
            ],
        ),
    ];
    for (what, defaults, expected) in cases {
        let ns = Netns::new();
        ns.apply_model("defaults", &model(defaults));
        assert_eq!(ns.saved(), lines(expected), "default {what}");
    }
}

const WEIGHTED: &str = "services:\n  - address: tcp://10.0.0.1:80\n    sched: wrr\n    destinations:\n      - { address: 10.1.0.1:80, weight: 200 }\n";

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_keep_weights() {
    let start: &[&str] = &[
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 100",
    ];
    run_cases(&[
        Case {
            options: &["--keep-weights"],
            ..case(
                "--keep-weights keeps the kernel's weight and changes the rest",
                start,
                WEIGHTED,
                &[
                    "-A -t 10.0.0.1:80 -s wrr",
                    "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 100",
                ],
            )
        },
        case(
            "without it the model's weight is set",
            start,
            WEIGHTED,
            &[
                "-A -t 10.0.0.1:80 -s wrr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 200",
            ],
        ),
    ]);
}

/// For each action: a starting table and a model whose changeset needs that action alone.
const ONE_ACTION: &[(&str, &[&str], &str, &[&str])] = &[
    ("as", &[], ONE_SERVICE, &["-A -t 10.0.0.1:80 -s rr"]),
    (
        "us",
        &["-A -t 10.0.0.1:80 -s rr"],
        "services:\n  - address: tcp://10.0.0.1:80\n    sched: wrr\n",
        &["-A -t 10.0.0.1:80 -s wrr"],
    ),
    ("ds", &["-A -t 10.0.0.1:80 -s rr"], "{}\n", &[]),
    (
        "ad",
        &["-A -t 10.0.0.1:80 -s rr"],
        "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.1.0.1:80\n",
        &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
    ),
    (
        "ud",
        &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
        "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - { address: 10.1.0.1:80, weight: 3 }\n",
        &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 3"],
    ),
    (
        "dd",
        &["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1"],
        ONE_SERVICE,
        &["-A -t 10.0.0.1:80 -s rr"],
    ),
];

/// Each action: refused (exit 5, nothing changed) when the list lacks it, applied when the
/// list is that action alone; and a list that names no action is a usage error.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_allowed_actions() {
    const ALL: [&str; 6] = ["as", "us", "ds", "ad", "ud", "dd"];
    for (action, start, model, after) in ONE_ACTION {
        let others: Vec<&str> = ALL.into_iter().filter(|a| a != action).collect();
        let refused = format!("--allowed-actions={}", others.join(","));
        let allowed = format!("--allowed-actions={action}");
        run_cases(&[
            Case {
                options: &[refused.as_str()],
                exit: 5,
                ..case("an action missing from the list", start, model, start)
            },
            Case {
                options: &[allowed.as_str()],
                ..case("the action alone in the list", start, model, after)
            },
        ]);
    }
    for spec in ["xx", "as,,ud", "as;us", ""] {
        let ns = Netns::new();
        ns.ipvsadm_each(&["-A -t 10.0.0.1:80 -s rr"]);
        let path = ns.model_file("model", "{}\n");
        let option = format!("--allowed-actions={spec}");
        let out = ns.ipvsrs(&["apply", "-f", path.to_str().unwrap(), &option]);
        assert_eq!(out.status.code(), Some(2), "{option}");
        assert_eq!(ns.saved(), "-A -t 10.0.0.1:80 -s rr\n", "{option}");
    }
}

/// ipvsctl's changeset cases: `diff --format yaml` prints the items (or `{}`) and changes
/// nothing.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn changesets() {
    let base: &[&str] = &[
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
        "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 1",
    ];
    let base_model = "\
services:
  - address: tcp://10.0.0.1:80
    destinations:
      - address: 10.1.0.1:80
      - address: 10.1.0.2:80
";
    let cases: &[(&str, &[&str], String, &str)] = &[
        ("an empty table and model", &[], "{}\n".into(), "{}\n"),
        ("a table in sync", base, base_model.into(), "{}\n"),
        (
            "a service to add",
            &[],
            "services:\n  - address: udp://10.0.0.2:53\n".into(),
            "\
items:
- type: add-service
  description: add service udp://10.0.0.2:53 (rr)
  service: udp://10.0.0.2:53
",
        ),
        (
            "a service to delete",
            base,
            "{}\n".into(),
            "\
items:
- type: delete-service
  description: delete service tcp://10.0.0.1:80 and its 2 destinations
  service: tcp://10.0.0.1:80
",
        ),
        (
            "a service to update",
            base,
            base_model.replace("    destinations:", "    sched: wlc\n    destinations:"),
            "\
items:
- type: update-service
  description: update service tcp://10.0.0.1:80 (scheduler rr -> wlc)
  service: tcp://10.0.0.1:80
",
        ),
        (
            "a destination to add",
            base,
            format!("{base_model}      - address: 10.1.0.3:80\n"),
            "\
items:
- type: add-destination
  description: add destination 10.1.0.3:80 to tcp://10.0.0.1:80 (weight 1)
  service: tcp://10.0.0.1:80
  destination: 10.1.0.3:80
",
        ),
        (
            "a destination to delete",
            base,
            base_model.replace("      - address: 10.1.0.2:80\n", ""),
            "\
items:
- type: delete-destination
  description: delete destination 10.1.0.2:80 from tcp://10.0.0.1:80
  service: tcp://10.0.0.1:80
  destination: 10.1.0.2:80
",
        ),
        (
            "a destination's weight to update",
            base,
            format!("{base_model}        weight: 8\n"),
            "\
items:
- type: update-destination
  description: update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (weight 1 -> 8)
  service: tcp://10.0.0.1:80
  destination: 10.1.0.2:80
",
        ),
        (
            "a destination's forwarding to update",
            base,
            format!("{base_model}        forward: nat\n"),
            "\
items:
- type: update-destination
  description: update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (forward direct -> nat)
  service: tcp://10.0.0.1:80
  destination: 10.1.0.2:80
",
        ),
        (
            "a service replaced, in ipvsctl's order: deletions first",
            base,
            "services:\n  - address: tcp://10.0.0.9:80\n    destinations:\n      - address: 10.1.0.9:80\n".into(),
            "\
items:
- type: delete-service
  description: delete service tcp://10.0.0.1:80 and its 2 destinations
  service: tcp://10.0.0.1:80
- type: add-service
  description: add service tcp://10.0.0.9:80 (rr)
  service: tcp://10.0.0.9:80
- type: add-destination
  description: add destination 10.1.0.9:80 to tcp://10.0.0.9:80 (weight 1)
  service: tcp://10.0.0.9:80
  destination: 10.1.0.9:80
",
        ),
    ];
    for (what, start, model, expected) in cases {
        let ns = Netns::new();
        ns.ipvsadm_each(start);
        let before = ns.saved();
        assert_eq!(ns.diff_of("model", model, "yaml"), *expected, "{what}");
        assert_eq!(ns.saved(), before, "{what}: the diff changed the table");
    }
}

/// ipvsctl's get cases: the kernel's table (built by ipvsadm) as a model, which then
/// applies back with an empty changeset.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn get_models() {
    const TIMEOUTS: &str = "timeouts: { tcp: 900, tcpfin: 120, udp: 300 }\n";
    let cases: &[(&str, &[&str], &str)] = &[
        ("an empty table", &[], "services: []\n"),
        (
            "tcp with rr",
            &["-A -t 10.0.0.1:80 -s rr"],
            "services:\n  - address: \"tcp://10.0.0.1:80\"\n    sched: rr\n",
        ),
        (
            "tcp with wrr",
            &["-A -t 10.0.0.1:80 -s wrr"],
            "services:\n  - address: \"tcp://10.0.0.1:80\"\n    sched: wrr\n",
        ),
        (
            "udp",
            &["-A -u 10.0.0.1:53 -s lc"],
            "services:\n  - address: \"udp://10.0.0.1:53\"\n    sched: lc\n",
        ),
        (
            "a firewall mark",
            &["-A -f 12 -s sh"],
            "services:\n  - address: \"fwmark:12\"\n    sched: sh\n",
        ),
        (
            "two services, sorted",
            &["-A -u 10.0.0.2:53 -s rr", "-A -t 10.0.0.1:80 -s rr"],
            "\
services:
  - address: \"tcp://10.0.0.1:80\"
    sched: rr
  - address: \"udp://10.0.0.2:53\"
    sched: rr
",
        ),
        (
            "NAT destinations",
            &[
                "-A -t 10.0.0.1:80 -s wrr",
                "-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 2",
                "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 1",
            ],
            "\
services:
  - address: \"tcp://10.0.0.1:80\"
    sched: wrr
    destinations:
      - address: \"10.1.0.1:8080\"
        forward: nat
        weight: 1
      - address: \"10.1.0.2:8080\"
        forward: nat
        weight: 2
",
        ),
        (
            "direct and tunnel destinations",
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-a -t 10.0.0.1:80 -r 10.1.0.1 -g -w 0",
                "-a -t 10.0.0.1:80 -r 10.1.0.2 -i -w 3",
            ],
            "\
services:
  - address: \"tcp://10.0.0.1:80\"
    sched: rr
    destinations:
      - address: \"10.1.0.1:80\"
        forward: direct
        weight: 0
      - address: \"10.1.0.2:80\"
        forward: tunnel
        weight: 3
        tunnel: { type: ipip, checksum: nocsum }
",
        ),
    ];
    for (what, start, expected) in cases {
        let ns = Netns::new();
        ns.ipvsadm_each(start);
        let got = ns.ipvsrs_exits(&["get"], 0);
        assert_eq!(got, format!("{TIMEOUTS}{expected}"), "{what}");
        assert_eq!(ns.diff_of("got", &got, "yaml"), "{}\n", "{what}");
    }
}

/// A namespace with an interface `dum0` holding 10.9.0.1 and then 10.9.0.2.
fn netns_with_addresses() -> Netns {
    let ns = Netns::new();
    ns.ip(&["link", "add", "dum0", "type", "dummy"]);
    ns.ip(&["link", "set", "dum0", "up"]);
    ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "dum0"]);
    ns.ip(&["addr", "add", "10.9.0.2/24", "dev", "dum0"]);
    ns
}

/// A service at `${PARAM}` with a destination at `${DEST}`: the model of the params cases.
fn param_model(service: &str, dest: &str) -> String {
    format!(
        "services:\n  - address: tcp://{service}:80\n    destinations:\n      - address: {dest}:8080\n"
    )
}

fn params_file(ns: &Netns, tag: &str, content: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}-{tag}", ns.name));
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Applies `model` with `options` and the environment `env`; the exit code and stderr.
fn apply_with(ns: &Netns, model: &str, options: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let path = ns.model_file("params", model);
    let mut args = vec!["apply", "-f", path.to_str().unwrap()];
    args.extend(options);
    let out = ns
        .ipvsrs_command(&args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

const PARAM_SAVED: &str = "-A -t 10.9.0.1:80 -s rr\n-a -t 10.9.0.1:80 -r 10.1.0.1:8080 -g -w 1\n";

/// ipvsctl's params cases: values from the namespace's interfaces, the environment, YAML
/// and JSON files (one or two), an HTTP URL; and the failures (an unknown parameter, a
/// source not enabled, a missing or broken file) that change nothing.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn parameters() {
    let yaml_file = "vip: 10.9.0.1\nbackends:\n  staging: [10.1.0.1, 10.1.0.2]\n";
    let json_file = "{\"vip\": \"10.9.0.1\", \"backends\": {\"staging\": [\"10.1.0.1\"]}}";
    // What, the model, the options, the environment.
    type ParamCase<'a> = (&'a str, String, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let ok_cases: &[ParamCase] = &[
        (
            "an interface's first address",
            param_model("${host.dum0}", "10.1.0.1"),
            vec!["--params-network"],
            vec![],
        ),
        (
            "an interface's address by index",
            param_model("${host.dum0_0}", "10.1.0.1"),
            vec!["--params-network"],
            vec![],
        ),
        (
            "environment variables",
            param_model("${env.VIP}", "${env.BACKEND}"),
            vec!["--params-env"],
            vec![("VIP", "10.9.0.1"), ("BACKEND", "10.1.0.1")],
        ),
        (
            "a YAML file, a nested key and a list item",
            param_model("${vip}", "${backends.staging.0}"),
            vec!["--params-file", "YAML"],
            vec![],
        ),
        (
            "a JSON file",
            param_model("${vip}", "${backends.staging.0}"),
            vec!["--params-file", "JSON"],
            vec![],
        ),
        (
            "a parameter built from another",
            param_model("${vip}", "${backends.${env.STAGE}.0}"),
            vec!["--params-env", "--params-file", "YAML"],
            vec![("STAGE", "staging")],
        ),
    ];
    for (what, model, options, env) in ok_cases {
        let ns = netns_with_addresses();
        let yaml = params_file(&ns, "values.yaml", yaml_file);
        let json = params_file(&ns, "values.json", json_file);
        let options: Vec<&str> = options
            .iter()
            .map(|o| match *o {
                "YAML" => yaml.as_str(),
                "JSON" => json.as_str(),
                other => other,
            })
            .collect();
        let (code, stderr) = apply_with(&ns, model, &options, env);
        assert_eq!(code, 0, "{what}: {stderr}");
        assert_eq!(ns.saved(), PARAM_SAVED, "{what}");
    }

    // The second address by index, and two files: the first that has a key wins.
    let ns = netns_with_addresses();
    let first = params_file(&ns, "first.yaml", "vip: 10.9.0.2\n");
    let second = params_file(&ns, "second.yaml", "vip: 10.9.0.7\nbackend: 10.1.0.5\n");
    let model = format!(
        "{}  - address: tcp://${{host.dum0_1}}:443\n",
        param_model("${vip}", "${backend}")
    );
    let options = [
        "--params-file",
        &first,
        "--params-file",
        &second,
        "--params-network",
    ];
    let (code, stderr) = apply_with(&ns, &model, &options, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        ns.saved(),
        "-A -t 10.9.0.2:80 -s rr\n-a -t 10.9.0.2:80 -r 10.1.0.5:8080 -g -w 1\n-A -t 10.9.0.2:443 -s rr\n"
    );

    let failures: &[(&str, String, Vec<&str>, &str)] = &[
        (
            "an unknown parameter",
            param_model("${host.nosuch0}", "10.1.0.1"),
            vec!["--params-network"],
            "line 2, column 14: address \"tcp://${host.nosuch0}:80\": parameter ${host.nosuch0} is not defined",
        ),
        (
            "environment variables without --params-env",
            param_model("${env.HOME}", "10.1.0.1"),
            vec![],
            "parameter ${env.HOME} is not defined",
        ),
        (
            "a missing parameter file",
            param_model("10.9.0.1", "10.1.0.1"),
            vec!["--params-file", "/nonexistent/values.yaml"],
            "cannot read parameter file /nonexistent/values.yaml",
        ),
        (
            "a parameter file that is not YAML",
            param_model("10.9.0.1", "10.1.0.1"),
            vec!["--params-file", "BROKEN"],
            "is not YAML or JSON",
        ),
    ];
    for (what, model, options, message) in failures {
        let ns = netns_with_addresses();
        ns.ipvsadm_each(&["-A -t 10.0.0.1:80 -s rr"]);
        let broken = params_file(&ns, "broken.yaml", "vip: [10.9.0.1\n");
        let options: Vec<&str> = options
            .iter()
            .map(|o| if *o == "BROKEN" { broken.as_str() } else { o })
            .collect();
        let (code, stderr) = apply_with(&ns, model, &options, &[]);
        assert_eq!(code, 3, "{what}: {stderr}");
        assert!(stderr.contains(message), "{what}: {stderr}");
        assert_eq!(ns.saved(), "-A -t 10.0.0.1:80 -s rr\n", "{what}");
    }
}

/// A static HTTP server on the namespace's loopback, serving `dir`; killed on drop.
struct HttpServer(Child);

impl HttpServer {
    fn start(ns: &Netns, dir: &Path, port: u16) -> HttpServer {
        let server = HttpServer(
            ns.exec("python3")
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &port.to_string(),
                ])
                .arg("--directory")
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start python3 -m http.server"),
        );
        // Ready when it accepts a connection.
        for _ in 0..200 {
            let probe = ns
                .exec("python3")
                .args([
                    "-c",
                    &format!("import socket; socket.create_connection(('127.0.0.1', {port}))"),
                ])
                .stderr(Stdio::null())
                .status()
                .unwrap();
            if probe.success() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the HTTP server did not start");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--params-url`: values from an HTTP server, after those from files; a URL that answers
/// 404 or nothing is an error that changes nothing.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn parameters_from_a_url() {
    let ns = netns_with_addresses();
    let dir = std::env::temp_dir().join(format!("{}-www", ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("params.json"),
        "{\"vip\": \"10.9.0.1\", \"backend\": \"10.1.0.1\"}",
    )
    .unwrap();
    let _server = HttpServer::start(&ns, &dir, 8099);
    let file = params_file(&ns, "vip.yaml", "vip: 10.9.0.1\n");
    let model = param_model("${vip}", "${backend}");
    let url = "http://127.0.0.1:8099/params.json";
    let (code, stderr) = apply_with(
        &ns,
        &model,
        &["--params-file", &file, "--params-url", url],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ns.saved(), PARAM_SAVED);

    for (url, message) in [
        (
            "http://127.0.0.1:8099/missing.json",
            "the server answered \"HTTP/1.0 404 File not found\"",
        ),
        (
            "http://127.0.0.1:8098/params.json",
            "cannot connect to 127.0.0.1:8098",
        ),
        (
            "https://127.0.0.1:8099/params.json",
            "only http:// URLs are supported",
        ),
    ] {
        let (code, stderr) = apply_with(&ns, "{}\n", &["--params-url", url], &[]);
        assert_eq!(code, 3, "{url}: {stderr}");
        assert!(stderr.contains(message), "{url}: {stderr}");
        assert_eq!(ns.saved(), PARAM_SAVED, "{url}");
    }
    let _ = Command::new("rm").arg("-rf").arg(&dir).status();
}

/// `--scope` through the binary: services outside it are neither deleted by apply nor
/// listed by diff.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn scope_leaves_foreign_services() {
    let foreign: &[&str] = &["-A -u 192.168.1.1:53 -s rr", "-A -f 9 -s rr"];
    run_cases(&[Case {
        options: &["--scope=10.0.0.0/24:80-443,fwmark:1-5"],
        ..case(
            "a model that owns 10.0.0.0/24 and marks 1-5",
            &[
                "-A -u 192.168.1.1:53 -s rr",
                "-A -f 9 -s rr",
                "-A -f 3 -s rr",
                "-A -t 10.0.0.5:443 -s rr",
                "-A -t 10.0.0.5:8080 -s rr",
            ],
            ONE_SERVICE,
            &[
                "-A -t 10.0.0.1:80 -s rr",
                "-A -t 10.0.0.5:8080 -s rr",
                "-A -u 192.168.1.1:53 -s rr",
                "-A -f 9 -s rr",
            ],
        )
    }]);
    let ns = Netns::new();
    ns.ipvsadm_each(foreign);
    let path = ns.model_file("model", ONE_SERVICE);
    let path = path.to_str().unwrap();
    let diff = ns.ipvsrs_exits(&["diff", "-f", path, "--scope=10.0.0.0/8"], 0);
    assert_eq!(diff, "add service tcp://10.0.0.1:80 (rr)\n");
    let out = ns.ipvsrs(&["apply", "-f", path, "--scope=10.0.0.0/33"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(ns.saved(), lines(foreign));
}
