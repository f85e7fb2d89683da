use std::net::Ipv4Addr;

use ipvsrs::model::{Destination, Forward, Service, ServiceKey};
use ipvsrs::wire::Request;
use ipvsrs::Handle;

use crate::support::{assert_saved, keys_of, run, sorted_keys, Netns};

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn open_reports_version_and_table_size() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let info = h.info().unwrap();
    assert_eq!(info.version, 0x010201);
    let header = ns.ipvsadm(&["-Ln"]);
    let expected = format!(
        "IP Virtual Server version 1.2.1 (size={})",
        info.conn_tab_size
    );
    assert!(header.starts_with(&expected), "{header}");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn handle_in_namespace_writes_only_there() {
    let ns = Netns::new();
    let other = Netns::new();
    let mut h = ns.handle();
    let key = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
    h.add_service(&Service::new(key, "rr")).unwrap();
    h.add_dest(
        &key,
        &Destination::new("10.0.0.2".parse().unwrap(), 80, Forward::Masq),
    )
    .unwrap();
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1",
        ],
    );
    assert_saved(&other, &[] as &[&str]);
    assert!(Handle::open_in_netns(other.path())
        .unwrap()
        .services()
        .unwrap()
        .is_empty());
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn opening_in_a_namespace_leaves_the_calling_thread_where_it_was() {
    use std::os::unix::fs::MetadataExt;
    let here = || std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
    let ns = Netns::new();
    let before = here();
    let target = std::fs::metadata(ns.path()).unwrap().ino();
    assert_ne!(before, target);
    let mut h = Handle::open_in_netns(ns.path()).unwrap();
    h.add_service(&Service::new(
        ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80),
        "rr",
    ))
    .unwrap();
    assert_eq!(here(), before);
    // The handle's counting socket is in its namespace too.
    assert_eq!(h.service_count(), Some(1));
    assert_saved(&ns, &["-A -t 10.0.0.1:80 -s rr"]);
}

/// Answers the kernel dropped for the netlink sockets of `ns`: the Drops column of
/// /proc/net/netlink, read inside it (the file lists the reader's namespace only).
fn netlink_drops(ns: &Netns) -> u64 {
    let table = run(ns.exec("cat").arg("/proc/net/netlink"));

    let drops_column = table
        .lines()
        .next()
        .and_then(|header| header.split_whitespace().position(|c| c == "Drops"))
        .expect("a Drops column");
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().nth(drops_column).unwrap())
        .map(|n| n.parse::<u64>().unwrap())
        .sum()
}

/// A batch whose answers overflow a tiny receive buffer: the kernel drops answers (its
/// count of them goes up), and still every outcome is the kernel's: each add done, each
/// destination for a missing service refused with ESRCH, the table exactly the adds.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_batch_whose_answers_were_dropped_reports_every_outcome_exactly() {
    let ns = Netns::new();
    let mut h = ns.handle();
    h.set_receive_buffer(1).unwrap();
    let services: Vec<Service> = (0..600u32)
        .map(|i| {
            Service::new(
                ServiceKey::tcp(Ipv4Addr::from(0x0a00_0000 + i).into(), 80),
                "rr",
            )
        })
        .collect();
    let missing = ServiceKey::tcp("10.255.0.1".parse().unwrap(), 80);
    let dest = Destination::new("192.0.2.1".parse().unwrap(), 80, Forward::Masq);
    let mut requests = Vec::new();
    for (i, service) in services.iter().enumerate() {
        requests.push(Request::NewService(service));
        if i % 10 == 0 {
            requests.push(Request::NewDest(&missing, &dest));
        }
    }
    let before = netlink_drops(&ns);
    let outcomes = h.execute(&requests);
    let dropped = netlink_drops(&ns) - before;
    assert!(dropped > 0, "no answer was dropped, so this shows nothing");
    for (request, outcome) in requests.iter().zip(&outcomes) {
        match request {
            Request::NewService(_) => assert!(outcome.is_ok(), "{request}: {outcome:?}"),
            _ => assert_eq!(
                outcome.as_ref().map_err(|e| e.errno()),
                Err(libc::ESRCH),
                "{request}"
            ),
        }
    }
    assert_eq!(sorted_keys(h.services().unwrap()), keys_of(&services));
    eprintln!(
        "{dropped} answers dropped; {} outcomes exact",
        outcomes.len()
    );
}

