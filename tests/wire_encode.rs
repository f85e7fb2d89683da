//! Golden bytes of every request, written by hand from the protocol (the
//! kernel's include/uapi/linux/ip_vs.h), one attribute per line:
//!
//! * netlink header: u32 length, u16 type (the family id), u16 flags (REQUEST|ACK = 0x05,
//!   plus DUMP = 0x300 for dumps), u32 seq, u32 pid 0; then the generic netlink header:
//!   u8 command, u8 version (1 for IPVS), u16 reserved 0;
//! * attribute: u16 length (header included, padding excluded), u16 type (nests carry
//!   NLA_F_NESTED, 0x8000: bytes `N, 0x80`), payload, zero padding to 4 bytes.
//!
//! Ports, addresses, the IPv4 netmask and TUN_PORT are in network order; other integers in
//! host order (little-endian on the machines this is written for), the daemon's MCAST_PORT
//! and the IPv6 netmask (a prefix length) included.
#![cfg(target_endian = "little")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvsrs::model::{
    Daemon, DaemonRole, DestKey, Destination, Family, Forward, Service, ServiceFlags, ServiceKey,
    Timeouts, Tunnel, TunnelFlags, TunnelType,
};
use ipvsrs::wire::{ctrl, Request};

/// The family id the goldens use; the kernel allocates the real one.
const FAMILY: u16 = 42;

fn encode(request: Request<'_>, seq: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    request.encode(&mut buf, FAMILY, seq);
    buf
}

/// `assert_eq!` that points at the first differing byte.
fn assert_bytes(actual: &[u8], expected: &[u8]) {
    if let Some(at) = actual.iter().zip(expected).position(|(a, e)| a != e) {
        panic!(
            "first difference at byte {at}: got {:?}, expected {:?} (lengths {} and {})",
            &actual[at..(at + 8).min(actual.len())],
            &expected[at..(at + 8).min(expected.len())],
            actual.len(),
            expected.len()
        );
    }
    assert_eq!(actual.len(), expected.len(), "lengths");
}

fn tcp4() -> ServiceKey {
    ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80)
}

fn udp6() -> ServiceKey {
    ServiceKey::udp(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        5060,
    )
}

fn fwmark4() -> ServiceKey {
    ServiceKey::fwmark(Family::Inet, 7)
}

/// The identity attributes of tcp 10.0.0.1:80 in a service nest: 44 bytes.
#[rustfmt::skip]
const TCP4_KEY: &[u8] = &[
    6, 0, 1, 0,    2, 0, 0, 0,                   // AF (1): u16 2 = AF_INET, 2 bytes padding
    6, 0, 2, 0,    6, 0, 0, 0,                   // PROTOCOL (2): u16 6 = TCP
    20, 0, 3, 0,   10, 0, 0, 1,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0, // ADDR (3): 10.0.0.1, 16 bytes
    6, 0, 4, 0,    0, 80, 0, 0,                  // PORT (4): 80, network order
];

/// The identity attributes of udp [2001:db8::1]:5060: 44 bytes.
#[rustfmt::skip]
const UDP6_KEY: &[u8] = &[
    6, 0, 1, 0,    10, 0, 0, 0,                  // AF (1): 10 = AF_INET6
    6, 0, 2, 0,    17, 0, 0, 0,                  // PROTOCOL (2): 17 = UDP
    20, 0, 3, 0,   0x20, 0x01, 0x0d, 0xb8,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 1, // ADDR (3)
    6, 0, 4, 0,    0x13, 0xc4, 0, 0,             // PORT (4): 5060 = 0x13c4
];

/// The identity attributes of IPv4 fwmark 7: 16 bytes.
#[rustfmt::skip]
const FWMARK4_KEY: &[u8] = &[
    6, 0, 1, 0,    2, 0, 0, 0,                   // AF (1): AF_INET
    8, 0, 5, 0,    7, 0, 0, 0,                   // FWMARK (5): u32 7
];

/// A SERVICE nest holding only an identity (`key`, 44 bytes) or a fwmark one (16 bytes).
fn identity_nest(key: &[u8]) -> Vec<u8> {
    let header: &[u8] = match key.len() {
        44 => &[48, 0, 1, 0x80], // SERVICE (1) | NESTED, 48 bytes
        16 => &[20, 0, 1, 0x80], // SERVICE (1) | NESTED, 20 bytes
        n => panic!("no identity of {n} bytes"),
    };
    [header, key].concat()
}

