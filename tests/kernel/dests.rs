//! Destinations (real servers): every attribute written with our handle comes back
//! unchanged from the dump, in the kernel's order, and ipvsadm sees the same.

use ipvsrs::model::{
    Destination, Forward, Service, ServiceKey, Stats, Tunnel, TunnelFlags, TunnelType,
};
use ipvsrs::Handle;

use crate::ipvsadm_compat::{persistent_conn_row, plain_row, row, threshold_row, Row};
use crate::support::{assert_saved, ip, run, Netns};

/// A namespace holding the round-robin TCP service `addr:80`, and a handle on it.
fn with_service(addr: &str) -> (Netns, Handle, ServiceKey) {
    let ns = Netns::new();
    let mut h = ns.handle();
    let key = ServiceKey::tcp(ip(addr), 80);
    h.add_service(&Service::new(key, "rr")).unwrap();
    (ns, h, key)
}

pub fn dest(addr: &str, port: u16, forward: Forward) -> Destination {
    Destination::new(ip(addr), port, forward)
}

/// A tunnel destination `addr:80`; `port` is the tunnel's (GUE) port.
pub fn tunnel(addr: &str, kind: TunnelType, port: u16, flags: TunnelFlags) -> Destination {
    Destination {
        tunnel: Tunnel { kind, port, flags },
        ..dest(addr, 80, Forward::Tunnel)
    }
}

