//! The `ipvsrs` binary against a real kernel, each test in a fresh namespace given by
//! `--netns NAME`: apply (its summary, its lines with -v), diff (text, ipvsctl's YAML, a
//! summary), get, list (ipvsadm's views and JSON), metrics, weight, allowed actions.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{
    assert_saved, netns_with_sync_interface, output_with_input, settled, Netns, IPVSADM_TABLE,
    SYNC_IFNAME,
};

/// Two services: one in NAT with thresholds, one direct-routing.
const MODEL: &str = "\
services:
  - address: tcp://10.0.0.1:80
    sched: wrr
    destinations:
      - address: 10.1.0.1:8080
        forward: nat
        weight: 3
        thresholds: { upper: 100, lower: 10 }
      - address: 10.1.0.2:8080
        forward: nat
        weight: 2
  - address: udp://10.0.0.2:53
    destinations:
      - address: 10.1.0.3
";

/// `ipvsadm -Sn` of `MODEL` (sched rr and direct forwarding by default, port from the
/// service). ipvsadm does not save thresholds.
const MODEL_SAVED: &[&str] = &[
    "-A -t 10.0.0.1:80 -s wrr",
    "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 3",
    "-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 2",
    "-A -u 10.0.0.2:53 -s rr",
    "-a -u 10.0.0.2:53 -r 10.1.0.3:53 -g -w 1",
];

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_builds_the_model_and_then_diff_is_empty() {
    let ns = Netns::new();
    assert_eq!(
        ns.diff_of("model", MODEL, "summary"),
        "would apply 5 changes: 2 add-service, 3 add-destination\n"
    );
    // Two services and three destinations, summed up in one line.
    let printed = ns.apply_model("model", MODEL);
    assert_eq!(
        printed,
        "applied 5 changes: 2 add-service, 3 add-destination\n"
    );
    assert_saved(&ns, MODEL_SAVED);
    assert_eq!(ns.diff_of("model", MODEL, "text"), "");
    assert_eq!(ns.diff_of("model", MODEL, "yaml"), "{}\n");
    assert_eq!(ns.diff_of("model", MODEL, "summary"), "no changes\n");
    assert_eq!(ns.apply_model("model", MODEL), "no changes\n");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_verbose_prints_a_line_a_change() {
    let ns = Netns::new();
    let path = ns.model_file("model", MODEL);
    let printed = ns.ipvsrs_exits(&["apply", "-f", path.to_str().unwrap(), "-v"], 0);
    let diff_of_empty = [
        "add service tcp://10.0.0.1:80 (wrr)",
        "add destination 10.1.0.1:8080 to tcp://10.0.0.1:80 (weight 3)",
        "add destination 10.1.0.2:8080 to tcp://10.0.0.1:80 (weight 2)",
        "add service udp://10.0.0.2:53 (rr)",
        "add destination 10.1.0.3:53 to udp://10.0.0.2:53 (weight 1)",
    ];
    let expected: Vec<String> = diff_of_empty.iter().map(|c| format!("ok: {c}")).collect();
    assert_eq!(printed.lines().collect::<Vec<_>>(), expected);
    assert_saved(&ns, MODEL_SAVED);
    let again = ns.ipvsrs_exits(&["apply", "-f", path.to_str().unwrap(), "--verbose"], 0);
    assert_eq!(again, "");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn diff_in_ipvsctl_yaml_form() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    // Weight 2 -> 5 for 10.1.0.2, the udp service gone, a new fwmark service.
    let changed = MODEL
        .replace("weight: 2", "weight: 5")
        .replace("udp://10.0.0.2:53", "fwmark:7")
        .replace("10.1.0.3", "10.1.0.3:0");
    let expected = "\
items:
- type: delete-service
  description: delete service udp://10.0.0.2:53 and its destination
  service: udp://10.0.0.2:53
- type: update-destination
  description: update destination 10.1.0.2:8080 of tcp://10.0.0.1:80 (weight 2 -> 5)
  service: tcp://10.0.0.1:80
  destination: 10.1.0.2:8080
- type: add-service
  description: add service fwmark:7 (rr)
  service: fwmark:7
- type: add-destination
  description: add destination 10.1.0.3:0 to fwmark:7 (weight 1)
  service: fwmark:7
  destination: 10.1.0.3:0
";
    assert_eq!(ns.diff_of("changed", &changed, "yaml"), expected);
    let text = ns.diff_of("changed", &changed, "text");
    let descriptions: Vec<&str> = expected
        .lines()
        .filter_map(|l| l.strip_prefix("  description: "))
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), descriptions);
    assert_saved(&ns, MODEL_SAVED);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn get_prints_a_model_that_applies_back_with_no_change() {
    let ns = Netns::new();
    ns.ipvsadm_each(IPVSADM_TABLE);
    let before = ns.saved();
    let got = ns.ipvsrs_exits(&["get"], 0);
    assert_eq!(ns.diff_of("got", &got, "text"), "", "model:\n{got}");
    assert_eq!(ns.apply_model("got", &got), "no changes\n");
    assert_eq!(ns.saved(), before);
    // Applied to an empty table, the model rebuilds the same table.
    let other = Netns::new();
    other.apply_model("got", &got);
    assert_eq!(other.saved(), before);
    // ipvsadm saves neither thresholds nor tunnel checksums; they must have come along.
    for listing in ["--thresholds", "--tun-info"] {
        let list = |ns: &Netns| ns.ipvsadm_listing(&["-Ln", listing]);
        assert_eq!(list(&other), list(&ns), "ipvsadm -Ln {listing}");
    }
}