#[test]
#[rustfmt::skip]
fn get_family() {
    let mut buf = Vec::new();
    ctrl::encode_get_family(&mut buf, 1, "IPVS");
    assert_bytes(&buf, &[
        32, 0, 0, 0,   0x10, 0,   0x05, 0,   1, 0, 0, 0,   0, 0, 0, 0, // len 32, GENL_ID_CTRL, REQUEST|ACK, seq 1
        3, 2, 0, 0,                                   // CTRL_CMD_GETFAMILY (3), the controller's version 2
        9, 0, 2, 0,   b'I', b'P', b'V', b'S',   0, 0, 0, 0, // FAMILY_NAME (2): "IPVS\0", 3 bytes padding
    ]);
}

#[test]
#[rustfmt::skip]
fn requests_without_attributes_appended_to_one_buffer() {
    let mut buf = Vec::new();
    let requests = [
        Request::GetInfo, Request::DumpServices, Request::Zero(None),
        Request::Flush, Request::GetTimeouts, Request::DumpDaemons,
    ];
    for (seq, r) in (1..).zip(requests) {
        r.encode(&mut buf, FAMILY, seq);
    }
    assert_bytes(&buf, &[
        20, 0, 0, 0,  42, 0,  0x05, 0x00,  1, 0, 0, 0,  0, 0, 0, 0,   15, 1, 0, 0, // GET_INFO (15)
        20, 0, 0, 0,  42, 0,  0x05, 0x03,  2, 0, 0, 0,  0, 0, 0, 0,   4, 1, 0, 0,  // GET_SERVICE (4), dump
        20, 0, 0, 0,  42, 0,  0x05, 0x00,  3, 0, 0, 0,  0, 0, 0, 0,   16, 1, 0, 0, // ZERO (16): everything
        20, 0, 0, 0,  42, 0,  0x05, 0x00,  4, 0, 0, 0,  0, 0, 0, 0,   17, 1, 0, 0, // FLUSH (17)
        20, 0, 0, 0,  42, 0,  0x05, 0x00,  5, 0, 0, 0,  0, 0, 0, 0,   13, 1, 0, 0, // GET_CONFIG (13)
        20, 0, 0, 0,  42, 0,  0x05, 0x03,  6, 0, 0, 0,  0, 0, 0, 0,   11, 1, 0, 0, // GET_DAEMON (11), dump
    ]);
}