fn add_all(h: &mut Handle, key: &ServiceKey, dests: &[Destination]) {
    for d in dests {
        h.add_dest(key, d).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The service's destinations as the kernel lists them.
fn listed(h: &mut Handle, key: &ServiceKey) -> Vec<Destination> {
    h.dests(key).unwrap().into_iter().map(|e| e.dest).collect()
}

/// The kernel lists the newest destination first.
fn newest_first(added: &[Destination]) -> Vec<Destination> {
    added.iter().rev().cloned().collect()
}

/// Adds `dests` to `key` and checks the kernel lists them as written, newest first.
fn assert_round_trip(h: &mut Handle, key: &ServiceKey, dests: &[Destination]) {
    add_all(h, key, dests);
    assert_eq!(listed(h, key), newest_first(dests));
}

/// ipvsadm's `-L` line for a destination without connections.
fn list_row(addr_port: &'static str, forward: &'static str, weight: i32) -> String {
    plain_row(&row(addr_port, forward, weight, "n/a"))
}

/// The destination lines of `ipvsadm -Ln OPTIONS` for a table of one service.
fn listed_dests(ns: &Netns, options: &[&str]) -> Vec<String> {
    let args: Vec<&str> = ["-Ln"].iter().chain(options).copied().collect();
    // The version line, two title lines and the service line come first.
    ns.ipvsadm(&args)
        .lines()
        .skip(4)
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn masq_route_and_tunnel_forwarding_round_trip() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    assert_round_trip(
        &mut h,
        &key,
        &[
            dest("10.0.0.2", 8080, Forward::Masq),
            dest("10.0.0.3", 80, Forward::Route),
            dest("10.0.0.4", 80, Forward::Tunnel),
        ],
    );
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 1",
            "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1",
            "-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 1 --tun-type ipip",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn local_forwarding_to_an_address_of_the_director() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    ns.ip(&["addr", "add", "10.0.0.9/32", "dev", "lo"]);
    assert_round_trip(&mut h, &key, &[dest("10.0.0.9", 8080, Forward::Local)]);
    assert_eq!(
        listed_dests(&ns, &[]),
        [list_row("10.0.0.9:8080", "Local", 1)]
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn bypass_forwarding_is_kept_as_written() {
    let (_ns, mut h, key) = with_service("10.0.0.1");
    assert_round_trip(&mut h, &key, &[dest("10.0.0.2", 80, Forward::Bypass)]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn weights_zero_to_int_max_round_trip() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    let weighted = |addr, weight| Destination {
        weight,
        ..dest(addr, 80, Forward::Route)
    };
    // ipvsadm stops at 65535; the kernel takes any non-negative int.
    assert_round_trip(
        &mut h,
        &key,
        &[
            weighted("10.0.0.2", 0),
            weighted("10.0.0.3", 65535),
            weighted("10.0.0.4", i32::MAX),
        ],
    );
    assert_eq!(
        listed_dests(&ns, &[]),
        [
            list_row("10.0.0.2:80", "Route", 0),
            list_row("10.0.0.3:80", "Route", 65535),
            list_row("10.0.0.4:80", "Route", i32::MAX),
        ]
    );
}

const MAX_THRESHOLD: u32 = i32::MAX as u32;

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn connection_thresholds_round_trip() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    let limited = |addr, upper_threshold, lower_threshold| Destination {
        upper_threshold,
        lower_threshold,
        ..dest(addr, 80, Forward::Masq)
    };
    assert_round_trip(
        &mut h,
        &key,
        &[
            limited("10.0.0.2", 1000, 200),
            limited("10.0.0.3", 5, 0),
            // The kernel caps thresholds at INT_MAX (EINVAL above, since the 2026 overload-flag
            // fix), as ipvsadm does.
            limited("10.0.0.4", MAX_THRESHOLD, MAX_THRESHOLD),
        ],
    );
    let limits = |dest, upper, lower| {
        threshold_row(&Row {
            upper,
            lower,
            ..row(dest, "Masq", 1, "n/a")
        })
    };
    assert_eq!(
        listed_dests(&ns, &["--thresholds"]),
        [
            limits("10.0.0.2:80", 1000, 200),
            limits("10.0.0.3:80", 5, 0),
            limits("10.0.0.4:80", MAX_THRESHOLD, MAX_THRESHOLD),
        ]
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn tunnel_types_ports_and_checksum_flags_round_trip() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    use TunnelFlags as C;
    use TunnelType::*;
    assert_round_trip(
        &mut h,
        &key,
        &[
            tunnel("10.0.0.2", Ipip, 0, C::NOCSUM),
            tunnel("10.0.0.3", Gue, 6080, C::NOCSUM),
            tunnel("10.0.0.4", Gue, 6081, C::CSUM),
            tunnel("10.0.0.5", Gue, 65535, C::REMCSUM),
            tunnel("10.0.0.6", Gre, 0, C::NOCSUM),
            tunnel("10.0.0.7", Gre, 0, C::CSUM),
        ],
    );
    let a = "-a -t 10.0.0.1:80 -r";
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr".to_owned(),
            format!("{a} 10.0.0.2:80 -i -w 1 --tun-type ipip"),
            format!("{a} 10.0.0.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum"),
            format!("{a} 10.0.0.4:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-csum"),
            format!("{a} 10.0.0.5:80 -i -w 1 --tun-type gue --tun-port 65535 --tun-remcsum"),
            format!("{a} 10.0.0.6:80 -i -w 1 --tun-type gre --tun-nocsum"),
            format!("{a} 10.0.0.7:80 -i -w 1 --tun-type gre --tun-csum"),
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipv6_destinations_round_trip() {
    let (ns, mut h, key) = with_service("2001:db8::1");
    assert_round_trip(
        &mut h,
        &key,
        &[
            dest("2001:db8::2", 8080, Forward::Masq),
            dest("2001:db8::3", 80, Forward::Route),
            tunnel("2001:db8::4", TunnelType::Gue, 6080, TunnelFlags::CSUM),
        ],
    );
    assert_saved(&ns, &[
        "-A -t [2001:db8::1]:80 -s rr",
        "-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m -w 1",
        "-a -t [2001:db8::1]:80 -r [2001:db8::3]:80 -g -w 1",
        "-a -t [2001:db8::1]:80 -r [2001:db8::4]:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum",
    ]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn other_family_destinations_only_through_a_tunnel() {
    let (ns, mut h, v4) = with_service("10.0.0.1");
    let v6 = ServiceKey::tcp(ip("2001:db8::1"), 80);
    h.add_service(&Service::new(v6, "rr")).unwrap();

    use TunnelType::{Gre, Ipip};
    assert_round_trip(
        &mut h,
        &v4,
        &[tunnel("2001:db8::2", Ipip, 0, TunnelFlags::NOCSUM)],
    );
    assert_round_trip(
        &mut h,
        &v6,
        &[tunnel("10.0.0.2", Gre, 0, TunnelFlags::CSUM)],
    );
    for (key, addr) in [(v4, "2001:db8::3"), (v6, "10.0.0.3")] {
        let err = h
            .add_dest(&key, &dest(addr, 80, Forward::Masq))
            .unwrap_err();
        assert_eq!(err.errno(), libc::EINVAL, "{err}");
    }
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -i -w 1 --tun-type ipip",
            "-A -t [2001:db8::1]:80 -s rr",
            "-a -t [2001:db8::1]:80 -r 10.0.0.2:80 -i -w 1 --tun-type gre --tun-csum",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn update_dest_replaces_every_setting_in_place() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    let older = dest("10.0.0.2", 8080, Forward::Masq);
    let newer = dest("10.0.0.3", 80, Forward::Route);
    add_all(&mut h, &key, &[older.clone(), newer.clone()]);

    // Same identity as `older` (address and port), everything else changed.
    let updated = Destination {
        port: 8080,
        weight: 7,
        upper_threshold: 100,
        lower_threshold: 10,
        ..tunnel("10.0.0.2", TunnelType::Gue, 6080, TunnelFlags::REMCSUM)
    };
    h.update_dest(&key, &updated).unwrap();
    assert_eq!(listed(&mut h, &key), [newer, updated]);
    assert_saved(&ns, &[
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -i -w 7 --tun-type gue --tun-port 6080 --tun-remcsum",
        "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1",
    ]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn del_dest_removes_only_that_dest() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    let dests = [
        dest("10.0.0.2", 80, Forward::Masq),
        dest("10.0.0.2", 81, Forward::Masq),
        dest("10.0.0.3", 80, Forward::Masq),
    ];
    add_all(&mut h, &key, &dests);

    // Same address, other port: the port is part of the identity.
    h.del_dest(&key, &dests[1].key()).unwrap();
    assert_eq!(listed(&mut h, &key), [dests[2].clone(), dests[0].clone()]);
    assert_eq!(
        h.del_dest(&key, &dests[1].key()).unwrap_err().errno(),
        libc::ENOENT
    );
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1",
            "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -m -w 1",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn destinations_are_listed_newest_first() {
    let (_ns, mut h, key) = with_service("10.0.0.1");
    // Neither address nor port order, so only the order of addition explains the listing.
    let dests: Vec<Destination> = ["10.0.0.5", "10.0.0.2", "10.0.0.9", "10.0.0.3", "10.0.0.7"]
        .into_iter()
        .map(|a| dest(a, 80, Forward::Route))
        .collect();
    assert_round_trip(&mut h, &key, &dests);

    // Re-adding a deleted destination puts it first again.
    h.del_dest(&key, &dests[0].key()).unwrap();
    h.add_dest(&key, &dests[0]).unwrap();
    let mut expected = vec![dests[0].clone()];
    expected.extend(newest_first(&dests[1..]));
    assert_eq!(listed(&mut h, &key), expected);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn fresh_destination_has_zero_counters_and_stats() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    add_all(&mut h, &key, &[dest("10.0.0.2", 80, Forward::Masq)]);
    let entries = h.dests(&key).unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.active_conns, e.inactive_conns, e.persistent_conns),
        (0, 0, 0)
    );
    assert_eq!(e.stats, Stats::default());
    assert_eq!(h.service(&key).unwrap().stats, Stats::default());
    let counters = persistent_conn_row(&row("10.0.0.2:80", "Masq", 1, "n/a"));
    assert_eq!(listed_dests(&ns, &["--persistent-conn"]), [counters]);
}

/// The kernel stores a forwarding method or tunnel type it has no name for (as a newer
/// kernel's would look): the listings keep the destination, with its number, instead of
/// failing the whole service, and a model that names the method puts it right.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn destinations_with_unknown_methods_are_listed_as_numbers() {
    let (ns, mut h, key) = with_service("10.0.0.1");
    let unknown_method = dest("10.0.0.2", 80, Forward::Unknown(5));
    let unknown_tunnel = tunnel("10.0.0.3", TunnelType::Unknown(7), 0, TunnelFlags::NOCSUM);
    let plain = dest("10.0.0.4", 80, Forward::Masq);
    assert_round_trip(&mut h, &key, &[unknown_method, unknown_tunnel, plain]);

    let listing = ns.ipvsrs_exits(&["list"], 0);
    let row = |addr: &str| {
        let line = listing.lines().find(|l| l.contains(addr));
        line.unwrap_or_else(|| panic!("no {addr} in\n{listing}"))
            .split_whitespace()
            .nth(2)
    };
    assert_eq!(row("10.0.0.2:80"), Some("5"), "{listing}");
    assert_eq!(row("10.0.0.3:80"), Some("Tunnel"), "{listing}");
    assert_eq!(row("10.0.0.4:80"), Some("Masq"), "{listing}");
    let got = ns.ipvsrs_exits(&["get"], 0);
    assert!(got.contains("forward: 5"), "{got}");
    assert!(got.contains("type: 7"), "{got}");
    let python = "import ipvsrs\nwith ipvsrs.Handle() as h:\n    \
                  print(sorted((d.address, d.forward) for d in h.services()[0].dests))";
    let seen = run(ns.python().args(["-c", python]));
    assert_eq!(
        seen.trim(),
        "[('10.0.0.2', '5'), ('10.0.0.3', 'tunnel'), ('10.0.0.4', 'nat')]"
    );

    let model = "services:\n  - address: tcp://10.0.0.1:80\n    sched: rr\n    destinations:\n      \
                 - address: 10.0.0.2:80\n        forward: nat\n      \
                 - address: 10.0.0.3:80\n        forward: tunnel\n        tunnel: {type: gre}\n      \
                 - address: 10.0.0.4:80\n        forward: nat\n";
    ns.apply_model("named", model);
    let methods: Vec<(String, Forward, TunnelType)> = h
        .dests(&key)
        .unwrap()
        .into_iter()
        .map(|e| (e.dest.addr.to_string(), e.dest.forward, e.dest.tunnel.kind))
        .collect();
    assert!(
        methods.contains(&("10.0.0.2".into(), Forward::Masq, TunnelType::Ipip)),
        "{methods:?}"
    );
    assert!(
        methods.contains(&("10.0.0.3".into(), Forward::Tunnel, TunnelType::Gre)),
        "{methods:?}"
    );
}
