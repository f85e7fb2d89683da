//! The connection table: `Handle::connections` and `ipvsrs list --connections` against
//! Debian's `ipvsadm -Lnc` in the same namespace, with connections the test made: NAT
//! connections and the persistence template through the data-plane topology, and IPv6
//! UDP "connections" of a local client in the director.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use ipvsrs::model::{Connection, Forward, ServiceKey};

use crate::dataplane::{Forward as Mode, Topology, CLIENT_IP, PORT, REAL_SERVERS, VIP};
use crate::support::{c_binary, in_netns, run, Netns};

/// The IPv6 virtual address of the local UDP service, on the director's `lo`.
const VIP6: &str = "fd00:c0::1";

/// How long the table may take to agree with itself and with ipvsadm.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// An entry as both sides can show it: protocol, client, virtual, real server, state.
type Row = (String, String, String, String, String);

/// `ipvsadm -Lnc`'s lines, read with its own format: `pro mm:ss state source virtual
/// destination`. Returns the rows and each row's seconds to expiry.
fn ipvsadm_rows(listing: &str) -> Vec<(Row, u64)> {
    let mut lines = listing.lines();
    assert_eq!(lines.next(), Some("IPVS connection entries"), "{listing}");
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "pro",
            "expire",
            "state",
            "source",
            "virtual",
            "destination"
        ])
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 6, "{line}");
            let (m, s) = f[1].split_once(':').unwrap();
            let secs = m.parse::<u64>().unwrap() * 60 + s.parse::<u64>().unwrap();
            let row = (f[0], f[3], f[4], f[5], f[2]);
            let row = (
                row.0.into(),
                row.1.into(),
                row.2.into(),
                row.3.into(),
                row.4.into(),
            );
            (row, secs)
        })
        .collect()
}

fn row_of(c: &Connection) -> Row {
    let (protocol, virtual_addr) = match c.target {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (protocol.name().to_uppercase(), SocketAddr::new(addr, port)),
        ServiceKey::Fwmark { .. } => panic!("no firewall-mark service here: {c:?}"),
    };
    (
        protocol,
        c.client.to_string(),
        virtual_addr.to_string(),
        c.real.to_string(),
        c.state.clone(),
    )
}

fn rows(conns: &[Connection]) -> BTreeSet<Row> {
    conns.iter().map(row_of).collect()
}

