//! The operators' programs of c-examples/ (built by `make c-tests` through pkg-config)
//! against the kernel: ipvs-list prints what `ipvsadm -Ln` prints in each view, and
//! ipvs-metrics renders a scrape that promtool accepts and that names every server.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{c_binary, run, settled, Netns, IPVSADM_TABLE};

fn example(ns: &Netns, name: &str, args: &[&str]) -> String {
    run(Command::new(c_binary(name))
        .args(["--netns", ns.path().to_str().unwrap()])
        .args(args))
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipvs_list_prints_what_ipvsadm_prints() {
    let ns = Netns::new();
    ns.ipvsadm_each(IPVSADM_TABLE);
    for (ours, theirs) in [
        (&[][..], &["-Ln"][..]),
        (&["--stats"], &["-Ln", "--stats", "--exact"]),
        (&["--rate"], &["-Ln", "--rate", "--exact"]),
    ] {
        let listed = settled(|| example(&ns, "ipvs-list", ours));
        assert_eq!(listed, ns.ipvsadm_listing(theirs), "ipvs-list {ours:?}");
    }
    let out = Command::new(c_binary("ipvs-list"))
        .args(["--netns", "/nonexistent/netns"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/netns"));
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipvs_metrics_in_influx_and_prometheus() {
    let ns = Netns::new();
    ns.ipvsadm_each(&[
        "-A -t 10.0.0.1:80 -s wrr -p 60 -M 255.255.255.0",
        "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 5",
        "-A -f 7 -6 -s sh",
        "-a -f 7 -6 -r [2001:db8::2]:0 -g -w 3",
    ]);
    // Each scrape has its own timestamp; ipvsrs drops the repeats churn causes in a dump.
    let influx = example(&ns, "ipvs-metrics", &["--format", "influx"]);
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut lines: Vec<&str> = Vec::new();
    for line in influx.lines() {
        let (rest, stamp) = line.rsplit_once(' ').unwrap();
        let stamp: u128 = stamp.parse().unwrap();
        assert!(
            now_ns.abs_diff(stamp) < 60_000_000_000,
            "timestamp {stamp} in {line}"
        );
        lines.push(rest);
    }
    lines.sort();
    let zeros = "connections=0i,pkts_in=0i,pkts_out=0i,bytes_in=0i,bytes_out=0i,cps=0i,pps_in=0i,pps_out=0i,bps_in=0i,bps_out=0i";
    let mut expected = vec![
        format!("ipvs_real_server,address=10.1.0.1,address_family=inet,port=8080,virtual_address=10.0.0.1,virtual_port=80,virtual_protocol=tcp active_connections=0i,inactive_connections=0i,weight=5i,{zeros}"),
        format!("ipvs_real_server,address=2001:db8::2,address_family=inet6,port=0,virtual_fwmark=7 active_connections=0i,inactive_connections=0i,weight=3i,{zeros}"),
        format!("ipvs_virtual_server,address=10.0.0.1,address_family=inet,netmask=24,port=80,protocol=tcp,sched=wrr {zeros}"),
        format!("ipvs_virtual_server,address_family=inet6,fwmark=7,netmask=128,sched=sh {zeros}"),
    ];
    expected.sort();
    assert_eq!(lines, expected);

    let prometheus = settled(|| example(&ns, "ipvs-metrics", &["--format", "prometheus"]));
    let path = std::env::temp_dir().join(format!("{}-metrics.prom", ns.name));
    std::fs::write(&path, &prometheus).unwrap();
    let checked = Command::new("sh")
        .arg("-c")
        .arg(format!("promtool check metrics < {}", path.display()))
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "promtool: {complaints}");
    assert_eq!(complaints, "", "promtool");
    assert!(prometheus.contains("ipvs_real_server_weight{address=\"10.1.0.1\",address_family=\"inet\",port=\"8080\",virtual_address=\"10.0.0.1\",virtual_port=\"80\",virtual_protocol=\"tcp\"} 5\n"), "{prometheus}");
    let _ = std::fs::remove_file(path);
}
