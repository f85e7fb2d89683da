//! Reply decoding, on the host: real kernel answers captured by tests/tools/capture_replies.rs
//! (tests/data/replies, see its README) and hand-made edge cases.
//!
//! The expected tables are written from the capture program's ipvsadm command lines, not
//! from what the decoder returns.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvsrs::model::{
    Daemon, DaemonRole, DestEntry, Destination, Family, Forward, Info, Service, ServiceEntry,
    ServiceFlags, ServiceKey, Stats, Timeouts, Tunnel, TunnelFlags, TunnelType,
};
use ipvsrs::wire::ctrl;
use ipvsrs::wire::ipvs::{
    cmd, cmd_attr, daemon_attr, decode_daemon, decode_dest, decode_info, decode_service,
    decode_stats, decode_timeouts, dest_attr, info_attr, stats_attr, svc_attr, top_level_nest,
};
use ipvsrs::wire::netlink::{messages, Reply, NLMSG_DONE, NLMSG_ERROR, NLM_F_MULTI};

// ---------------------------------------------------------------------------------------
// Captured answers

/// The captured files in the order the capture program sent their requests: seq = index + 1.
const CAPTURE_ORDER: &[&str] = &[
    "family",
    "info",
    "timeouts",
    "services-dump",
    "service-get",
    "service-get-stats",
    "dests-dump",
    "dests-dump-udp6",
    "dests-dump-fwmark",
    "dests-dump-stats",
    "daemons-dump",
    "ack",
    "error-esrch",
    "error-erange-extack",
];

struct Fixture {
    /// Leaked, so that decoded values can outlive the fixture: a few KiB per test.
    bytes: &'static [u8],
    seq: u32,
}

fn fixture(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/data/replies/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let index = CAPTURE_ORDER
        .iter()
        .position(|n| *n == name)
        .expect("a captured file");
    Fixture {
        bytes: bytes.leak(),
        seq: index as u32 + 1,
    }
}

/// One data message of an answer.
struct Data<'a> {
    kind: u16,
    flags: u16,
    cmd: u8,
    attrs: &'a [u8],
}

/// A decoded answer: its data messages, then the message that ends it.
struct Answer<'a> {
    data: Vec<Data<'a>>,
    end: Reply<'a>,
}

impl Fixture {
    /// Splits the answer, checking that every message carries the request's seq and that
    /// nothing follows the ACK, DONE or error.
    fn answer(&self) -> Answer<'static> {
        let mut data = Vec::new();
        let mut msgs = messages(self.bytes).map(|m| m.expect("a well-formed message"));
        while let Some(msg) = msgs.next() {
            assert_eq!(msg.seq, self.seq, "seq of every message of the answer");
            match msg.reply().expect("a decodable message") {
                Reply::Data { cmd, attrs } => data.push(Data {
                    kind: msg.kind,
                    flags: msg.flags,
                    cmd,
                    attrs,
                }),
                end => {
                    assert!(
                        msgs.next().is_none(),
                        "messages after the end of the answer"
                    );
                    return Answer { data, end };
                }
            }
        }
        panic!("the answer has no ACK, DONE or error");
    }

    /// The attributes of the IPVS data messages, checked to carry the IPVS family's id and
    /// `cmd`, with the answer ending in `end`.
    fn ipvs_data(&self, cmd: u8, end: Reply<'_>) -> Vec<&'static [u8]> {
        let answer = self.answer();
        assert_eq!(answer.end, end);
        let family = ipvs_family_id();
        for d in &answer.data {
            assert_eq!((d.kind, d.cmd), (family, cmd), "message type and command");
        }
        answer.data.iter().map(|d| d.attrs).collect()
    }

    /// The one data message of a doit answer (then an ACK).
    fn single(&self, cmd: u8) -> &'static [u8] {
        let data = self.ipvs_data(cmd, Reply::Ack);
        assert_eq!(data.len(), 1, "data messages");
        data[0]
    }

    /// The data messages of a dump, each flagged NLM_F_MULTI, ended by NLMSG_DONE.
    fn dump(&self, cmd: u8) -> Vec<&'static [u8]> {
        for d in self.answer().data {
            assert_ne!(d.flags & NLM_F_MULTI, 0, "NLM_F_MULTI on a dump part");
        }
        self.ipvs_data(cmd, Reply::Done)
    }
}

