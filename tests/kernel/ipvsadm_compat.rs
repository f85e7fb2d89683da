//! Cross-checks with Debian's ipvsadm 1.31 in both directions, over one table that uses
//! every attribute ipvsadm can print: ipvsadm shows what we wrote, and we read what
//! ipvsadm wrote.

use ipvsrs::model::{
    Destination, Family, Forward, Protocol, Service, ServiceFlags, ServiceKey, TunnelFlags,
    TunnelType,
};
use ipvsrs::Handle;

use crate::dests::{dest, tunnel};
use crate::services::{persistent, with_flags, with_sip};
use crate::support::{assert_saved, ip, output_with_input, Netns};

/// The table: each service with its destinations in the order they are added.
fn table() -> Vec<(Service, Vec<Destination>)> {
    use Forward::{Masq, Route};
    use ServiceFlags as F;
    use TunnelFlags as C;
    use TunnelType::{Gre, Gue, Ipip};
    let v4 = ip("10.0.0.1");
    let sctp = ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: v4,
        port: 9,
    };
    let weighted = |weight, d| Destination { weight, ..d };
    let sip = with_sip(persistent(
        Service::new(ServiceKey::udp(v4, 5060), "wlc"),
        60,
        0xffff_ff00,
    ));
    let mh6 = with_flags(ServiceKey::fwmark(Family::Inet6, 7), "mh", F::MH_PORT);
    vec![
        (
            with_flags(ServiceKey::tcp(v4, 80), "sh", F::SH_FALLBACK | F::SH_PORT),
            vec![
                Destination {
                    weight: 0,
                    upper_threshold: 100,
                    lower_threshold: 50,
                    ..dest("10.0.0.2", 8080, Masq)
                },
                weighted(2, tunnel("10.0.0.3", Gue, 6080, C::REMCSUM)),
                weighted(3, tunnel("10.0.0.4", Gre, 0, C::CSUM)),
                weighted(65535, tunnel("2001:db8::5", Ipip, 0, C::NOCSUM)),
                Destination {
                    upper_threshold: 7,
                    ..dest("10.0.0.6", 80, Route)
                },
            ],
        ),
        (
            with_flags(ServiceKey::udp(v4, 53), "ovf", F::ONEPACKET | F::SCHED3),
            vec![weighted(5, dest("10.0.0.2", 5353, Masq))],
        ),
        (sip, vec![]),
        (Service::new(sctp, "fo"), vec![dest("10.0.0.3", 9, Route)]),
        (
            persistent(
                Service::new(ServiceKey::tcp(ip("2001:db8::1"), 443), "wlc"),
                360,
                64,
            ),
            vec![weighted(4, dest("2001:db8::2", 8443, Masq))],
        ),
        (
            Service::new(ServiceKey::fwmark(Family::Inet, 7), "rr"),
            vec![dest("10.0.0.7", 0, Route)],
        ),
        (
            persistent(mh6, 100, 64),
            vec![
                Destination {
                    port: 0,
                    ..tunnel("2001:db8::8", Gue, 6081, C::CSUM)
                },
                dest("2001:db8::9", 0, Masq),
            ],
        ),
    ]
}

