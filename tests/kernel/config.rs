//! Table-wide commands: connection timeouts, zeroing counters, flushing.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ipvsrs::model::{Destination, Family, Forward, Service, ServiceKey, Stats, Timeouts};
use ipvsrs::Handle;

use crate::support::{assert_saved, in_netns, Netns};

/// The kernel's defaults: TCP established 15 min, TCP FIN_WAIT 2 min, UDP 5 min.
const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    tcp: 900,
    tcp_fin: 120,
    udp: 300,
};

/// The timeouts are `expected`, for us and for ipvsadm.
fn assert_timeouts(ns: &Netns, h: &mut Handle, expected: Timeouts) {
    assert_eq!(h.timeouts().unwrap(), expected);
    let Timeouts { tcp, tcp_fin, udp } = expected;
    let line = format!("Timeout (tcp tcpfin udp): {tcp} {tcp_fin} {udp}\n");
    assert_eq!(ns.ipvsadm(&["-L", "--timeout"]), line);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn timeouts_set_in_full_and_in_part() {
    let ns = Netns::new();
    let mut h = ns.handle();
    assert_timeouts(&ns, &mut h, DEFAULT_TIMEOUTS);
    let all = Timeouts {
        tcp: 3600,
        tcp_fin: 60,
        udp: 30,
    };
    h.set_timeouts(&all).unwrap();
    assert_timeouts(&ns, &mut h, all);
    // Zeros leave those timeouts as they are.
    h.set_timeouts(&Timeouts {
        tcp: 0,
        tcp_fin: 45,
        udp: 0,
    })
    .unwrap();
    assert_timeouts(&ns, &mut h, Timeouts { tcp_fin: 45, ..all });
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn timeouts_set_by_ipvsadm_read_back() {
    let ns = Netns::new();
    ns.ipvsadm(&["--set", "100", "20", "10"]);
    assert_eq!(
        ns.handle().timeouts().unwrap(),
        Timeouts {
            tcp: 100,
            tcp_fin: 20,
            udp: 10
        }
    );
}

// --- Counters. Traffic: UDP datagrams from inside the namespace to a VIP on its loopback;
// IPVS sees them on the local output path and schedules them to the VIP itself (Local
// forwarding), where a socket receives them.

const VIP: &str = "10.0.0.1";
const PAYLOAD: &[u8] = b"ping";
/// IPVS counts whole IP packets: IPv4 and UDP headers plus the payload.
const PACKET_BYTES: u64 = 20 + 8 + PAYLOAD.len() as u64;

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

fn service(port: u16) -> ServiceKey {
    ServiceKey::udp(vip(), port)
}

/// A namespace with the VIP on `lo` and a UDP service per port, each forwarding to the VIP.
fn netns_with_local_services(ports: &[u16]) -> (Netns, Handle) {
    let ns = Netns::new();
    ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
    let mut h = ns.handle();
    for &port in ports {
        h.add_service(&Service::new(service(port), "rr")).unwrap();
        h.add_dest(
            &service(port),
            &Destination::new(vip(), port, Forward::Local),
        )
        .unwrap();
    }
    (ns, h)
}

/// Sends `count` datagrams from one socket to VIP:port, checks they arrived, and waits
/// until IPVS shows them: the kernel publishes its per-CPU counters only when its rate
/// estimator runs, every 2 seconds.
fn send_datagrams(ns: &Netns, h: &mut Handle, port: u16, count: u64) {
    let to = SocketAddr::new(vip(), port);
    in_netns(ns, || {
        let server = UdpSocket::bind(to).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let client = UdpSocket::bind((vip(), 0)).unwrap();
        let mut buf = [0u8; 64];
        for _ in 0..count {
            client.send_to(PAYLOAD, to).unwrap();
            assert_eq!(
                server.recv(&mut buf).expect("the datagram arrives"),
                PAYLOAD.len()
            );
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let counted = |h: &mut Handle| {
        let (svc, dest) = counters(h, port);
        svc.inpkts >= count && dest.inpkts >= count
    };
    while !counted(h) {
        assert!(
            Instant::now() < deadline,
            "port {port}: IPVS did not count the datagrams"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The counters of a service and of its only destination.
fn counters(h: &mut Handle, port: u16) -> (Stats, Stats) {
    let svc = h.service(&service(port)).unwrap().stats;
    let dests = h.dests(&service(port)).unwrap();
    assert_eq!(dests.len(), 1);
    (svc, dests[0].stats)
}

/// `(conns, inpkts, inbytes)` of a service as `ipvsadm -L --stats` prints them.
fn ipvsadm_counters(ns: &Netns, port: u16) -> (u64, u64, u64) {
    let vs = format!("{VIP}:{port}");
    let out = ns.ipvsadm(&["-Ln", "--stats", "--exact", "-u", &vs]);
    let line = out
        .lines()
        .find(|l| l.starts_with("UDP"))
        .unwrap_or_else(|| panic!("{out}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(2)
        .map(|f| f.parse().unwrap())
        .collect();
    (n[0], n[1], n[3])
}

/// A service and its destination count `packets` datagrams of one connection, or nothing.
fn assert_counted(ns: &Netns, h: &mut Handle, port: u16, packets: u64) {
    let expected = (packets.min(1), packets, packets * PACKET_BYTES);
    let (svc, dest) = counters(h, port);
    for stats in [svc, dest] {
        assert_eq!(
            (stats.conns, stats.inpkts, stats.inbytes),
            expected,
            "port {port}: {stats:?}"
        );
    }
    assert_eq!(ipvsadm_counters(ns, port), expected, "ipvsadm, port {port}");
    if packets == 0 {
        // Zeroing also clears the other counters and the rate estimates.
        assert_eq!((svc, dest), (Stats::default(), Stats::default()));
    }
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn zero_clears_the_counters_of_one_service_or_of_all() {
    let (ns, mut h) = netns_with_local_services(&[5000, 5001]);
    send_datagrams(&ns, &mut h, 5000, 3);
    send_datagrams(&ns, &mut h, 5001, 2);
    assert_counted(&ns, &mut h, 5000, 3);
    assert_counted(&ns, &mut h, 5001, 2);
    h.zero(Some(&service(5000))).unwrap();
    assert_counted(&ns, &mut h, 5000, 0);
    assert_counted(&ns, &mut h, 5001, 2);
    h.zero(None).unwrap();
    assert_counted(&ns, &mut h, 5001, 0);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn flush_empties_the_table() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let services = [
        (ServiceKey::tcp(vip(), 80), "10.0.1.1"),
        (
            ServiceKey::udp("2001:db8::1".parse().unwrap(), 53),
            "2001:db8::2",
        ),
        (ServiceKey::fwmark(Family::Inet, 7), "10.0.1.2"),
    ];
    for (key, server) in &services {
        h.add_service(&Service::new(*key, "wlc")).unwrap();
        h.add_dest(
            key,
            &Destination::new(server.parse().unwrap(), 8080, Forward::Route),
        )
        .unwrap();
    }
    assert_eq!(h.services().unwrap().len(), services.len());
    h.flush().unwrap();
    assert!(h.services().unwrap().is_empty());
    assert_saved(&ns, &[] as &[&str]);
}
