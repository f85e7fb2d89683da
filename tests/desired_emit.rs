//! `to_yaml` writes a kernel table as a model that parses back to the same table: the
//! diff between the parsed model and the table it came from is empty.

use std::net::IpAddr;

use ipvsrs::desired::yaml::{self, to_yaml, NoParams};
use ipvsrs::desired::{diff, DiffOptions, KernelTable};
use ipvsrs::model::{
    Daemon, DaemonRole, DestEntry, Destination, Family, Forward, Protocol, Service, ServiceFlags,
    ServiceKey, Stats, Timeouts, Tunnel, TunnelFlags, TunnelType,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn entry(dest: Destination) -> DestEntry {
    DestEntry {
        dest,
        active_conns: 0,
        inactive_conns: 0,
        persistent_conns: 0,
        stats: Stats::default(),
    }
}

fn dest(addr: &str, port: u16, forward: Forward, weight: i32) -> Destination {
    Destination {
        weight,
        ..Destination::new(ip(addr), port, forward)
    }
}

fn key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol,
        addr: ip(addr),
        port,
    }
}

fn persistent(key: ServiceKey, scheduler: &str, timeout: u32, netmask: u32) -> Service {
    Service {
        flags: ServiceFlags::PERSISTENT,
        timeout,
        netmask,
        ..Service::new(key, scheduler)
    }
}

fn with_flags(service: Service, flags: ServiceFlags) -> Service {
    Service {
        flags: service.flags | flags,
        ..service
    }
}

/// Every attribute the model has, in both families, listed out of order.
fn full_table() -> KernelTable {
    let gue = Destination {
        tunnel: Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            flags: TunnelFlags::CSUM,
        },
        upper_threshold: 1000,
        lower_threshold: 100,
        ..dest("10.50.0.9", 8080, Forward::Tunnel, 7)
    };
    let gre = Destination {
        tunnel: Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            flags: TunnelFlags::REMCSUM,
        },
        ..dest("2001:db8::9", 80, Forward::Tunnel, 3)
    };
    let mut sip = persistent(key(Protocol::Udp, "10.0.0.3", 5060), "rr", 60, 0xffff_ff00);
    sip.pe_name = Some("sip".to_owned());
    KernelTable {
        services: vec![
            (
                with_flags(
                    Service::new(key(Protocol::Tcp, "10.0.0.2", 80), "sh"),
                    ServiceFlags::SH_PORT | ServiceFlags::SH_FALLBACK,
                ),
                vec![
                    entry(dest("10.50.0.2", 80, Forward::Masq, 0)),
                    entry(dest("10.50.0.1", 80, Forward::Local, 65535)),
                ],
            ),
            (
                with_flags(
                    Service::new(key(Protocol::Tcp, "10.0.0.2", 443), "mh"),
                    ServiceFlags::MH_PORT | ServiceFlags::SCHED3,
                ),
                vec![entry(gue)],
            ),
            (sip, vec![entry(dest("10.50.0.3", 5060, Forward::Route, 2))]),
            (
                with_flags(
                    Service::new(key(Protocol::Udp, "10.0.0.4", 53), "wrr"),
                    ServiceFlags::ONEPACKET | ServiceFlags::SCHED1 | ServiceFlags::SCHED2,
                ),
                vec![],
            ),
            (
                persistent(key(Protocol::Sctp, "2001:db8::1", 0), "wlc", 300, 64),
                vec![
                    entry(gre),
                    entry(dest("2001:db8::8", 80, Forward::Route, 1)),
                ],
            ),
            (
                Service::new(ServiceKey::fwmark(Family::Inet6, 7), "lc"),
                vec![entry(dest("2001:db8::7", 0, Forward::Masq, 4))],
            ),
            (
                // Not contiguous: the kernel and ipvsadm take any mask.
                persistent(ServiceKey::fwmark(Family::Inet, 7), "rr", 1, 0xff00_ff00),
                vec![entry(dest("10.50.0.7", 0, Forward::Route, 5))],
            ),
        ],
        timeouts: Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        },
        daemons: vec![
            Daemon {
                sync_maxlen: 1472,
                mcast_group: Some(ip("224.0.0.81")),
                mcast_port: 8848,
                mcast_ttl: 1,
                ..Daemon::new(DaemonRole::Master, "eth0", 1)
            },
            Daemon {
                sync_maxlen: 1200,
                mcast_group: Some(ip("ff02::81")),
                mcast_port: 9000,
                mcast_ttl: 4,
                ..Daemon::new(DaemonRole::Backup, "eth1", 255)
            },
        ],
    }
}

fn assert_round_trip(table: &KernelTable) {
    let text = to_yaml(table);
    let model = yaml::parse(&text, &NoParams)
        .unwrap_or_else(|errors| panic!("emitted model does not parse: {errors}\n{text}"));
    assert_eq!(
        diff(&model, table, &DiffOptions::default()),
        vec![],
        "model:\n{text}"
    );
    let services: usize = table.services.len();
    assert_eq!(model.services.len(), services, "model:\n{text}");
}

#[test]
fn every_attribute_round_trips() {
    assert_round_trip(&full_table());
}

#[test]
fn an_empty_table_round_trips() {
    assert_round_trip(&KernelTable::default());
}

#[test]
fn output_is_sorted_whatever_the_kernel_order() {
    let table = full_table();
    let mut reversed = table.clone();
    reversed.services.reverse();
    for (_, dests) in &mut reversed.services {
        dests.reverse();
    }
    assert_eq!(to_yaml(&reversed), to_yaml(&table));
}

#[test]
fn a_small_table_reads_as_written() {
    let mut service = persistent(key(Protocol::Tcp, "2001:db8::1", 443), "sh", 600, 48);
    service.flags = service.flags | ServiceFlags::SH_PORT;
    let table = KernelTable {
        timeouts: Timeouts {
            tcp: 7200,
            tcp_fin: 60,
            udp: 30,
        },
        daemons: vec![Daemon {
            sync_maxlen: 1472,
            mcast_group: Some(ip("224.0.0.81")),
            mcast_port: 8848,
            mcast_ttl: 1,
            ..Daemon::new(DaemonRole::Backup, "eth0", 3)
        }],
        services: vec![(
            service,
            vec![
                entry(Destination {
                    upper_threshold: 20,
                    lower_threshold: 10,
                    ..dest("2001:db8::20", 8443, Forward::Masq, 5)
                }),
                entry(dest("2001:db8::10", 8443, Forward::Route, 0)),
            ],
        )],
    };
    let expected = "\
timeouts: { tcp: 7200, tcpfin: 60, udp: 30 }
daemons:
  - { role: backup, interface: \"eth0\", syncid: 3, maxlen: 1472, group: \"224.0.0.81\", port: 8848, ttl: 1 }
services:
  - address: \"tcp://[2001:db8::1]:443\"
    sched: sh
    flags: [sh-port]
    persistence: { timeout: 600, prefix: 48 }
    destinations:
      - address: \"[2001:db8::10]:8443\"
        forward: direct
        weight: 0
      - address: \"[2001:db8::20]:8443\"
        forward: nat
        weight: 5
        thresholds: { upper: 20, lower: 10 }
";
    assert_eq!(to_yaml(&table), expected);
    assert_round_trip(&table);
}