#[test]
#[rustfmt::skip]
fn requests_naming_a_service() {
    let (tcp, udp, mark) = (tcp4(), udp6(), fwmark4());
    let cases: [(Request<'_>, &[u8], &[u8]); 4] = [
        (Request::DelService(&mark), &[
            40, 0, 0, 0,  42, 0,  0x05, 0x00,  1, 0, 0, 0,  0, 0, 0, 0,   3, 1, 0, 0, // DEL_SERVICE (3)
        ], FWMARK4_KEY),
        (Request::GetService(&tcp), &[
            68, 0, 0, 0,  42, 0,  0x05, 0x00,  1, 0, 0, 0,  0, 0, 0, 0,   4, 1, 0, 0, // GET_SERVICE (4), no dump
        ], TCP4_KEY),
        (Request::DumpDests(&udp), &[
            68, 0, 0, 0,  42, 0,  0x05, 0x03,  1, 0, 0, 0,  0, 0, 0, 0,   8, 1, 0, 0, // GET_DEST (8), dump
        ], UDP6_KEY),
        (Request::Zero(Some(&mark)), &[
            40, 0, 0, 0,  42, 0,  0x05, 0x00,  1, 0, 0, 0,  0, 0, 0, 0,   16, 1, 0, 0, // ZERO (16)
        ], FWMARK4_KEY),
    ];
    for (request, headers, key) in cases {
        assert_bytes(&encode(request, 1), &[headers, &identity_nest(key)].concat());
    }
}

#[test]
#[rustfmt::skip]
fn new_service_ipv4_persistent_with_netmask() {
    let service = Service {
        key: tcp4(),
        scheduler: "rr".into(),
        flags: ServiceFlags::PERSISTENT,
        timeout: 300,
        netmask: 0xffff_ff00,
        pe_name: None,
    };
    let head: &[u8] = &[
        104, 0, 0, 0,  42, 0,  0x05, 0x00,  0x0d, 0x0c, 0x0b, 0x0a,  0, 0, 0, 0, // seq 0x0a0b0c0d
        1, 1, 0, 0,                                  // NEW_SERVICE (1), version 1
        84, 0, 1, 0x80,                              // SERVICE (1) | NESTED, 84 bytes
    ];
    let settings: &[u8] = &[
        7, 0, 6, 0,    b'r', b'r', 0, 0,             // SCHED_NAME (6): "rr\0", 1 byte padding
        12, 0, 7, 0,   1, 0, 0, 0,   0xff, 0xff, 0xff, 0xff, // FLAGS (7): PERSISTENT, mask: all bits
        8, 0, 8, 0,    0x2c, 0x01, 0, 0,             // TIMEOUT (8): 300 s
        8, 0, 9, 0,    255, 255, 255, 0,             // NETMASK (9): 255.255.255.0, network order
    ];
    assert_bytes(&encode(Request::NewService(&service), 0x0a0b_0c0d), &[head, TCP4_KEY, settings].concat());
}

#[test]
#[rustfmt::skip]
fn new_service_ipv6_with_persistence_engine() {
    let service = Service {
        key: udp6(),
        scheduler: "wlc".into(),
        flags: ServiceFlags::PERSISTENT | ServiceFlags::ONEPACKET,
        timeout: 120,
        netmask: 64,
        pe_name: Some("sip".into()),
    };
    let head: &[u8] = &[
        112, 0, 0, 0,  42, 0,  0x05, 0x00,  2, 0, 0, 0,  0, 0, 0, 0,
        1, 1, 0, 0,                                  // NEW_SERVICE (1)
        92, 0, 1, 0x80,                              // SERVICE | NESTED, 92 bytes
    ];
    let settings: &[u8] = &[
        8, 0, 6, 0,    b'w', b'l', b'c', 0,          // SCHED_NAME (6): "wlc\0"
        8, 0, 11, 0,   b's', b'i', b'p', 0,          // PE_NAME (11): "sip\0"
        12, 0, 7, 0,   5, 0, 0, 0,   0xff, 0xff, 0xff, 0xff, // FLAGS (7): PERSISTENT | ONEPACKET
        8, 0, 8, 0,    120, 0, 0, 0,                 // TIMEOUT (8): 120 s
        8, 0, 9, 0,    64, 0, 0, 0,                  // NETMASK (9): prefix length 64, host order
    ];
    assert_bytes(&encode(Request::NewService(&service), 2), &[head, UDP6_KEY, settings].concat());
}

#[test]
#[rustfmt::skip]
fn new_service_ipv6_fwmark() {
    let service = Service {
        key: ServiceKey::fwmark(Family::Inet6, 0x0102_0304),
        scheduler: "sh".into(),
        flags: ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT,
        timeout: 0,
        netmask: 128,
        pe_name: None,
    };
    assert_bytes(&encode(Request::NewService(&service), 3), &[
        76, 0, 0, 0,  42, 0,  0x05, 0x00,  3, 0, 0, 0,  0, 0, 0, 0,
        1, 1, 0, 0,                                  // NEW_SERVICE (1)
        56, 0, 1, 0x80,                              // SERVICE | NESTED, 56 bytes
        6, 0, 1, 0,    10, 0, 0, 0,                  // AF (1): AF_INET6
        8, 0, 5, 0,    4, 3, 2, 1,                   // FWMARK (5): 0x01020304, host order
        7, 0, 6, 0,    b's', b'h', 0, 0,             // SCHED_NAME (6): "sh\0"
        12, 0, 7, 0,   0x18, 0, 0, 0,   0xff, 0xff, 0xff, 0xff, // FLAGS (7): SCHED1 | SCHED2
        8, 0, 8, 0,    0, 0, 0, 0,                   // TIMEOUT (8): 0
        8, 0, 9, 0,    128, 0, 0, 0,                 // NETMASK (9): /128
    ]);
}

#[test]
#[rustfmt::skip]
fn set_service_changes_only_the_masked_flags() {
    let service = Service {
        key: tcp4(),
        scheduler: "mh".into(),
        flags: ServiceFlags::MH_FALLBACK,
        timeout: 0,
        netmask: 0xffff_ffff,
        pe_name: None,
    };
    let request = Request::SetService { service: &service, flags_mask: 0x18 };
    let head: &[u8] = &[
        104, 0, 0, 0,  42, 0,  0x05, 0x00,  4, 0, 0, 0,  0, 0, 0, 0,
        2, 1, 0, 0,                                  // SET_SERVICE (2)
        84, 0, 1, 0x80,                              // SERVICE | NESTED, 84 bytes
    ];
    let settings: &[u8] = &[
        7, 0, 6, 0,    b'm', b'h', 0, 0,             // SCHED_NAME (6): "mh\0"
        12, 0, 7, 0,   0x08, 0, 0, 0,   0x18, 0, 0, 0, // FLAGS (7): MH_FALLBACK; mask SCHED1 | SCHED2
        8, 0, 8, 0,    0, 0, 0, 0,                   // TIMEOUT (8): 0
        8, 0, 9, 0,    255, 255, 255, 255,           // NETMASK (9): 255.255.255.255
    ];
    assert_bytes(&encode(request, 4), &[head, TCP4_KEY, settings].concat());
}

fn masq_dest() -> Destination {
    Destination {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
        port: 8080,
        forward: Forward::Masq,
        weight: 3,
        upper_threshold: 100,
        lower_threshold: 10,
        tunnel: Tunnel::default(),
    }
}

#[test]
#[rustfmt::skip]
fn new_dest_ipv4_masquerading() {
    let head: &[u8] = &[
        164, 0, 0, 0,  42, 0,  0x05, 0x00,  5, 0, 0, 0,  0, 0, 0, 0,
        5, 1, 0, 0,                                  // NEW_DEST (5)
    ];
    let dest: &[u8] = &[
        96, 0, 2, 0x80,                              // DEST (2) | NESTED, 96 bytes
        6, 0, 11, 0,   2, 0, 0, 0,                   // ADDR_FAMILY (11): AF_INET
        20, 0, 1, 0,   10, 0, 1, 1,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0, // ADDR (1): 10.0.1.1
        6, 0, 2, 0,    0x1f, 0x90, 0, 0,             // PORT (2): 8080, network order
        8, 0, 3, 0,    0, 0, 0, 0,                   // FWD_METHOD (3): 0 = masquerading
        8, 0, 4, 0,    3, 0, 0, 0,                   // WEIGHT (4): 3
        5, 0, 13, 0,   0, 0, 0, 0,                   // TUN_TYPE (13): u8 0 = IPIP, 3 bytes padding
        6, 0, 14, 0,   0, 0, 0, 0,                   // TUN_PORT (14): 0
        6, 0, 15, 0,   0, 0, 0, 0,                   // TUN_FLAGS (15): 0 = no checksum
        8, 0, 5, 0,    100, 0, 0, 0,                 // U_THRESH (5): 100
        8, 0, 6, 0,    10, 0, 0, 0,                  // L_THRESH (6): 10
    ];
    let request = Request::NewDest(&tcp4(), &masq_dest());
    assert_bytes(&encode(request, 5), &[head, &identity_nest(TCP4_KEY), dest].concat());
}

#[test]
#[rustfmt::skip]
fn set_dest_ipv4_gue_tunnel_in_an_ipv6_service() {
    // A tunnel may cross families: ADDR_FAMILY follows the destination, not the service.
    let tunnel = Destination {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 3)),
        port: 5060,
        forward: Forward::Tunnel,
        weight: 5,
        upper_threshold: 0,
        lower_threshold: 0,
        tunnel: Tunnel { kind: TunnelType::Gue, port: 6080, flags: TunnelFlags(3) },
    };
    let head: &[u8] = &[
        164, 0, 0, 0,  42, 0,  0x05, 0x00,  6, 0, 0, 0,  0, 0, 0, 0,
        6, 1, 0, 0,                                  // SET_DEST (6)
    ];
    let dest: &[u8] = &[
        96, 0, 2, 0x80,                              // DEST (2) | NESTED, 96 bytes
        6, 0, 11, 0,   2, 0, 0, 0,                   // ADDR_FAMILY (11): AF_INET
        20, 0, 1, 0,   10, 0, 1, 3,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0, // ADDR (1): 10.0.1.3
        6, 0, 2, 0,    0x13, 0xc4, 0, 0,             // PORT (2): 5060
        8, 0, 3, 0,    2, 0, 0, 0,                   // FWD_METHOD (3): 2 = tunnel
        8, 0, 4, 0,    5, 0, 0, 0,                   // WEIGHT (4): 5
        5, 0, 13, 0,   1, 0, 0, 0,                   // TUN_TYPE (13): 1 = GUE
        6, 0, 14, 0,   0x17, 0xc0, 0, 0,             // TUN_PORT (14): 6080, network order
        6, 0, 15, 0,   3, 0, 0, 0,                   // TUN_FLAGS (15): CSUM | REMCSUM, host order
        8, 0, 5, 0,    0, 0, 0, 0,                   // U_THRESH (5): none
        8, 0, 6, 0,    0, 0, 0, 0,                   // L_THRESH (6): none
    ];
    let request = Request::SetDest(&udp6(), &tunnel);
    assert_bytes(&encode(request, 6), &[head, &identity_nest(UDP6_KEY), dest].concat());
}