/// ipvsadm commands that build `table()`, using its defaults where they give the value
/// (scheduler wlc, weight 1, persistence 360 s, destination port = service port).
const IPVSADM_COMMANDS: &[&str] = &[
    "-A -t 10.0.0.1:80 -s sh -b sh-fallback,sh-port",
    "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 0 -x 100 -y 50",
    "-a -t 10.0.0.1:80 -r 10.0.0.3 -i -w 2 --tun-type gue --tun-port 6080 --tun-remcsum",
    "-a -t 10.0.0.1:80 -r 10.0.0.4 -i -w 3 --tun-type gre --tun-csum",
    "-a -t 10.0.0.1:80 -r 2001:db8::5 -i -w 65535",
    "-a -t 10.0.0.1:80 -r 10.0.0.6:80 -g -x 7",
    "-A -u 10.0.0.1:53 -s ovf -o -b flag-3",
    "-a -u 10.0.0.1:53 -r 10.0.0.2:5353 -m -w 5",
    "-A -u 10.0.0.1:5060 -p 60 -M 255.255.255.0 --pe sip",
    "-A --sctp-service 10.0.0.1:9 -s fo",
    "-a --sctp-service 10.0.0.1:9 -r 10.0.0.3",
    "-A -t [2001:db8::1]:443 -p -M 64",
    "-a -t [2001:db8::1]:443 -r [2001:db8::2]:8443 -m -w 4",
    "-A -f 7 -s rr",
    "-a -f 7 -r 10.0.0.7",
    "-A -f 7 -6 -s mh -b mh-port -p 100 -M 64",
    "-a -f 7 -6 -r 2001:db8::8 -i --tun-type gue --tun-port 6081 --tun-csum",
    "-a -f 7 -6 -r 2001:db8::9 -m",
];

/// `ipvsadm -Sn` of `table()`: services and destinations sorted by ipvsadm (address
/// services before fwmark ones, IPv4 before IPv6, then protocol, address, port).
const SAVED: &[&str] = &[
    "-A -t 10.0.0.1:80 -s sh -b sh-fallback,sh-port",
    "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 0",
    "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-remcsum",
    "-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 3 --tun-type gre --tun-csum",
    "-a -t 10.0.0.1:80 -r 10.0.0.6:80 -g -w 1",
    "-a -t 10.0.0.1:80 -r [2001:db8::5]:80 -i -w 65535 --tun-type ipip",
    "-A -u 10.0.0.1:53 -s ovf -o -b flag-3",
    "-a -u 10.0.0.1:53 -r 10.0.0.2:5353 -m -w 5",
    "-A -u 10.0.0.1:5060 -s wlc -p 60 -M 255.255.255.0 --pe sip",
    "-A --sctp-service 10.0.0.1:9 -s fo",
    "-a --sctp-service 10.0.0.1:9 -r 10.0.0.3:9 -g -w 1",
    "-A -t [2001:db8::1]:443 -s wlc -p 360 -M 64",
    "-a -t [2001:db8::1]:443 -r [2001:db8::2]:8443 -m -w 4",
    "-A -f 7 -s rr",
    "-a -f 7 -r 10.0.0.7:0 -g -w 1",
    "-A -f 7 -6 -s mh -p 100 -M 64 -b mh-port",
    "-a -f 7 -6 -r [2001:db8::8]:0 -i -w 1 --tun-type gue --tun-port 6081 --tun-csum",
    "-a -f 7 -6 -r [2001:db8::9]:0 -m -w 1",
];

/// A destination in ipvsadm's words.
pub struct Row {
    pub dest: &'static str,
    pub forward: &'static str,
    pub weight: i32,
    pub upper: u32,
    pub lower: u32,
    pub tunnel: &'static str,
}

/// A destination without thresholds.
pub const fn row(
    dest: &'static str,
    forward: &'static str,
    weight: i32,
    tunnel: &'static str,
) -> Row {
    Row {
        dest,
        forward,
        weight,
        upper: 0,
        lower: 0,
        tunnel,
    }
}