/// The connection timeouts and both sync daemons as ipvsadm sets them: `get` writes them
/// into the model, which applies back with no change and rebuilds them elsewhere.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn get_carries_timeouts_and_daemons() {
    let setup = |ns: &Netns| {
        ns.ipvsadm(&["--set", "100", "20", "30"]);
        ns.ipvsadm(&["-A", "-t", "10.0.0.1:80", "-s", "rr"]);
    };
    let (ns, _) = netns_with_sync_interface();
    setup(&ns);
    let master = [
        "--start-daemon",
        "master",
        "--mcast-interface",
        SYNC_IFNAME,
        "--syncid",
        "4",
    ];
    ns.ipvsadm(&master);
    let backup = [
        "--start-daemon",
        "backup",
        "--mcast-interface",
        SYNC_IFNAME,
        "--syncid",
        "9",
        "--sync-maxlen",
        "1200",
        "--mcast-group",
        "224.0.0.99",
        "--mcast-port",
        "9999",
        "--mcast-ttl",
        "3",
    ];
    ns.ipvsadm(&backup);
    let got = ns.ipvsrs_exits(&["get"], 0);
    assert!(
        got.starts_with("timeouts: { tcp: 100, tcpfin: 20, udp: 30 }\ndaemons:\n"),
        "{got}"
    );
    assert_eq!(ns.diff_of("got", &got, "text"), "", "model:\n{got}");

    let (other, _) = netns_with_sync_interface();
    let changes = other.apply_model("got", &got);
    assert_eq!(
        changes,
        "applied 4 changes: 1 add-service, 1 update-timeouts, 2 start-daemon\n"
    );
    for listing in [["-Sn", ""], ["-L", "--timeout"], ["-L", "--daemon"]] {
        let args: Vec<&str> = listing.into_iter().filter(|a| !a.is_empty()).collect();
        assert_eq!(other.ipvsadm(&args), ns.ipvsadm(&args), "ipvsadm {args:?}");
    }
    assert!(other.ipvsadm(&["-L", "--daemon"]).contains("backup sync daemon (mcast=sync0, syncid=9, maxlen=1200, group=224.0.0.99, port=9999, ttl=3)"));
}

fn set_weight(ns: &Netns, extra: &[&str]) {
    let mut args = vec![
        "weight",
        "--service=tcp://10.0.0.1:80",
        "--destination=10.1.0.1:8080",
    ];
    args.extend(extra);
    assert_eq!(ns.ipvsrs_exits(&args, 0), "");
}

/// `MODEL_SAVED` with the first destination at `weight`.
fn saved_with_weight(weight: &str) -> Vec<String> {
    let mut saved: Vec<String> = MODEL_SAVED.iter().map(|l| l.to_string()).collect();
    saved[1] = saved[1].replace("-w 3", &format!("-w {weight}"));
    saved
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn weight_sets_one_destination_and_keeps_its_other_settings() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    set_weight(&ns, &["7"]);
    assert_saved(&ns, &saved_with_weight("7"));
    // The thresholds are kept: the model differs from the kernel by the weight only.
    let diff = ns.diff_of("model", MODEL, "text");
    assert_eq!(
        diff,
        "update destination 10.1.0.1:8080 of tcp://10.0.0.1:80 (weight 7 -> 3)\n"
    );

    let started = Instant::now();
    set_weight(&ns, &["11", "--time=2"]);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_saved(&ns, &saved_with_weight("11"));
}

