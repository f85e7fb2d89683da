//! Virtual services: every attribute written with our handle comes back unchanged from
//! GET_SERVICE and from the dump, and ipvsadm sees the same table.

use ipvsrs::model::{Destination, Family, Forward, Protocol, Service, ServiceFlags, ServiceKey};
use ipvsrs::Handle;

use crate::support::{assert_fails, assert_saved, ip, kernel_version, Netns};

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::tcp(ip(addr), port)
}

fn udp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::udp(ip(addr), port)
}

pub fn with_flags(key: ServiceKey, scheduler: &str, flags: ServiceFlags) -> Service {
    Service {
        flags,
        ..Service::new(key, scheduler)
    }
}

/// `service` made persistent: `timeout` seconds per client network `netmask`.
pub fn persistent(service: Service, timeout: u32, netmask: u32) -> Service {
    let flags = service.flags | ServiceFlags::PERSISTENT;
    Service {
        flags,
        timeout,
        netmask,
        ..service
    }
}

/// `service` with the SIP persistence engine.
pub fn with_sip(service: Service) -> Service {
    Service {
        pe_name: Some("sip".into()),
        ..service
    }
}

fn wlc(key: ServiceKey) -> Service {
    Service::new(key, "wlc")
}

/// A service as the kernel reports it, minus HASHED, which the kernel sets on every
/// service in its table (checked here).
fn user_view(s: Service) -> Service {
    assert!(
        s.flags.contains(ServiceFlags::HASHED),
        "{}: flags {:?}",
        s.key,
        s.flags
    );
    Service {
        flags: s.flags.user(),
        ..s
    }
}

/// The dump holds exactly `expected` (in any order), and GET_SERVICE answers the same
/// for each of them.
fn assert_table(h: &mut Handle, expected: &[Service]) {
    let mut dumped: Vec<Service> = h
        .services()
        .unwrap()
        .into_iter()
        .map(|e| user_view(e.service))
        .collect();
    dumped.sort_by_key(|s| s.key);
    let mut want = expected.to_vec();
    want.sort_by_key(|s| s.key);
    assert_eq!(dumped, want);
    for s in expected {
        assert_eq!(user_view(h.service(&s.key).unwrap().service), *s);
    }
}