/// `ipvsadm -L` of `table()`: each service's line and its destinations, in ipvsadm's order.
const LISTED: &[(&str, &[Row])] = &[
    (
        "TCP  10.0.0.1:80 sh (sh-fallback,sh-port)",
        &[
            Row {
                upper: 100,
                lower: 50,
                ..row("10.0.0.2:8080", "Masq", 0, "n/a")
            },
            row("10.0.0.3:80", "Tunnel", 2, "gue:6080:r+c"),
            row("10.0.0.4:80", "Tunnel", 3, "gre:+c"),
            Row {
                upper: 7,
                ..row("10.0.0.6:80", "Route", 1, "n/a")
            },
            row("[2001:db8::5]:80", "Tunnel", 65535, "ipip"),
        ],
    ),
    (
        "UDP  10.0.0.1:53 ovf (flag-3) ops",
        &[row("10.0.0.2:5353", "Masq", 5, "n/a")],
    ),
    (
        "UDP  10.0.0.1:5060 wlc persistent 60 mask 255.255.255.0 pe sip",
        &[],
    ),
    (
        "SCTP 10.0.0.1:9 fo",
        &[row("10.0.0.3:9", "Route", 1, "n/a")],
    ),
    (
        "TCP  [2001:db8::1]:443 wlc persistent 360 mask 64",
        &[row("[2001:db8::2]:8443", "Masq", 4, "n/a")],
    ),
    ("FWM  7 rr", &[row("10.0.0.7:0", "Route", 1, "n/a")]),
    (
        "FWM  7 IPv6 mh (mh-port) persistent 100 mask 64",
        &[
            row("[2001:db8::8]:0", "Tunnel", 1, "gue:6081:+c"),
            row("[2001:db8::9]:0", "Masq", 1, "n/a"),
        ],
    ),
];