#[test]
#[rustfmt::skip]
fn del_dest_ipv6() {
    let key = DestKey { addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)), port: 5060 };
    let head: &[u8] = &[
        108, 0, 0, 0,  42, 0,  0x05, 0x00,  7, 0, 0, 0,  0, 0, 0, 0,
        7, 1, 0, 0,                                  // DEL_DEST (7)
    ];
    let dest: &[u8] = &[
        40, 0, 2, 0x80,                              // DEST (2) | NESTED, 40 bytes
        6, 0, 11, 0,   10, 0, 0, 0,                  // ADDR_FAMILY (11): AF_INET6
        20, 0, 1, 0,   0x20, 0x01, 0x0d, 0xb8,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0x10, // ADDR (1)
        6, 0, 2, 0,    0x13, 0xc4, 0, 0,             // PORT (2): 5060
    ];
    let request = Request::DelDest(&udp6(), key);
    assert_bytes(&encode(request, 7), &[head, &identity_nest(UDP6_KEY), dest].concat());
}

/// Where NEW_DEST's attributes sit (see `new_dest_ipv4_masquerading`): 20 bytes of headers,
/// the 48-byte service nest, the DEST nest header, ADDR_FAMILY (8), ADDR (20), PORT (8).
const FWD_METHOD_AT: usize = 108;
const TUN_TYPE_AT: usize = FWD_METHOD_AT + 16;
const TUN_FLAGS_AT: usize = TUN_TYPE_AT + 16;