/// The IPVS family's id and version, from the controller's captured answer.
fn ipvs_family() -> (u16, u32) {
    let answer = fixture("family").answer();
    assert_eq!(answer.end, Reply::Ack);
    assert_eq!(answer.data.len(), 1);
    ctrl::decode_family(answer.data[0].attrs).expect("a family reply")
}

fn ipvs_family_id() -> u16 {
    ipvs_family().0
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// Services reported by the kernel carry the "hashed" flag: they are in its table.
const HASHED: ServiceFlags = ServiceFlags::HASHED;

/// `ipvsadm -A -t 10.0.0.1:80 -s rr -p 300 -M 255.255.255.0`
fn tcp_service() -> Service {
    Service {
        key: ServiceKey::tcp(v4(10, 0, 0, 1), 80),
        scheduler: "rr".into(),
        flags: ServiceFlags::PERSISTENT | HASHED,
        timeout: 300,
        netmask: 0xffff_ff00,
        pe_name: None,
    }
}

/// The table's services, sorted by key.
fn expected_services() -> Vec<Service> {
    let mut services = vec![
        tcp_service(),
        // -A -u [2001:db8::1]:5060 -s wlc -p 120 -M 64 --pe sip
        Service {
            key: ServiceKey::udp(v6(1), 5060),
            scheduler: "wlc".into(),
            flags: ServiceFlags::PERSISTENT | HASHED,
            timeout: 120,
            netmask: 64,
            pe_name: Some("sip".into()),
        },
        // -A -f 7 -s sh -b sh-port (ipvsadm's default netmask: 255.255.255.255)
        Service {
            key: ServiceKey::fwmark(Family::Inet, 7),
            scheduler: "sh".into(),
            flags: ServiceFlags::SH_PORT | HASHED,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        },
        // -A -u 10.0.0.2:53 -s rr
        Service {
            key: ServiceKey::udp(v4(10, 0, 0, 2), 53),
            scheduler: "rr".into(),
            flags: HASHED,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        },
    ];
    services.sort_by_key(|s| s.key);
    services
}

fn dest(addr: IpAddr, port: u16, forward: Forward, weight: i32) -> Destination {
    Destination {
        addr,
        port,
        forward,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
        tunnel: Tunnel::default(),
    }
}

/// A destination without connections or traffic.
fn idle(dest: Destination) -> DestEntry {
    DestEntry {
        dest,
        active_conns: 0,
        inactive_conns: 0,
        persistent_conns: 0,
        stats: Stats::default(),
    }
}

/// Decodes every destination of a captured dump, sorted by address and port.
fn dumped_dests(name: &str, service_family: Family) -> Vec<DestEntry> {
    let mut dests: Vec<DestEntry> = fixture(name)
        .dump(cmd::NEW_DEST)
        .into_iter()
        .map(|attrs| {
            let nest = top_level_nest(attrs, cmd_attr::DEST).expect("a DEST nest");
            decode_dest(nest, service_family).expect("a destination")
        })
        .collect();
    dests.sort_by_key(|d| d.dest.key());
    dests
}

/// The counters after the one 6-byte UDP datagram the capture program sent (one
/// connection, one packet of 20 + 8 + 6 bytes); the rate estimates are not predictable.
fn assert_one_datagram(stats: &Stats) {
    assert_eq!(
        (
            stats.conns,
            stats.inpkts,
            stats.inbytes,
            stats.outpkts,
            stats.outbytes
        ),
        (1, 1, 34, 0, 0),
        "conns, inpkts, inbytes, outpkts, outbytes"
    );
}

#[test]
fn the_controller_reports_the_ipvs_family_at_version_1() {
    let (id, version) = ipvs_family();
    assert_eq!(version, 1);
    // Generic netlink ids above the controller's are allocated dynamically.
    assert!(id > ctrl::GENL_ID_CTRL, "family id {id}");
}

#[test]
fn info_reply() {
    let attrs = fixture("info").single(cmd::SET_INFO);
    // IP_VS_VERSION_CODE 1.2.1; 2^12 connection buckets (Debian's CONFIG_IP_VS_TAB_BITS=12).
    assert_eq!(
        decode_info(attrs).unwrap(),
        Info {
            version: 0x010201,
            conn_tab_size: 4096
        }
    );
}

#[test]
fn timeouts_reply() {
    let attrs = fixture("timeouts").single(cmd::SET_CONFIG);
    // ipvsadm --set 1000 110 310
    assert_eq!(
        decode_timeouts(attrs).unwrap(),
        Timeouts {
            tcp: 1000,
            tcp_fin: 110,
            udp: 310
        }
    );
}

#[test]
fn services_dump_has_one_message_per_service_then_done() {
    let mut services: Vec<Service> = fixture("services-dump")
        .dump(cmd::NEW_SERVICE)
        .into_iter()
        .map(|attrs| {
            let nest = top_level_nest(attrs, cmd_attr::SERVICE).unwrap();
            decode_service(nest).unwrap().service
        })
        .collect();
    services.sort_by_key(|s| s.key);
    assert_eq!(services, expected_services());
}

#[test]
fn service_get_reply() {
    let attrs = fixture("service-get").single(cmd::NEW_SERVICE);
    let entry = decode_service(top_level_nest(attrs, cmd_attr::SERVICE).unwrap()).unwrap();
    assert_eq!(
        entry,
        ServiceEntry {
            service: tcp_service(),
            stats: Stats::default()
        }
    );
}

#[test]
fn service_counters_come_from_stats64_and_match_the_32_bit_ones() {
    let attrs = fixture("service-get-stats").single(cmd::NEW_SERVICE);
    let nest = top_level_nest(attrs, cmd_attr::SERVICE).unwrap();
    let entry = decode_service(nest).unwrap();
    assert_one_datagram(&entry.stats);
    let stats_nest = |kind| top_level_nest_in(nest, kind);
    assert_eq!(
        decode_stats(stats_nest(svc_attr::STATS64)).unwrap(),
        entry.stats
    );
    assert_eq!(
        decode_stats(stats_nest(svc_attr::STATS)).unwrap(),
        entry.stats
    );
}

/// The payload of attribute `kind` in `attrs`, found without the code under test.
fn top_level_nest_in(mut attrs: &[u8], kind: u16) -> &[u8] {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        if u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff == kind {
            return &attrs[4..len];
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    panic!("no attribute {kind}");
}

#[test]
fn dests_dump_of_an_ipv4_service() {
    let mut masq = dest(v4(10, 0, 1, 1), 8080, Forward::Masq, 3); // -m -w 3 -x 100 -y 10
    masq.upper_threshold = 100;
    masq.lower_threshold = 10;
    let route = dest(v4(10, 0, 1, 2), 80, Forward::Route, 2); // -g -w 2
    let mut tunnel = dest(v4(10, 0, 1, 3), 80, Forward::Tunnel, 1); // -i --tun-type gue ...
    tunnel.tunnel = Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        flags: TunnelFlags::CSUM,
    };
    assert_eq!(
        dumped_dests("dests-dump", Family::Inet),
        vec![idle(masq), idle(route), idle(tunnel)]
    );
}

#[test]
fn dests_dump_of_an_ipv6_service() {
    // -a -u [2001:db8::1]:5060 -r [2001:db8::10]:5060 -m -w 5
    assert_eq!(
        dumped_dests("dests-dump-udp6", Family::Inet6),
        vec![idle(dest(v6(0x10), 5060, Forward::Masq, 5))]
    );
}

#[test]
fn dests_dump_of_a_fwmark_service() {
    // -a -f 7 -r 10.0.2.1 -g -w 0: no port given, none needed for direct routing
    assert_eq!(
        dumped_dests("dests-dump-fwmark", Family::Inet),
        vec![idle(dest(v4(10, 0, 2, 1), 0, Forward::Route, 0))]
    );
}

#[test]
fn dest_with_traffic_has_counters() {
    let dests = dumped_dests("dests-dump-stats", Family::Inet);
    assert_eq!(dests.len(), 1);
    // -a -u 10.0.0.2:53 -r 10.0.1.5:53 -m (ipvsadm's default weight is 1)
    assert_eq!(dests[0].dest, dest(v4(10, 0, 1, 5), 53, Forward::Masq, 1));
    // The datagram's UDP connection entry counts as inactive.
    assert_eq!(
        (
            dests[0].active_conns,
            dests[0].inactive_conns,
            dests[0].persistent_conns
        ),
        (0, 1, 0)
    );
    assert_one_datagram(&dests[0].stats);
}

#[test]
fn daemons_dump() {
    let daemons: Vec<Daemon> = fixture("daemons-dump")
        .dump(cmd::NEW_DAEMON)
        .into_iter()
        .map(|attrs| decode_daemon(top_level_nest(attrs, cmd_attr::DAEMON).unwrap()).unwrap())
        .collect();
    // --start-daemon master --mcast-interface sync0 --syncid 9 --sync-maxlen 1200
    //   --mcast-group 239.1.2.3 --mcast-port 8850 --mcast-ttl 3
    let master = Daemon {
        role: DaemonRole::Master,
        ifname: "sync0".into(),
        sync_id: 9,
        sync_maxlen: 1200,
        mcast_group: Some(v4(239, 1, 2, 3)),
        mcast_port: 8850,
        mcast_ttl: 3,
    };
    assert_eq!(daemons, vec![master]);
}

#[test]
fn ack_reply() {
    let answer = fixture("ack").answer();
    assert!(answer.data.is_empty());
    assert_eq!(answer.end, Reply::Ack);
}

#[test]
fn error_reply_for_a_missing_service() {
    assert!(fixture("error-esrch")
        .ipvs_data(
            0,
            Reply::Error {
                errno: libc::ESRCH,
                detail: None
            }
        )
        .is_empty());
}

#[test]
fn error_reply_with_extended_ack_text() {
    // lib/nlattr.c: an attribute shorter than its policy's type is out of range.
    let end = Reply::Error {
        errno: libc::ERANGE,
        detail: Some("Attribute failed policy validation".into()),
    };
    assert!(fixture("error-erange-extack").ipvs_data(0, end).is_empty());
}

// ---------------------------------------------------------------------------------------
// Hand-made input

/// One attribute: length, type, payload, padding to 4 bytes.
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&(4 + payload.len() as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    a.resize((a.len() + 3) & !3, 0);
    a
}

fn u16_attr(kind: u16, v: u16) -> Vec<u8> {
    attr(kind, &v.to_ne_bytes())
}

fn u32_attr(kind: u16, v: u32) -> Vec<u8> {
    attr(kind, &v.to_ne_bytes())
}

fn u64_attr(kind: u16, v: u64) -> Vec<u8> {
    attr(kind, &v.to_ne_bytes())
}

/// The 16 bytes of an address attribute.
fn addr16(addr: IpAddr) -> [u8; 16] {
    let mut b = [0; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b = a.octets(),
    }
    b
}

/// AF, PROTOCOL, ADDR and PORT of tcp 10.0.0.1:80, each of which `skip` may leave out.
fn service_identity(skip: Option<u16>) -> Vec<u8> {
    [
        u16_attr(svc_attr::AF, libc::AF_INET as u16),
        u16_attr(svc_attr::PROTOCOL, libc::IPPROTO_TCP as u16),
        attr(svc_attr::ADDR, &addr16(v4(10, 0, 0, 1))),
        attr(svc_attr::PORT, &80u16.to_be_bytes()),
    ]
    .into_iter()
    .filter(|a| Some(u16::from_ne_bytes([a[2], a[3]])) != skip)
    .collect::<Vec<_>>()
    .concat()
}

/// What a service nest without any optional attribute decodes to.
fn bare_tcp_service() -> Service {
    Service {
        key: ServiceKey::tcp(v4(10, 0, 0, 1), 80),
        scheduler: String::new(),
        flags: ServiceFlags(0),
        timeout: 0,
        netmask: 0xffff_ffff,
        pe_name: None,
    }
}

/// A destination nest with ADDR and PORT of [2001:db8::10]:8080 plus `more`.
fn dest_nest(more: &[Vec<u8>]) -> Vec<u8> {
    let mut n = attr(dest_attr::ADDR, &addr16(v6(0x10)));
    n.extend(attr(dest_attr::PORT, &8080u16.to_be_bytes()));
    n.extend(more.concat());
    n
}

#[test]
fn unknown_attributes_are_ignored() {
    let mut service = service_identity(None);
    service.extend(attr(svc_attr::MAX + 1, b"future"));
    service.extend(attr(0x3fff, &[0xff; 7]));
    service.extend(attr(svc_attr::SCHED_NAME, b"wrr\0"));
    let mut top = attr(cmd_attr::MAX + 1, &[1, 2, 3, 4]);
    top.extend(attr(cmd_attr::SERVICE, &service));
    top.extend(attr(0x3ffe, &[]));
    let decoded = decode_service(top_level_nest(&top, cmd_attr::SERVICE).unwrap()).unwrap();
    assert_eq!(
        decoded.service,
        Service {
            scheduler: "wrr".into(),
            ..bare_tcp_service()
        }
    );
}

#[test]
fn nests_are_found_with_or_without_the_nested_flag() {
    let top = attr(cmd_attr::DAEMON | 0x8000, &u32_attr(daemon_attr::STATE, 2));
    assert_eq!(top_level_nest(&top, cmd_attr::DAEMON).unwrap(), &top[4..]);
    assert!(top_level_nest(&top, cmd_attr::SERVICE).is_err());
}

#[test]
fn missing_optional_service_attributes_take_defaults() {
    let entry = decode_service(&service_identity(None)).unwrap();
    assert_eq!(
        entry,
        ServiceEntry {
            service: bare_tcp_service(),
            stats: Stats::default()
        }
    );
}

#[test]
fn ipv6_fwmark_service_without_netmask_is_per_host() {
    let nest = [
        u16_attr(svc_attr::AF, libc::AF_INET6 as u16),
        u32_attr(svc_attr::FWMARK, 3),
    ]
    .concat();
    let service = decode_service(&nest).unwrap().service;
    assert_eq!(
        (service.key, service.netmask),
        (ServiceKey::fwmark(Family::Inet6, 3), 128)
    );
}

#[test]
fn dest_without_address_family_takes_the_service_family() {
    let v6_dest = decode_dest(&dest_nest(&[]), Family::Inet6).unwrap();
    assert_eq!(v6_dest.dest.addr, v6(0x10));
    // An IPv4 service's destination is the first four bytes of ADDR; 0 means "absent".
    let zero_family = dest_nest(&[u16_attr(dest_attr::ADDR_FAMILY, 0)]);
    assert_eq!(
        decode_dest(&zero_family, Family::Inet).unwrap().dest.addr,
        v4(0x20, 0x01, 0x0d, 0xb8)
    );
}

#[test]
fn missing_optional_dest_attributes_take_defaults() {
    // No FWD_METHOD (0 is masquerading), weight, thresholds, TUN_*, counters or stats.
    let entry = decode_dest(&dest_nest(&[]), Family::Inet6).unwrap();
    assert_eq!(entry, idle(dest(v6(0x10), 8080, Forward::Masq, 0)));
}

#[test]
fn missing_required_attributes_are_named_in_the_error() {
    let no_ifname = u32_attr(daemon_attr::STATE, 1);
    let no_size = u32_attr(info_attr::VERSION, 0x010201);
    let no_addr = attr(dest_attr::PORT, &80u16.to_be_bytes());
    let cases = [
        (
            "IPVS_SVC_ATTR_AF",
            decode_service(&service_identity(Some(svc_attr::AF))).err(),
        ),
        (
            "IPVS_SVC_ATTR_PROTOCOL",
            decode_service(&service_identity(Some(svc_attr::PROTOCOL))).err(),
        ),
        (
            "IPVS_SVC_ATTR_ADDR",
            decode_service(&service_identity(Some(svc_attr::ADDR))).err(),
        ),
        (
            "IPVS_SVC_ATTR_PORT",
            decode_service(&service_identity(Some(svc_attr::PORT))).err(),
        ),
        (
            "IPVS_DEST_ATTR_ADDR",
            decode_dest(&no_addr, Family::Inet).err(),
        ),
        (
            "IPVS_DAEMON_ATTR_MCAST_IFN",
            decode_daemon(&no_ifname).err(),
        ),
        ("IPVS_INFO_ATTR_CONN_TAB_SIZE", decode_info(&no_size).err()),
    ];
    for (name, err) in cases {
        let err = err.unwrap_or_else(|| panic!("decoding without {name} succeeded"));
        assert!(err.0.contains(name), "error {:?} should name {name}", err.0);
    }
}

#[test]
fn a_short_fixed_size_attribute_is_an_error() {
    let mut nest = service_identity(None);
    nest.extend(attr(svc_attr::TIMEOUT, &[1, 0]));
    assert!(decode_service(&nest).is_err());
}

/// A nest of type `kind` with conns, inbytes and outpps set: in the STATS layout (32-bit
/// counters, 64-bit byte counts), or all 64-bit as in STATS64 if `wide`.
fn stats_nest(kind: u16, wide: bool, conns: u32, inbytes: u64, outpps: u32) -> Vec<u8> {
    let counters = if wide {
        [
            u64_attr(stats_attr::CONNS, conns.into()),
            u64_attr(stats_attr::OUTPPS, outpps.into()),
        ]
    } else {
        [
            u32_attr(stats_attr::CONNS, conns),
            u32_attr(stats_attr::OUTPPS, outpps),
        ]
    };
    attr(
        kind,
        &[counters.concat(), u64_attr(stats_attr::INBYTES, inbytes)].concat(),
    )
}

#[test]
fn stats64_is_preferred_over_stats_in_either_order() {
    let stats = stats_nest(svc_attr::STATS, false, 1, 10, 100);
    let stats64 = stats_nest(svc_attr::STATS64, true, 2, 1 << 40, 200);
    for order in [[&stats, &stats64], [&stats64, &stats]] {
        let nest = [service_identity(None), order[0].clone(), order[1].clone()].concat();
        let s = decode_service(&nest).unwrap().stats;
        assert_eq!((s.conns, s.inbytes, s.outpps), (2, 1 << 40, 200));
    }
}

#[test]
fn stats_alone_is_used_by_older_kernels() {
    let nest = [
        service_identity(None),
        stats_nest(svc_attr::STATS, false, 7, 1 << 33, 9),
    ]
    .concat();
    let expected = Stats {
        conns: 7,
        inbytes: 1 << 33,
        outpps: 9,
        ..Stats::default()
    };
    assert_eq!(decode_service(&nest).unwrap().stats, expected);
}

#[test]
fn stats_padding_is_ignored() {
    // IPVS_STATS_ATTR_PAD (11) aligns the 64-bit values on some architectures.
    let pad = attr(11, &[0xee; 4]);
    let nest = [
        pad.clone(),
        u64_attr(stats_attr::INPKTS, 5),
        pad,
        u64_attr(stats_attr::OUTBPS, 6),
    ]
    .concat();
    assert_eq!(
        decode_stats(&nest).unwrap(),
        Stats {
            inpkts: 5,
            outbps: 6,
            ..Stats::default()
        }
    );
}

#[test]
fn every_counter_lands_in_its_own_field() {
    // Each counter a value of its own, the attributes in reverse order.
    let value = |kind: u16| u64::from(kind) << 36 | u64::from(kind);
    let kinds = [
        stats_attr::CONNS,
        stats_attr::INPKTS,
        stats_attr::OUTPKTS,
        stats_attr::INBYTES,
        stats_attr::OUTBYTES,
        stats_attr::CPS,
        stats_attr::INPPS,
        stats_attr::OUTPPS,
        stats_attr::INBPS,
        stats_attr::OUTBPS,
    ];
    let nest: Vec<u8> = kinds
        .iter()
        .rev()
        .flat_map(|&k| u64_attr(k, value(k)))
        .collect();
    let expected = Stats {
        conns: value(stats_attr::CONNS),
        inpkts: value(stats_attr::INPKTS),
        outpkts: value(stats_attr::OUTPKTS),
        inbytes: value(stats_attr::INBYTES),
        outbytes: value(stats_attr::OUTBYTES),
        cps: value(stats_attr::CPS),
        inpps: value(stats_attr::INPPS),
        outpps: value(stats_attr::OUTPPS),
        inbps: value(stats_attr::INBPS),
        outbps: value(stats_attr::OUTBPS),
    };
    assert_eq!(decode_stats(&nest).unwrap(), expected);
}

#[test]
fn dests_decode_their_own_stats64() {
    let entry = decode_dest(
        &dest_nest(&[stats_nest(dest_attr::STATS64, true, 4, 8, 16)]),
        Family::Inet6,
    )
    .unwrap();
    assert_eq!(
        entry.stats,
        Stats {
            conns: 4,
            inbytes: 8,
            outpps: 16,
            ..Stats::default()
        }
    );
}

/// A netlink header: length, type, flags, seq 9, pid 0.
fn nlmsghdr(len: u32, kind: u16, flags: u16) -> Vec<u8> {
    [
        &len.to_ne_bytes()[..],
        &kind.to_ne_bytes(),
        &flags.to_ne_bytes(),
        &9u32.to_ne_bytes(),
        &[0; 4],
    ]
    .concat()
}

#[test]
fn bad_message_lengths_are_errors() {
    for len in [0, 8, 15, 21, 1000] {
        let mut buf = nlmsghdr(len, NLMSG_DONE, 0);
        buf.extend_from_slice(&[0; 4]);
        let parsed: Vec<_> = messages(&buf).collect();
        assert_eq!(parsed.len(), 1, "nlmsg_len {len}: one error, then nothing");
        assert!(parsed[0].is_err(), "nlmsg_len {len}");
    }
}

/// Where each message of a stream ends, read from the headers directly.
fn message_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        at += u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        ends.push(at);
        at = (at + 3) & !3;
    }
    ends
}