/// One `ipvsadm -Ln` view: its option, its two title lines (as ipvsadm prints them) and
/// its destination line (ipvsadm's printf format; the connection counters of a fresh
/// table are 0).
struct View {
    option: &'static str,
    title: [&'static str; 2],
    row: fn(&Row) -> String,
}

const VIEWS: [View; 4] = [
    View {
        option: "--exact",
        title: [
            "Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        ],
        row: plain_row,
    },
    View {
        option: "--thresholds",
        title: [
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
            "  -> RemoteAddress:Port",
        ],
        row: threshold_row,
    },
    View {
        option: "--persistent-conn",
        title: [
            "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ",
            "  -> RemoteAddress:Port",
        ],
        row: persistent_conn_row,
    },
    View {
        option: "--tun-info",
        title: [
            "Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn",
        ],
        row: tunnel_row,
    },
];

/// `"  -> %-28s %-7s %-6d %-10u %-10u"`
pub fn plain_row(r: &Row) -> String {
    format!(
        "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
        r.dest, r.forward, r.weight, 0, 0
    )
}

/// `"  -> %-28s %-10u %-10u %-10u %-10u"`
pub fn threshold_row(r: &Row) -> String {
    format!(
        "  -> {:<28} {:<10} {:<10} {:<10} {:<10}",
        r.dest, r.upper, r.lower, 0, 0
    )
}

/// `"  -> %-28s %-9u %-11u %-10u %-10u"`
pub fn persistent_conn_row(r: &Row) -> String {
    format!(
        "  -> {:<28} {:<9} {:<11} {:<10} {:<10}",
        r.dest, r.weight, 0, 0, 0
    )
}

/// `"  -> %-28s %-7s %-13s %-6d %-10u %-10u"`
fn tunnel_row(r: &Row) -> String {
    let Row {
        dest,
        forward,
        tunnel,
        weight,
        ..
    } = r;
    format!(
        "  -> {dest:<28} {forward:<7} {tunnel:<13} {weight:<6} {:<10} {:<10}",
        0, 0
    )
}

/// The whole text of `ipvsadm -Ln` in `view` for `LISTED`.
fn expected_listing(conn_tab_size: u32, view: &View) -> String {
    let mut lines = vec![format!(
        "IP Virtual Server version 1.2.1 (size={conn_tab_size})"
    )];
    lines.extend(view.title.map(str::to_owned));
    for (service, rows) in LISTED {
        lines.push(service.to_string());
        lines.extend(rows.iter().map(view.row));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn write_table(h: &mut Handle) {
    for (service, dests) in table() {
        h.add_service(&service).unwrap_or_else(|e| panic!("{e}"));
        for d in &dests {
            h.add_dest(&service.key, d)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The table as we read it: services sorted by key (HASHED left out), each with its
/// destinations oldest first (the kernel lists them newest first).
fn read_table(h: &mut Handle) -> Vec<(Service, Vec<Destination>)> {
    let mut services: Vec<Service> = h
        .services()
        .unwrap()
        .into_iter()
        .map(|e| e.service)
        .collect();
    services.sort_by_key(|s| s.key);
    services
        .into_iter()
        .map(|s| {
            let listed = h.dests(&s.key).unwrap().into_iter().map(|e| e.dest);
            let dests: Vec<Destination> = listed.rev().collect();
            (
                Service {
                    flags: s.flags.user(),
                    ..s
                },
                dests,
            )
        })
        .collect()
}

fn sorted(mut table: Vec<(Service, Vec<Destination>)>) -> Vec<(Service, Vec<Destination>)> {
    table.sort_by_key(|(s, _)| s.key);
    table
}

/// `ipvsadm -R` with `rules` on its standard input.
fn ipvsadm_restore(ns: &Netns, rules: &str) {
    let out = output_with_input(ns.exec("ipvsadm").arg("-R"), rules);
    assert!(out.status.success(), "ipvsadm -R failed on:\n{rules}");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipvsadm_saves_the_table_we_wrote() {
    let ns = Netns::new();
    write_table(&mut ns.handle());
    assert_saved(&ns, SAVED);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipvsadm_lists_the_table_we_wrote_in_every_view() {
    let ns = Netns::new();
    let mut h = ns.handle();
    write_table(&mut h);
    let size = h.info().unwrap().conn_tab_size;
    for view in &VIEWS {
        let listed = ns.ipvsadm_listing(&["-Ln", view.option]);
        assert_eq!(
            listed,
            expected_listing(size, view),
            "ipvsadm -Ln {}",
            view.option
        );
    }
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn we_read_the_table_ipvsadm_wrote() {
    let ns = Netns::new();
    ns.ipvsadm_each(IPVSADM_COMMANDS);
    assert_eq!(read_table(&mut ns.handle()), sorted(table()));
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipvsadm_restores_what_it_saved_of_our_table() {
    let ns = Netns::new();
    let mut h = ns.handle();
    write_table(&mut h);
    let saved = ns.saved();
    h.flush().unwrap();
    ipvsadm_restore(&ns, &saved);
    // -S saves no thresholds, and -R adds destinations in -S's sorted order; everything
    // else comes back.
    let restored = |(s, mut dests): (Service, Vec<Destination>)| {
        dests.sort_by_key(|d| d.key());
        let unlimited = |d| Destination {
            upper_threshold: 0,
            lower_threshold: 0,
            ..d
        };
        (s, dests.into_iter().map(unlimited).collect::<Vec<_>>())
    };
    let expected: Vec<_> = sorted(table()).into_iter().map(restored).collect();
    assert_eq!(
        read_table(&mut h)
            .into_iter()
            .map(restored)
            .collect::<Vec<_>>(),
        expected
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ipvsadm_edits_replace_whole_objects_we_wrote() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let key = ServiceKey::udp(ip("10.0.0.1"), 5060);
    let flags = ServiceFlags::ONEPACKET | ServiceFlags::SH_PORT;
    let service = with_sip(persistent(with_flags(key, "sh", flags), 60, 0xffff_ff00));
    let masq = || dest("10.0.0.2", 5060, Forward::Masq);
    let dest = Destination {
        weight: 5,
        upper_threshold: 100,
        lower_threshold: 50,
        ..masq()
    };
    h.add_service(&service).unwrap();
    h.add_dest(&key, &dest).unwrap();

    // libipvs sends whole objects: what the command line leaves out goes back to defaults.
    ns.ipvsadm_each(&[
        "-E -u 10.0.0.1:5060 -s rr",
        "-e -u 10.0.0.1:5060 -r 10.0.0.2 -m -w 3",
    ]);
    let edited = Destination {
        weight: 3,
        ..masq()
    };
    assert_eq!(
        read_table(&mut h),
        [(Service::new(key, "rr"), vec![edited])]
    );
}