fn add_all(h: &mut Handle, services: &[Service]) {
    for s in services {
        h.add_service(s).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Adds `services` and checks they read back exactly as written.
fn assert_round_trip(h: &mut Handle, services: &[Service]) {
    add_all(h, services);
    assert_table(h, services);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn tcp_udp_and_sctp_services_round_trip_in_both_families() {
    let ns = Netns::new();
    let mut h = ns.handle();
    // One address and port per family: the protocol alone tells the services apart.
    let services: Vec<Service> = [ip("10.0.0.1"), ip("2001:db8::1")]
        .into_iter()
        .flat_map(|addr| {
            [Protocol::Tcp, Protocol::Udp, Protocol::Sctp].map(|protocol| {
                Service::new(
                    ServiceKey::Addr {
                        protocol,
                        addr,
                        port: 8080,
                    },
                    "rr",
                )
            })
        })
        .collect();
    assert_round_trip(&mut h, &services);
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:8080 -s rr",
            "-A -u 10.0.0.1:8080 -s rr",
            "-A --sctp-service 10.0.0.1:8080 -s rr",
            "-A -t [2001:db8::1]:8080 -s rr",
            "-A -u [2001:db8::1]:8080 -s rr",
            "-A --sctp-service [2001:db8::1]:8080 -s rr",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn fwmark_services_with_the_same_mark_coexist_in_both_families() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let v4 = Service::new(ServiceKey::fwmark(Family::Inet, 7), "rr");
    let v6 = Service::new(ServiceKey::fwmark(Family::Inet6, 7), "wlc");
    assert_round_trip(&mut h, &[v4.clone(), v6.clone()]);
    assert_saved(&ns, &["-A -f 7 -s rr", "-A -f 7 -6 -s wlc"]);

    h.del_service(&v4.key).unwrap();
    assert_table(&mut h, &[v6]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn every_scheduler_round_trips() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let schedulers = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    ];
    let services: Vec<Service> = (1..)
        .zip(schedulers)
        .map(|(port, sched)| Service::new(tcp("10.0.0.1", port), sched))
        .collect();
    assert_round_trip(&mut h, &services);
    let saved: Vec<String> = (1..)
        .zip(schedulers)
        .map(|(port, s)| format!("-A -t 10.0.0.1:{port} -s {s}"))
        .collect();
    assert_saved(&ns, &saved);
}

/// The power-of-two-choices scheduler came with Linux 6.7: Debian's 6.12 has it, its 6.1
/// answers as for any unknown scheduler.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn twos_is_there_from_linux_6_7() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let twos = Service::new(tcp("10.0.0.1", 80), "twos");
    if kernel_version() >= (6, 7) {
        assert_round_trip(&mut h, std::slice::from_ref(&twos));
        assert_saved(&ns, &["-A -t 10.0.0.1:80 -s twos"]);
    } else {
        assert_fails(
            h.add_service(&twos),
            libc::ENOENT,
            "adding service tcp://10.0.0.1:80",
        );
        assert!(h.services().unwrap().is_empty());
    }
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn scheduler_flags_round_trip() {
    let ns = Netns::new();
    let mut h = ns.handle();
    use ServiceFlags as F;
    assert_round_trip(
        &mut h,
        &[
            with_flags(tcp("10.0.0.1", 1), "sh", F::SH_FALLBACK | F::SH_PORT),
            with_flags(tcp("10.0.0.1", 2), "sh", F::SH_PORT),
            with_flags(tcp("10.0.0.1", 3), "mh", F::MH_FALLBACK | F::MH_PORT),
            with_flags(tcp("10.0.0.1", 4), "mh", F::MH_FALLBACK),
            with_flags(tcp("10.0.0.1", 5), "wlc", F::SCHED3),
        ],
    );
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:1 -s sh -b sh-fallback,sh-port",
            "-A -t 10.0.0.1:2 -s sh -b sh-port",
            "-A -t 10.0.0.1:3 -s mh -b mh-fallback,mh-port",
            "-A -t 10.0.0.1:4 -s mh -b mh-fallback",
            "-A -t 10.0.0.1:5 -s wlc -b flag-3",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn persistence_timeout_netmask_and_prefix_length_round_trip() {
    let ns = Netns::new();
    let mut h = ns.handle();
    assert_round_trip(
        &mut h,
        &[
            persistent(wlc(tcp("10.0.0.1", 443)), 600, 0xffff_ff00),
            // Port 0 is the "any port" service, which only makes sense persistent.
            persistent(wlc(tcp("10.0.0.1", 0)), 360, 0xffff_0000),
            persistent(wlc(tcp("2001:db8::1", 443)), 300, 64),
            persistent(wlc(ServiceKey::fwmark(Family::Inet6, 3)), 1, 128),
        ],
    );
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:0 -s wlc -p 360 -M 255.255.0.0",
            "-A -t 10.0.0.1:443 -s wlc -p 600 -M 255.255.255.0",
            "-A -t [2001:db8::1]:443 -s wlc -p 300 -M 64",
            "-A -f 3 -6 -s wlc -p 1",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn one_packet_scheduling_round_trips() {
    let ns = Netns::new();
    let mut h = ns.handle();
    assert_round_trip(
        &mut h,
        &[
            with_flags(udp("10.0.0.1", 53), "rr", ServiceFlags::ONEPACKET),
            with_flags(udp("2001:db8::1", 53), "rr", ServiceFlags::ONEPACKET),
            with_flags(
                ServiceKey::fwmark(Family::Inet, 5),
                "rr",
                ServiceFlags::ONEPACKET,
            ),
        ],
    );
    assert_saved(
        &ns,
        &[
            "-A -u 10.0.0.1:53 -s rr -o",
            "-A -u [2001:db8::1]:53 -s rr -o",
            "-A -f 5 -s rr -o",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn sip_persistence_engine_round_trips() {
    let ns = Netns::new();
    let mut h = ns.handle();
    // The kernel loads ip_vs_pe_sip on demand when a service names it.
    assert_round_trip(
        &mut h,
        &[with_sip(persistent(
            wlc(udp("10.0.0.1", 5060)),
            60,
            u32::MAX,
        ))],
    );
    assert_saved(&ns, &["-A -u 10.0.0.1:5060 -s wlc -p 60 --pe sip"]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn update_service_replaces_scheduler_flags_persistence_and_engine() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let key = udp("10.0.0.1", 5060);
    let before = with_sip(persistent(wlc(key), 300, 0xffff_ff00));
    h.add_service(&before).unwrap();

    let after = with_flags(key, "sh", ServiceFlags::ONEPACKET | ServiceFlags::SH_PORT);
    h.update_service(&after).unwrap();
    assert_table(&mut h, &[after]);
    assert_saved(&ns, &["-A -u 10.0.0.1:5060 -s sh -o -b sh-port"]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn update_service_masked_changes_only_the_masked_flags() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let start = persistent(wlc(udp("10.0.0.1", 53)), 120, u32::MAX);
    h.add_service(&start).unwrap();

    let flagged = |flags| Service {
        flags,
        ..start.clone()
    };
    use ServiceFlags as F;

    // Sets ONEPACKET; PERSISTENT is absent from the flags sent but outside the mask.
    h.update_service_masked(&flagged(F::ONEPACKET), F::ONEPACKET.0)
        .unwrap();
    assert_table(&mut h, &[flagged(F::PERSISTENT | F::ONEPACKET)]);

    // Clears PERSISTENT alone; ONEPACKET, outside the mask, stays although not sent.
    h.update_service_masked(&flagged(F::default()), F::PERSISTENT.0)
        .unwrap();
    assert_table(&mut h, &[flagged(F::ONEPACKET)]);
    assert_saved(&ns, &["-A -u 10.0.0.1:53 -s wlc -o"]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn del_service_removes_only_that_service() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let tcp80 = Service::new(tcp("10.0.0.1", 80), "rr");
    let udp80 = Service::new(udp("10.0.0.1", 80), "rr");
    let mark = Service::new(ServiceKey::fwmark(Family::Inet, 80), "rr");
    add_all(&mut h, &[tcp80.clone(), udp80.clone(), mark.clone()]);
    h.add_dest(
        &tcp80.key,
        &Destination::new(ip("10.0.0.2"), 80, Forward::Masq),
    )
    .unwrap();

    h.del_service(&tcp80.key).unwrap();
    h.del_service(&mark.key).unwrap();
    assert_table(&mut h, &[udp80]);
    assert_eq!(h.service(&tcp80.key).unwrap_err().errno(), libc::ESRCH);
    assert!(h.dests(&tcp80.key).unwrap().is_empty());
    assert_saved(&ns, &["-A -u 10.0.0.1:80 -s rr"]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn flush_removes_every_service() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let services = [
        Service::new(tcp("10.0.0.1", 80), "rr"),
        Service::new(tcp("2001:db8::1", 80), "rr"),
        Service::new(ServiceKey::fwmark(Family::Inet, 1), "rr"),
        Service::new(ServiceKey::fwmark(Family::Inet6, 1), "rr"),
    ];
    add_all(&mut h, &services);
    h.add_dest(
        &services[0].key,
        &Destination::new(ip("10.0.0.2"), 80, Forward::Route),
    )
    .unwrap();

    h.flush().unwrap();
    assert!(h.services().unwrap().is_empty());
    assert_saved(&ns, &[] as &[&str]);
}