/// A table of both families, too big for one dump part: the sockopt count has only the
/// IPv4 services, and the listing has every service of both once.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_mixed_table_lists_each_service_once() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let mut services = Vec::new();
    for i in 0..400u32 {
        let v6 = std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i));
        services.push(Service::new(
            ServiceKey::tcp(Ipv4Addr::from(0x0a00_0000 + i).into(), 80),
            "rr",
        ));
        services.push(Service::new(ServiceKey::tcp(v6.into(), 80), "rr"));
    }
    let adds: Vec<Request<'_>> = services.iter().map(Request::NewService).collect();
    assert!(h.execute(&adds).iter().all(Result::is_ok));
    assert_eq!(h.service_count(), Some(400));
    assert_eq!(sorted_keys(h.services().unwrap()), keys_of(&services));
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn many_services_destinations_read_at_once_are_each_services_own() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let mut requests = Vec::new();
    let services: Vec<Service> = (0..600u32)
        .map(|i| {
            let addr = Ipv4Addr::from(0x0a00_0000 + i);
            Service::new(ServiceKey::tcp(addr.into(), 80), "wrr")
        })
        .collect();
    // Service i has i % 7 destinations, so a share read on the wrong socket shows.
    let dests: Vec<Vec<Destination>> = (0..600u32)
        .map(|i| {
            (0..i % 7)
                .map(|k| {
                    let addr = Ipv4Addr::from(0x0b00_0000 + i * 8 + k);
                    Destination::new(addr.into(), 80, Forward::Masq)
                })
                .collect()
        })
        .collect();
    for (service, its) in services.iter().zip(&dests) {
        requests.push(Request::NewService(service));
        requests.extend(its.iter().map(|d| Request::NewDest(&service.key, d)));
    }
    assert!(h.execute(&requests).iter().all(|r| r.is_ok()));
    // A key the table lacks has no destinations, as for Handle::dests.
    let mut keys: Vec<ServiceKey> = services.iter().map(|s| s.key).collect();
    keys.insert(300, ServiceKey::tcp("10.9.9.9".parse().unwrap(), 80));

    let at_once = h.dests_of(&keys).unwrap();
    let one_by_one: Vec<_> = keys.iter().map(|k| h.dests(k).unwrap()).collect();
    assert_eq!(at_once, one_by_one);
    assert!(at_once[300].is_empty());
    assert_eq!(at_once[7].len(), 0);
    assert_eq!(at_once[6].len(), 6);
    // Again, on the readers the handle kept.
    assert_eq!(h.dests_of(&keys).unwrap(), one_by_one);
    let with_dests = h.services_with_dests().unwrap();
    assert_eq!(with_dests.len(), 600);
    for (entry, listed) in &with_dests {
        let index = services
            .iter()
            .position(|s| s.key == entry.service.key)
            .unwrap();
        let mut listed: Vec<Destination> = listed.iter().map(|e| e.dest.clone()).collect();
        let mut added = dests[index].clone();
        listed.sort_by_key(|d| d.key());
        added.sort_by_key(|d| d.key());
        assert_eq!(listed, added, "service {index}");
    }
}

/// The settings read (IPVS's sockopt interface for IPv4 services, netlink for the rest
/// and for what that interface cannot tell whole) lists what a netlink read lists: every
/// forwarding method, weights and thresholds, firewall-mark services, tunnels (by netlink:
/// the interface has no tunnel settings), a destination of the other family (which the
/// interface leaves out: the service's count differs), IPv6 services, an empty service
/// and one that is not there.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn dest_settings_are_what_a_netlink_read_lists() {
    use ipvsrs::model::{Family, Tunnel, TunnelFlags, TunnelType};
    let ns = Netns::new();
    let mut h = ns.handle();
    let v4 = |addr: &str| ServiceKey::tcp(addr.parse().unwrap(), 80);
    let dest = |addr: &str, forward, weight| Destination {
        weight,
        ..Destination::new(addr.parse().unwrap(), 80, forward)
    };
    let tunnel = |addr: &str, kind| Destination {
        tunnel: Tunnel {
            kind,
            port: 6080,
            flags: TunnelFlags::NOCSUM,
        },
        ..dest(addr, Forward::Tunnel, 3)
    };
    let table: Vec<(ServiceKey, Vec<Destination>)> = vec![
        (
            v4("10.0.0.1"),
            vec![
                Destination {
                    upper_threshold: 100,
                    lower_threshold: 10,
                    ..dest("10.1.0.1", Forward::Masq, 5)
                },
                dest("10.1.0.2", Forward::Route, 0),
                dest("10.1.0.3", Forward::Bypass, 65535),
            ],
        ),
        (
            v4("10.0.0.2"),
            vec![
                tunnel("10.1.0.4", TunnelType::Gue),
                dest("10.1.0.5", Forward::Masq, 1),
            ],
        ),
        (
            v4("10.0.0.3"),
            vec![
                dest("10.1.0.6", Forward::Masq, 2),
                tunnel("2001:db8::6", TunnelType::Ipip),
            ],
        ),
        (
            ServiceKey::fwmark(Family::Inet, 7),
            vec![
                dest("10.1.0.7", Forward::Route, 7),
                dest("10.1.0.8", Forward::Route, 8),
            ],
        ),
        (
            ServiceKey::udp("2001:db8::1".parse().unwrap(), 53),
            vec![dest("2001:db8::9", Forward::Masq, 9)],
        ),
        (
            ServiceKey::fwmark(Family::Inet6, 8),
            vec![dest("2001:db8::10", Forward::Route, 1)],
        ),
        (v4("10.0.0.4"), vec![]),
    ];
    for (key, dests) in &table {
        h.add_service(&Service::new(*key, "wrr")).unwrap();
        for d in dests {
            h.add_dest(key, d).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let mut keys: Vec<ServiceKey> = table.iter().map(|(key, _)| *key).collect();
    keys.push(v4("10.9.9.9"));
    let settings = h.dest_settings_of(&keys).unwrap();
    let by_netlink = h.dests_of(&keys).unwrap();
    assert_eq!(settings, by_netlink);
    for ((key, written), listed) in table.iter().zip(&settings) {
        let mut listed: Vec<Destination> = listed.iter().map(|e| e.dest.clone()).collect();
        let mut written = written.clone();
        listed.sort_by_key(Destination::key);
        written.sort_by_key(Destination::key);
        assert_eq!(listed, written, "{key}");
    }
    assert!(settings.last().unwrap().is_empty());
    let with_settings = h.services_with_dest_settings().unwrap();
    assert_eq!(with_settings.len(), table.len());
}