#[test]
fn forwarding_methods_and_tunnel_settings_by_number() {
    let attr_at = |dest: &Destination, at: usize| {
        encode(Request::NewDest(&tcp4(), dest), 1)[at..at + 8].to_vec()
    };
    let forwards = [
        (Forward::Masq, 0),
        (Forward::Local, 1),
        (Forward::Tunnel, 2),
        (Forward::Route, 3),
        (Forward::Bypass, 4),
    ];
    for (forward, n) in forwards {
        let dest = Destination {
            forward,
            ..masq_dest()
        };
        assert_eq!(
            attr_at(&dest, FWD_METHOD_AT),
            [8, 0, 3, 0, n, 0, 0, 0],
            "{forward:?}"
        );
    }
    for (kind, n) in [
        (TunnelType::Ipip, 0),
        (TunnelType::Gue, 1),
        (TunnelType::Gre, 2),
    ] {
        let dest = Destination {
            tunnel: Tunnel {
                kind,
                ..Tunnel::default()
            },
            ..masq_dest()
        };
        assert_eq!(
            attr_at(&dest, TUN_TYPE_AT),
            [5, 0, 13, 0, n, 0, 0, 0],
            "{kind:?}"
        );
    }
    for (flags, n) in [
        (TunnelFlags::NOCSUM, 0),
        (TunnelFlags::CSUM, 1),
        (TunnelFlags::REMCSUM, 2),
    ] {
        let dest = Destination {
            tunnel: Tunnel {
                flags,
                ..Tunnel::default()
            },
            ..masq_dest()
        };
        assert_eq!(
            attr_at(&dest, TUN_FLAGS_AT),
            [6, 0, 15, 0, n, 0, 0, 0],
            "{flags:?}"
        );
    }
}

#[test]
#[rustfmt::skip]
fn set_timeouts() {
    let timeouts = Timeouts { tcp: 900, tcp_fin: 120, udp: 300 };
    assert_bytes(&encode(Request::SetTimeouts(&timeouts), 8), &[
        44, 0, 0, 0,  42, 0,  0x05, 0x00,  8, 0, 0, 0,  0, 0, 0, 0,
        12, 1, 0, 0,                                 // SET_CONFIG (12)
        8, 0, 4, 0,    0x84, 0x03, 0, 0,             // TIMEOUT_TCP (4): 900 s
        8, 0, 5, 0,    120, 0, 0, 0,                 // TIMEOUT_TCP_FIN (5): 120 s
        8, 0, 6, 0,    0x2c, 0x01, 0, 0,             // TIMEOUT_UDP (6): 300 s
    ]);
}