/// Reads the library's table, ipvsadm's, and the library's again until all three show
/// the same rows (states move on while connections close) and `ready` holds for them;
/// returns the first reading, ipvsadm's rows with their expiry, and the time between the
/// first reading and ipvsadm's.
fn agreeing(
    ns: &Netns,
    ready: impl Fn(&[Connection]) -> bool,
) -> (Vec<Connection>, Vec<(Row, u64)>, Duration) {
    let deadline = Instant::now() + SETTLE_WITHIN;
    let mut h = ns.handle();
    loop {
        let before = Instant::now();
        let ours = h.connections().unwrap();
        let theirs = ipvsadm_rows(&ns.ipvsadm(&["-Lnc"]));
        let between = before.elapsed();
        let again = h.connections().unwrap();
        let their_rows: BTreeSet<Row> = theirs.iter().map(|(r, _)| r.clone()).collect();
        if rows(&ours) == their_rows && rows(&again) == their_rows && ready(&ours) {
            assert_eq!(ours.len(), theirs.len(), "an entry listed twice");
            return (ours, theirs, between);
        }
        assert!(
            Instant::now() < deadline,
            "for {SETTLE_WITHIN:?} the tables differed: ours {:?}, ipvsadm's {their_rows:?}",
            rows(&ours)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The lines of a connection listing with the expiry column blanked and only the first
/// `fields` fields kept, sorted (ipvsadm and the library read the table at different times).
fn comparable(listing: &str, fields: usize) -> Vec<String> {
    let mut lines: Vec<String> = listing
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().take(fields).collect();
            if f.len() == fields && f[1].contains(':') {
                f[1] = "-";
            }
            f.join(" ")
        })
        .collect();
    lines.sort();
    lines
}

fn persistent_nat_model() -> String {
    let [rs1, rs2] = REAL_SERVERS;
    format!(
        "services:\n  - address: tcp://{VIP}:{PORT}\n    sched: rr\n    \
         persistence: {{ timeout: 600 }}\n    destinations:\n      \
         - {{ address: {rs1}:{PORT}, forward: nat }}\n      \
         - {{ address: {rs2}:{PORT}, forward: nat }}\n  \
         - address: udp://[{VIP6}]:53\n    sched: rr\n    destinations:\n      \
         - {{ address: '[{VIP6}]:5353', forward: nat }}\n"
    )
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn connections_are_what_ipvsadm_lists() {
    let mut t = Topology::new(Mode::Nat);
    t.director
        .ip(&["addr", "add", &format!("{VIP6}/128"), "dev", "lo", "nodad"]);
    t.start_sinks();
    t.director
        .apply_model("connections", &persistent_nat_model());
    let mut h = t.director.handle();
    assert_eq!(h.connections().unwrap(), vec![], "a table without traffic");

    // Four closed connections and one left open, all from the client to the same real
    // server (persistence), and three UDP flows of a local client to the IPv6 service.
    let bytes = t.connect_many(4);
    assert!(
        bytes.contains(&0),
        "persistence split the client: {bytes:?}"
    );
    let open = in_netns(&t.client, || TcpStream::connect((VIP, PORT))).unwrap();
    let open_port = open.local_addr().unwrap().port();
    let udp_ports: Vec<u16> = in_netns(&t.director, || {
        (0..3)
            .map(|_| {
                let s = UdpSocket::bind(("::1", 0)).unwrap();
                s.send_to(b"ping", (VIP6, 53)).unwrap();
                s.local_addr().unwrap().port()
            })
            .collect()
    });

    // The client's connect returns before its last ACK has passed the director.
    let established = |conns: &[Connection]| {
        conns
            .iter()
            .any(|c| c.client.port() == open_port && c.state == "ESTABLISHED")
    };
    let (conns, theirs, between) = agreeing(&t.director, established);
    let tcp: Vec<&Connection> = conns
        .iter()
        .filter(|c| matches!(c.target, ServiceKey::Addr { port, .. } if port == PORT))
        .collect();
    let udp: Vec<&Connection> = conns.iter().filter(|c| !tcp.contains(c)).collect();
    // The kernel's 5 connections and 1 template, each once.
    assert_eq!(tcp.len(), 6, "{conns:#?}");
    let templates: Vec<&&Connection> = tcp.iter().filter(|c| c.template).collect();
    assert_eq!(templates.len(), 1, "{conns:#?}");
    assert_eq!(
        templates[0].client,
        format!("{CLIENT_IP}:0").parse().unwrap()
    );
    let real = templates[0].real;
    for c in &tcp {
        assert_eq!(c.client.ip().to_string(), CLIENT_IP);
        assert_eq!(c.target, ServiceKey::tcp(VIP.parse().unwrap(), PORT));
        assert_eq!(c.real, real, "persistence keeps one real server");
        assert_eq!(c.forward, Some(Forward::Masq));
        assert!(c.engine.is_none());
    }
    let mut udp_clients: Vec<u16> = udp.iter().map(|c| c.client.port()).collect();
    udp_clients.sort();
    let mut sent_from = udp_ports.clone();
    sent_from.sort();
    assert_eq!(udp_clients, sent_from, "{conns:#?}");
    for c in &udp {
        assert_eq!(c.target, ServiceKey::udp(VIP6.parse().unwrap(), 53));
        assert_eq!(c.client.ip(), "::1".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(c.real, format!("[{VIP6}]:5353").parse().unwrap());
        assert_eq!(c.state, "UDP");
        assert!(!c.template);
        // The real server is the director's own address; the table keeps the method the
        // model gave it.
        assert_eq!(c.forward, Some(Forward::Masq));
    }

    // Expiry: ipvsadm read at most `between` later, and counts whole seconds down.
    for c in &conns {
        let (_, secs) = theirs.iter().find(|(r, _)| *r == row_of(c)).unwrap();
        let ours = c.expires.as_secs();
        assert!(
            *secs <= ours && ours <= secs + between.as_secs() + 1,
            "{c:?}: expires in {ours} s, ipvsadm {secs} s"
        );
    }

    // The command line and the C example (ipvs-list, on the C iterator): the same lines
    // as ipvsadm's but for the expiry column; ipvs-list adds each entry's forwarding
    // method, and "template" for the templates.
    let list = |name: &str| match name {
        "ipvsrs" => run(&mut t.director.ipvsrs_command(&["list", "--connections"])),
        _ => run(Command::new(c_binary("ipvs-list"))
            .args(["--connections", "--netns"])
            .arg(t.director.path())),
    };
    for name in ["ipvsrs", "ipvs-list"] {
        let deadline = Instant::now() + SETTLE_WITHIN;
        loop {
            let ours = list(name);
            let theirs = t.director.ipvsadm(&["-Lnc"]);
            if comparable(&ours, 6) == comparable(&theirs, 6) {
                if name == "ipvs-list" {
                    for line in ours.lines().skip(2) {
                        let f: Vec<&str> = line.split_whitespace().collect();
                        let template = f[3].ends_with(":0");
                        let tail: &[&str] = if template {
                            &["Masq", "template"]
                        } else {
                            &["Masq"]
                        };
                        assert_eq!(&f[6..], tail, "{line}");
                    }
                }
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} --connections:\n{ours}\nipvsadm -Lnc:\n{theirs}"
            );
        }
    }
    drop(open);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_namespace_lists_only_its_own_connections() {
    let a = Netns::new();
    let b = Netns::new();
    for ns in [&a, &b] {
        ns.ip(&["addr", "add", "10.9.0.1/32", "dev", "lo"]);
        ns.apply_model(
            "own",
            "services:\n  - address: udp://10.9.0.1:53\n    sched: rr\n    destinations:\n      \
             - { address: 10.9.0.1:5353 }\n",
        );
    }
    in_netns(&a, || {
        let s = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        s.send_to(b"ping", ("10.9.0.1", 53)).unwrap();
    });
    let deadline = Instant::now() + SETTLE_WITHIN;
    let mut h = a.handle();
    while h.connections().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the flow never showed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(h.connections().unwrap().len(), 1);
    assert_eq!(b.handle().connections().unwrap(), vec![]);
    // A handle opened by path reads that namespace, not its caller's.
    let mut by_path = ipvsrs::Handle::open_in_netns(a.path()).unwrap();
    assert_eq!(by_path.connections().unwrap().len(), 1);
}