#[test]
fn truncated_datagrams_end_in_an_error() {
    let bytes = fixture("services-dump").bytes;
    let ends = message_ends(bytes);
    assert_eq!(ends.len(), 5, "four services and NLMSG_DONE");
    for cut in 1..bytes.len() {
        let parsed: Vec<_> = messages(&bytes[..cut]).collect();
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(
            parsed.len(),
            whole + usize::from(!ends.contains(&cut)),
            "cut at {cut}"
        );
        assert!(parsed[..whole].iter().all(Result::is_ok), "cut at {cut}");
        if !ends.contains(&cut) {
            assert!(parsed[whole].is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn truncated_service_nests_fail_until_the_identity_is_complete() {
    let nest = top_level_nest(
        fixture("service-get").single(cmd::NEW_SERVICE),
        cmd_attr::SERVICE,
    )
    .unwrap();
    // AF (8 bytes), PROTOCOL (8), ADDR (20), PORT (6, then 2 of padding, which the last
    // attribute may go without): the rest is optional.
    for cut in 0..nest.len() {
        let decoded = decode_service(&nest[..cut]);
        if cut < 42 {
            assert!(decoded.is_err(), "cut at {cut}");
        } else {
            assert_eq!(
                decoded.unwrap().service.key,
                tcp_service().key,
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn short_error_and_data_messages_are_errors() {
    for kind in [NLMSG_ERROR, ipvs_family_id()] {
        let mut buf = nlmsghdr(19, kind, 0);
        buf.extend_from_slice(&[1, 1, 0, 0]);
        let msg = messages(&buf).next().unwrap().unwrap();
        assert_eq!(msg.payload.len(), 3);
        assert!(msg.reply().is_err(), "type {kind}");
    }
}

/// Found by fuzzing (fuzz/fuzz_targets/netlink_replies.rs): an error code that is no
/// negative errno (i32::MIN has no negation) is a malformed reply, not a panic.
#[test]
fn an_error_code_that_is_no_errno_is_an_error() {
    for kind in [NLMSG_ERROR, NLMSG_DONE] {
        for code in [i32::MIN, 5] {
            let mut buf = nlmsghdr(20, kind, 0);
            buf.extend_from_slice(&code.to_ne_bytes());
            let reply = messages(&buf).next().unwrap().unwrap().reply();
            match (kind, code) {
                // A positive number after NLMSG_DONE is a dump's count of parts, no error.
                (NLMSG_DONE, 5) => assert_eq!(reply, Ok(Reply::Done)),
                _ => assert!(reply.is_err(), "type {kind}, code {code}: {reply:?}"),
            }
        }
    }
}

#[test]
fn a_dump_failure_arrives_in_nlmsg_done() {
    let mut buf = nlmsghdr(20, NLMSG_DONE, NLM_F_MULTI);
    buf.extend_from_slice(&(-libc::EMSGSIZE).to_ne_bytes());
    let reply = messages(&buf).next().unwrap().unwrap().reply().unwrap();
    assert_eq!(
        reply,
        Reply::Error {
            errno: libc::EMSGSIZE,
            detail: None
        }
    );
}

#[test]
fn extended_ack_text_after_a_whole_echoed_request() {
    // Without NETLINK_CAP_ACK the failed request is echoed in full (here 24 bytes:
    // header, genl header, one 4-byte attribute) before the NLMSGERR_ATTR_MSG (1) text.
    let request = [
        nlmsghdr(24, 0x20, 5),
        vec![cmd::FLUSH, 1, 0, 0],
        attr(7, &[]),
    ]
    .concat();
    let payload = [
        &(-libc::EPERM).to_ne_bytes()[..],
        &request,
        &attr(1, b"not allowed\0"),
    ]
    .concat();
    let mut buf = nlmsghdr(16 + payload.len() as u32, NLMSG_ERROR, 0x200);
    buf.extend(payload);
    let reply = messages(&buf).next().unwrap().unwrap().reply().unwrap();
    assert_eq!(
        reply,
        Reply::Error {
            errno: libc::EPERM,
            detail: Some("not allowed".into())
        }
    );
}

#[test]
fn forwarding_methods_and_tunnel_types_of_a_newer_kernel_are_kept_as_numbers() {
    let nest = dest_nest(&[
        u32_attr(dest_attr::FWD_METHOD, 6),
        attr(dest_attr::TUN_TYPE, &[9]),
        u32_attr(dest_attr::WEIGHT, 3),
    ]);
    let entry = decode_dest(&nest, Family::Inet6).unwrap();
    assert_eq!(entry.dest.forward, Forward::Unknown(6));
    assert_eq!(entry.dest.forward.number(), 6);
    assert_eq!(entry.dest.tunnel.kind, TunnelType::Unknown(9));
    assert_eq!(entry.dest.tunnel.kind.number(), 9);
    assert_eq!(entry.dest.weight, 3);
}