#[test]
#[rustfmt::skip]
fn new_daemon_with_ipv4_group() {
    let daemon = Daemon {
        role: DaemonRole::Master,
        ifname: "sync0".into(),
        sync_id: 9,
        sync_maxlen: 1200,
        mcast_group: Some(IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3))),
        mcast_port: 8850,
        mcast_ttl: 3,
    };
    assert_bytes(&encode(Request::NewDaemon(&daemon), 9), &[
        84, 0, 0, 0,  42, 0,  0x05, 0x00,  9, 0, 0, 0,  0, 0, 0, 0,
        9, 1, 0, 0,                                  // NEW_DAEMON (9)
        64, 0, 3, 0x80,                              // DAEMON (3) | NESTED, 64 bytes
        8, 0, 1, 0,    1, 0, 0, 0,                   // STATE (1): 1 = master
        10, 0, 2, 0,   b's', b'y', b'n', b'c', b'0', 0,   0, 0, // MCAST_IFN (2): "sync0\0"
        8, 0, 3, 0,    9, 0, 0, 0,                   // SYNC_ID (3): 9
        6, 0, 4, 0,    0xb0, 0x04, 0, 0,             // SYNC_MAXLEN (4): 1200
        6, 0, 7, 0,    0x92, 0x22, 0, 0,             // MCAST_PORT (7): 8850, host order
        5, 0, 8, 0,    3, 0, 0, 0,                   // MCAST_TTL (8): 3
        8, 0, 5, 0,    239, 1, 2, 3,                 // MCAST_GROUP (5): 239.1.2.3, network order
    ]);
}

#[test]
#[rustfmt::skip]
fn new_daemon_with_ipv6_group() {
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123);
    let daemon = Daemon { mcast_group: Some(IpAddr::V6(group)), ..Daemon::new(DaemonRole::Backup, "eth1", 1) };
    assert_bytes(&encode(Request::NewDaemon(&daemon), 10), &[
        72, 0, 0, 0,  42, 0,  0x05, 0x00,  10, 0, 0, 0,  0, 0, 0, 0,
        9, 1, 0, 0,                                  // NEW_DAEMON (9)
        52, 0, 3, 0x80,                              // DAEMON (3) | NESTED, 52 bytes
        8, 0, 1, 0,    2, 0, 0, 0,                   // STATE (1): 2 = backup
        9, 0, 2, 0,    b'e', b't', b'h', b'1', 0,   0, 0, 0, // MCAST_IFN (2): "eth1\0"
        8, 0, 3, 0,    1, 0, 0, 0,                   // SYNC_ID (3): 1
        20, 0, 6, 0,   0xff, 0x02, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0x01, 0x23, // MCAST_GROUP6 (6)
    ]);
}

#[test]
#[rustfmt::skip]
fn new_daemon_with_kernel_defaults_sends_no_optional_attributes() {
    let daemon = Daemon::new(DaemonRole::Master, "sync0", 0);
    assert_bytes(&encode(Request::NewDaemon(&daemon), 11), &[
        52, 0, 0, 0,  42, 0,  0x05, 0x00,  11, 0, 0, 0,  0, 0, 0, 0,
        9, 1, 0, 0,                                  // NEW_DAEMON (9)
        32, 0, 3, 0x80,                              // DAEMON (3) | NESTED, 32 bytes
        8, 0, 1, 0,    1, 0, 0, 0,                   // STATE (1): master
        10, 0, 2, 0,   b's', b'y', b'n', b'c', b'0', 0,   0, 0, // MCAST_IFN (2): "sync0\0"
        8, 0, 3, 0,    0, 0, 0, 0,                   // SYNC_ID (3): 0
    ]);
}

#[test]
#[rustfmt::skip]
fn del_daemon() {
    assert_bytes(&encode(Request::DelDaemon(DaemonRole::Backup), 12), &[
        32, 0, 0, 0,  42, 0,  0x05, 0x00,  12, 0, 0, 0,  0, 0, 0, 0,
        10, 1, 0, 0,                                 // DEL_DAEMON (10)
        12, 0, 3, 0x80,                              // DAEMON (3) | NESTED, 12 bytes
        8, 0, 1, 0,    2, 0, 0, 0,                   // STATE (1): 2 = backup
    ]);
}