/// The weight of 10.1.0.1:8080 in `MODEL`'s first service, as ipvsadm saves it.
fn first_weight(ns: &Netns) -> u32 {
    let saved = ns.saved();
    let line = saved.lines().find(|l| l.contains("-r 10.1.0.1:8080"));
    let line = line.unwrap_or_else(|| panic!("no 10.1.0.1:8080 in\n{saved}"));
    let weight = line.split_whitespace().skip_while(|w| *w != "-w").nth(1);
    weight.and_then(|w| w.parse().ok()).unwrap()
}

/// A health checker sets a failed server's weight to 0 while an operator's ramp runs: the
/// ramp stops at its next step and leaves the checker's weight.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_weight_ramp_stops_when_someone_else_sets_the_weight() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    let ramp = ns
        .ipvsrs_command(&[
            "weight",
            "103",
            "--service=tcp://10.0.0.1:80",
            "--destination=10.1.0.1:8080",
            "--time=10",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while first_weight(&ns) == 3 {
        assert!(Instant::now() < deadline, "the ramp took no step");
        std::thread::sleep(Duration::from_millis(20));
    }
    ns.ipvsadm(&[
        "-e",
        "-t",
        "10.0.0.1:80",
        "-r",
        "10.1.0.1:8080",
        "-m",
        "-w",
        "0",
    ]);
    let out = ramp.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the weight of 10.1.0.1:8080 in tcp://10.0.0.1:80 was set to 0 by someone else"
        ),
        "{stderr}"
    );
    assert_eq!(first_weight(&ns), 0);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn weight_of_an_unknown_destination_fails() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    let out = ns.ipvsrs(&[
        "weight",
        "5",
        "--service=tcp://10.0.0.1:80",
        "--destination=10.9.9.9:80",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10.9.9.9:80"));
    assert_saved(&ns, MODEL_SAVED);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn allowed_actions_refuse_the_whole_changeset() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    // Updating a weight is allowed, deleting the udp service is not.
    let changed = MODEL.replace("weight: 2", "weight: 5");
    let changed = &changed[..changed.find("  - address: udp").unwrap()];
    let path = ns.model_file("changed", changed);
    let path = path.to_str().unwrap();
    let out = ns.ipvsrs(&["apply", "-f", path, "--allowed-actions=ud,ad"]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("delete service udp://10.0.0.2:53"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_saved(&ns, MODEL_SAVED);

    ns.ipvsrs_exits(&["apply", "-f", path, "--allowed-actions=ud,ds"], 0);
    let mut saved = MODEL_SAVED[..3].to_vec();
    saved[2] = "-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 5";
    assert_saved(&ns, &saved);
}

/// `MODEL` with 10.1.0.2 at weight 5 and a multicast destination, which the kernel
/// refuses (EINVAL) after the weight update has been made.
fn failing_model() -> String {
    let changed = MODEL.replace("weight: 2", "weight: 5");
    format!("{changed}      - address: 224.0.0.1\n")
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_failed_apply_is_rolled_back_and_exits_1() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    let path = ns.model_file("failing", &failing_model());
    let path = path.to_str().unwrap();
    let failed = "failed: add destination 224.0.0.1:53 to udp://10.0.0.2:53 (weight 1): ";
    // By default only the failed step, and on stderr that the other was rolled back.
    let out = ns.ipvsrs(&["apply", "-f", path]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with(failed), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("apply failed (1 of 2 changes); the changes made were rolled back"),
        "{stderr}"
    );
    assert_saved(&ns, MODEL_SAVED);
    // Verbose: every step.
    let out = ns.ipvsrs(&["apply", "-f", path, "-v"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(
        lines[0],
        "ok: update destination 10.1.0.2:8080 of tcp://10.0.0.1:80 (weight 2 -> 5)"
    );
    assert!(lines[1].starts_with(failed), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("rolled back"));
    assert_saved(&ns, MODEL_SAVED);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_dry_run_prints_the_changes_and_makes_none() {
    let ns = Netns::new();
    ns.apply_model("model", MODEL);
    let path = ns.model_file("failing", &failing_model());
    let path = path.to_str().unwrap();
    let printed = ns.ipvsrs_exits(&["apply", "-f", path, "--dry-run", "-v"], 0);
    let diff: Vec<String> = ns
        .ipvsrs_exits(&["diff", "-f", path], 0)
        .lines()
        .map(|change| format!("would {change}"))
        .collect();
    assert_eq!(printed.lines().collect::<Vec<_>>(), diff);
    assert_eq!(diff.len(), 2, "{printed}");
    let summary = ns.ipvsrs_exits(&["apply", "-f", path, "--dry-run"], 0);
    assert_eq!(
        summary,
        "would apply 2 changes: 1 add-destination, 1 update-destination\n"
    );
    assert_saved(&ns, MODEL_SAVED);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn list_prints_what_ipvsadm_prints() {
    let ns = Netns::new();
    ns.ipvsadm_each(IPVSADM_TABLE);
    for (ours, theirs) in [
        (&["list"][..], &["-Ln"][..]),
        (&["list", "--stats"], &["-Ln", "--stats", "--exact"]),
        (&["list", "--rate"], &["-Ln", "--rate", "--exact"]),
    ] {
        let listed = settled(|| ns.ipvsrs_exits(ours, 0));
        assert_eq!(listed, ns.ipvsadm_listing(theirs), "ipvsrs {ours:?}");
    }
    let out = ns.ipvsrs(&["list", "--stats", "--rate"]);
    assert_eq!(out.status.code(), Some(2), "two views at once");
}

/// Reads a JSON document with Python's parser and prints `script`'s lines for it.
fn with_python_json(json: &str, script: &str) -> String {
    let python = format!("import json, sys\nd = json.load(sys.stdin)\n{script}");
    let out = output_with_input(Command::new("python3").args(["-c", &python]), json);
    assert!(out.status.success(), "python3 could not read {json}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn list_json_has_every_setting_and_all_ten_counters() {
    let ns = Netns::new();
    ns.ipvsadm_each(&[
        "-A -t 10.0.0.1:80 -s wrr -p 60 -M 255.255.255.0",
        "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 5 -x 50 -y 5",
        "-a -t 10.0.0.1:80 -r 10.1.0.2 -i -w 4 --tun-type gue --tun-port 6080",
        "-A -f 7 -6 -s sh",
        "-a -f 7 -6 -r [2001:db8::2]:0 -g -w 3",
    ]);
    let json = ns.ipvsrs_exits(&["list", "--json"], 0);
    let summary = with_python_json(
        &json,
        "counters = ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes',\n\
         \x20           'cps', 'inpps', 'outpps', 'inbps', 'outbps']\n\
         for s in d['services']:\n\
         \x20   assert sorted(s['stats']) == sorted(counters), s['stats']\n\
         \x20   print(s['service'], s['family'], s['scheduler'], s['persistent'], s['timeout'], s['netmask'])\n\
         \x20   for t in s['destinations']:\n\
         \x20       assert sorted(t['stats']) == sorted(counters), t['stats']\n\
         \x20       print(' ', t['address'], t['port'], t['forward'], t['weight'],\n\
         \x20             t['upper_threshold'], t['lower_threshold'], t['tunnel']['type'], t['tunnel']['port'])\n\
         print(d['version'], d['conn_tab_size'] > 0)",
    );
    let expected = "\
tcp://10.0.0.1:80 inet wrr True 60 255.255.255.0
  10.1.0.1 8080 masq 5 50 5 ipip 0
  10.1.0.2 80 tunnel 4 0 0 gue 6080
fwmark6:7 inet6 sh False 0 128
  2001:db8::2 0 route 3 0 0 ipip 0
1.2.1 True
";
    assert_eq!(summary, expected, "{json}");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn metrics_in_prometheus_pass_promtool_and_in_influx_name_every_server() {
    let ns = Netns::new();
    ns.ipvsadm_each(&[
        "-A -t 10.0.0.1:80 -s wrr",
        "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 5",
        "-A -f 7 -6 -s sh",
        "-a -f 7 -6 -r [2001:db8::2]:0 -g -w 3",
    ]);
    let prometheus = ns.ipvsrs_exits(&["metrics"], 0);
    assert_eq!(
        prometheus,
        ns.ipvsrs_exits(&["metrics", "--format", "prometheus"], 0),
        "prometheus is the default"
    );
    let checked = output_with_input(
        Command::new("promtool").args(["check", "metrics"]),
        &prometheus,
    );
    let complaints = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "promtool: {complaints}");
    assert_eq!(complaints, "", "promtool");
    assert!(
        prometheus.contains("ipvs_real_server_weight{address=\"10.1.0.1\",address_family=\"inet\",port=\"8080\",virtual_address=\"10.0.0.1\",virtual_port=\"80\",virtual_protocol=\"tcp\"} 5\n"),
        "{prometheus}"
    );
    let influx = ns.ipvsrs_exits(&["metrics", "--format", "influx"], 0);
    let weights: Vec<&str> = influx
        .lines()
        .filter(|line| line.starts_with("ipvs_real_server,"))
        .filter_map(|line| line.split([' ', ',']).find(|f| f.starts_with("weight=")))
        .collect();
    assert_eq!(weights, ["weight=5i", "weight=3i"], "{influx}");
}
