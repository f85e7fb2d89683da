//! Data-plane proof: a director programmed only by `ipvsrs apply` forwards real TCP traffic
//! to two real servers in NAT, direct-routing and IP-in-IP tunnel modes. The topology is the
//! kernel selftest's (tools/testing/selftests/net/netfilter/ipvs.sh) with a second real
//! server; all of it lives in namespaces the test creates, so no packet leaves the machine.
//!
//! ```text
//!   client   10.0.0.2 ─┐                         ┌─ 172.16.0.1 director (IPVS)
//!   director 10.0.0.1 ─┤ bridge         bridge   ├─ 172.16.0.2 rs1
//!   rs1      10.0.0.3 ─┤ "clients"      "servers" └─ 172.16.0.3 rs2
//!   rs2      10.0.0.4 ─┘ (the real servers' replies in DR and TUN)
//! ```
//!
//! Both bridges are in a namespace of their own. Each real server runs an echo sink on
//! 0.0.0.0:8080, so it answers on the VIP (DR, TUN) and on its own address (NAT, and a
//! health checker in the director).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::{assert_saved, in_netns, run, Netns};

pub const VIP: &str = "207.175.44.110";
pub const PORT: u16 = 8080;
pub const CLIENT_IP: &str = "10.0.0.2";
/// The director's address on the client LAN: the client's route to the VIP.
pub const DIRECTOR_CLIENT_IP: &str = "10.0.0.1";
/// The director's address on the server LAN: the real servers' NAT gateway.
pub const DIRECTOR_SERVER_IP: &str = "172.16.0.1";
/// The real servers' addresses (RIPs) on the server LAN.
pub const REAL_SERVERS: [&str; 2] = ["172.16.0.2", "172.16.0.3"];
/// The real servers' addresses on the client LAN, their direct way back in DR and TUN.
const REAL_SERVERS_CLIENT_SIDE: [&str; 2] = ["10.0.0.3", "10.0.0.4"];

/// Bytes each connection of [`Topology::connect_many`] sends and expects echoed back.
pub const PAYLOAD_LEN: usize = 1024;
/// Bound on every connect, read and write: the guest is slow, but not this slow.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a sink looks for a stop request between connections.
const ACCEPT_POLL: Duration = Duration::from_millis(10);

/// How the director forwards to the real servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    Nat,
    Direct,
    Tunnel,
}

impl Forward {
    /// The `forward:` value of a destination in a desired-state model.
    pub fn model_value(self) -> &'static str {
        match self {
            Forward::Nat => "nat",
            Forward::Direct => "direct",
            Forward::Tunnel => "tunnel",
        }
    }
}

/// The model of the director: `tcp://VIP:8080` (rr) with both real servers.
pub fn model(forward: Forward) -> String {
    let f = forward.model_value();
    let [rs1, rs2] = REAL_SERVERS;
    format!(
        "services:\n  - address: tcp://{VIP}:{PORT}\n    sched: rr\n    destinations:\n      \
         - {{ address: {rs1}:{PORT}, forward: {f} }}\n      \
         - {{ address: {rs2}:{PORT}, forward: {f} }}\n"
    )
}

/// Which real server handled a connection, and how many bytes it received on it, by the
/// peer address it saw.
type Received = Arc<Mutex<HashMap<SocketAddr, (usize, usize)>>>;

/// A client, a director, two real servers and the switch between them, set up for one
/// forwarding mode; every namespace is deleted on drop, after the sinks stop.
pub struct Topology {
    pub client: Netns,
    /// Program it with `director.apply_model` (`ipvsrs --netns <director.name>`).
    pub director: Netns,
    pub servers: [Netns; 2],
    /// Holds the two bridges.
    switch: Netns,
    sinks: [Option<Sink>; 2],
    received: Received,
}

impl Topology {
    pub fn new(forward: Forward) -> Topology {
        let t = Topology {
            client: Netns::new(),
            director: Netns::new(),
            servers: [Netns::new(), Netns::new()],
            switch: Netns::new(),
            sinks: [None, None],
            received: Received::default(),
        };
        for bridge in ["clients", "servers"] {
            t.switch.ip(&["link", "add", bridge, "type", "bridge"]);
            t.switch.ip(&["link", "set", bridge, "up"]);
        }

        t.plug(&t.client, "eth0", "client", "clients", CLIENT_IP);
        t.client
            .ip(&["route", "add", VIP, "via", DIRECTOR_CLIENT_IP]);

        let d = &t.director;
        t.plug(d, "eth0", "director-c", "clients", DIRECTOR_CLIENT_IP);
        t.plug(d, "eth1", "director-s", "servers", DIRECTOR_SERVER_IP);
        // IPVS only schedules packets addressed to a local address.
        d.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
        match forward {
            Forward::Nat => sysctl(d, &["net.ipv4.ip_forward=1"]),
            Forward::Direct => {}
            // As the selftest: IPVS sends the tunnelled packets itself, nothing is routed,
            // and the director must not redirect the client to the real servers.
            Forward::Tunnel => {
                d.ip(&["link", "set", "tunl0", "up"]);
                sysctl(
                    d,
                    &[
                        "net.ipv4.ip_forward=0",
                        "net.ipv4.conf.all.send_redirects=0",
                        "net.ipv4.conf.default.send_redirects=0",
                    ],
                );
            }
        }

        for (i, rs) in t.servers.iter().enumerate() {
            let port = format!("rs{}-s", i + 1);
            t.plug(rs, "eth0", &port, "servers", REAL_SERVERS[i]);
            match forward {
                // Replies go back through the director, which rewrites their source.
                Forward::Nat => {
                    rs.ip(&["route", "add", "default", "via", DIRECTOR_SERVER_IP]);
                }
                Forward::Direct | Forward::Tunnel => {
                    let port = format!("rs{}-c", i + 1);
                    t.plug(rs, "eth1", &port, "clients", REAL_SERVERS_CLIENT_SIDE[i]);
                    t.accept_vip(rs, forward);
                }
            }
        }
        t
    }

    /// A veth pair from `ns` (`ifname`, with `addr`/24) to the switch (`port` on `bridge`).
    fn plug(&self, ns: &Netns, ifname: &str, port: &str, bridge: &str, addr: &str) {
        let sw = &self.switch;
        let peer = ["peer", "name", ifname, "netns", &ns.name];
        sw.ip(&[&["link", "add", port, "type", "veth"][..], &peer].concat());
        sw.ip(&["link", "set", port, "master", bridge, "up"]);
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", ifname]);
        ns.ip(&["link", "set", ifname, "up"]);
    }

    /// A real server of DR or TUN: the VIP is local, but only the director answers ARP
    /// for it, and packets from the client arrive where its replies do not leave (the
    /// server LAN or tunl0), so reverse-path filtering is off.
    fn accept_vip(&self, rs: &Netns, forward: Forward) {
        rs.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
        let mut settings = vec![
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
            "net.ipv4.conf.eth0.rp_filter=0",
            "net.ipv4.conf.eth1.rp_filter=0",
        ];
        if forward == Forward::Tunnel {
            // tunl0 is the ipip module's catch-all device, in every namespace.
            rs.ip(&["link", "set", "tunl0", "up"]);
            settings.push("net.ipv4.conf.tunl0.rp_filter=0");
        }
        sysctl(rs, &settings);
    }

    /// Starts the sinks of both real servers.
    pub fn start_sinks(&mut self) {
        for i in 0..self.servers.len() {
            self.restore_server(i);
        }
    }

    /// Stops real server `i`'s sink: its port is closed (connections to it are refused)
    /// once this returns.
    pub fn kill_server(&mut self, i: usize) {
        let sink = self.sinks[i].take();
        let stopped = sink
            .unwrap_or_else(|| panic!("rs{} has no sink running", i + 1))
            .stop();
        stopped.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    }

    /// Starts real server `i`'s sink: its port accepts connections once this returns.
    pub fn restore_server(&mut self, i: usize) {
        assert!(self.sinks[i].is_none(), "rs{} has a sink running", i + 1);
        let listener = in_netns(&self.servers[i], || TcpListener::bind(("0.0.0.0", PORT)))
            .unwrap_or_else(|e| panic!("rs{}: listen on port {PORT}: {e}", i + 1));
        self.sinks[i] = Some(Sink::start(listener, i, self.received.clone()));
    }

    /// Opens `n` connections from the client to VIP:8080, one after another; each sends
    /// [`PAYLOAD_LEN`] bytes and must get them echoed back. Panics unless every connection
    /// succeeds and a real server saw each one come from the client's own address with all
    /// its bytes. Returns the bytes each real server received.
    pub fn connect_many(&self, n: usize) -> [usize; 2] {
        let local_addrs: Vec<SocketAddr> = in_netns(&self.client, || {
            (0..n)
                .map(|c| {
                    exchange(c).unwrap_or_else(|e| panic!("connection {c} to {VIP}:{PORT}: {e}"))
                })
                .collect()
        });
        let mut received = self.received.lock().unwrap();
        let mut bytes = [0; 2];
        for (c, addr) in local_addrs.iter().enumerate() {
            let (server, len) = received
                .remove(addr)
                .unwrap_or_else(|| panic!("no real server saw connection {c} from {addr}"));
            assert_eq!(
                len,
                PAYLOAD_LEN,
                "bytes rs{} received on connection {c}",
                server + 1
            );
            bytes[server] += len;
        }
        bytes
    }

    /// Whether the director can open a connection to real server `i`'s port, as a health
    /// checker there does.
    pub fn director_reaches(&self, i: usize) -> bool {
        let rip: SocketAddr = format!("{}:{PORT}", REAL_SERVERS[i]).parse().unwrap();
        in_netns(&self.director, || {
            TcpStream::connect_timeout(&rip, IO_TIMEOUT).is_ok()
        })
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for sink in self.sinks.iter_mut().filter_map(Option::take) {
            // A second panic while a failed test unwinds would abort the whole run.
            if let Err(panic) = sink.stop() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

/// `sysctl -w` of `settings` (`key=value`) inside `ns`.
pub fn sysctl(ns: &Netns, settings: &[&str]) {
    run(ns.exec("sysctl").arg("-qw").args(settings));
}

/// The payload of connection `c`: a different byte pattern each, so that an echo of
/// another connection's bytes does not pass.
fn payload(c: usize) -> Vec<u8> {
    (0..PAYLOAD_LEN).map(|k| (k * 7 + c) as u8).collect()
}

/// One connection of [`Topology::connect_many`]: send, half-close, read the echo to the
/// end. Returns the connection's local address.
fn exchange(c: usize) -> io::Result<SocketAddr> {
    let vip: SocketAddr = format!("{VIP}:{PORT}").parse().unwrap();
    let mut stream = TcpStream::connect_timeout(&vip, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let sent = payload(c);
    stream.write_all(&sent)?;
    stream.shutdown(Shutdown::Write)?;
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed)?;
    if echoed != sent {
        let got = echoed.len();
        return Err(io::Error::other(format!("echo differs ({got} bytes back)")));
    }
    stream.local_addr()
}

/// A real server's echo sink: a thread serving one connection at a time on a listening
/// socket created in the server's namespace.
struct Sink {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Sink {
    fn start(listener: TcpListener, server: usize, received: Received) -> Sink {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            // Non-blocking, so that the thread sees a stop request between connections.
            listener
                .set_nonblocking(true)
                .expect("non-blocking listener");
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    // One bad connection does not end the sink: its client notices.
                    Ok((stream, peer)) => drop(echo(stream, peer, server, &received)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(ACCEPT_POLL)
                    }
                    Err(e) => panic!("rs{}: accept: {e}", server + 1),
                }
            }
            // A process that another test thread is starting holds a copy of the
            // descriptor until it execs, keeping the port open after a close; a shutdown
            // stops the listening socket itself.
            // SAFETY: shutdown only acts on the descriptor, which `listener` owns.
            let rc = unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
            assert_eq!(
                rc,
                0,
                "rs{}: shutdown: {}",
                server + 1,
                io::Error::last_os_error()
            );
        });
        Sink { stop, thread }
    }

    /// Returns once the listening socket is closed, with the sink thread's panic if any.
    fn stop(self) -> std::thread::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join()
    }
}

/// Reads a connection to its end, records what arrived, and sends it all back. The record
/// comes first, so a client that has its echo finds it.
fn echo(
    mut stream: TcpStream,
    peer: SocketAddr,
    server: usize,
    received: &Received,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut data = Vec::new();
    stream.read_to_end(&mut data)?;
    received.lock().unwrap().insert(peer, (server, data.len()));
    stream.write_all(&data)?;
    // The end of the echo, even while a copy of the descriptor lives in a child process.
    stream.shutdown(Shutdown::Write)
}

/// One mode's proof: apply the model, check the table, send traffic, and check that the
/// director reaches each real server's port directly, closed and open again.
fn forwards_traffic(forward: Forward, label: &str, saved: &[&str]) {
    let mut t = Topology::new(forward);
    t.start_sinks();
    t.director.apply_model("dataplane", &model(forward));
    assert_saved(&t.director, saved);

    let bytes = t.connect_many(8);
    println!("{label}: rs1 {} bytes, rs2 {} bytes", bytes[0], bytes[1]);
    // rr alternates between the two: 4 connections of 1024 bytes each.
    assert_eq!(bytes, [4096, 4096], "{label}: bytes at rs1, rs2");

    assert!(t.director_reaches(0) && t.director_reaches(1));
    t.kill_server(1);
    assert!(!t.director_reaches(1), "rs2's port is still open");
    t.restore_server(1);
    assert!(t.director_reaches(1), "rs2's port did not open again");
    assert_eq!(
        t.connect_many(2),
        [1024, 1024],
        "{label}: after rs2 came back"
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn nat_forwards_to_both_real_servers() {
    forwards_traffic(
        Forward::Nat,
        "NAT",
        &[
            "-A -t 207.175.44.110:8080 -s rr",
            "-a -t 207.175.44.110:8080 -r 172.16.0.2:8080 -m -w 1",
            "-a -t 207.175.44.110:8080 -r 172.16.0.3:8080 -m -w 1",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn direct_routing_forwards_to_both_real_servers() {
    forwards_traffic(
        Forward::Direct,
        "DR",
        &[
            "-A -t 207.175.44.110:8080 -s rr",
            "-a -t 207.175.44.110:8080 -r 172.16.0.2:8080 -g -w 1",
            "-a -t 207.175.44.110:8080 -r 172.16.0.3:8080 -g -w 1",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn tunnel_forwards_to_both_real_servers() {
    forwards_traffic(
        Forward::Tunnel,
        "TUN",
        &[
            "-A -t 207.175.44.110:8080 -s rr",
            "-a -t 207.175.44.110:8080 -r 172.16.0.2:8080 -i -w 1 --tun-type ipip",
            "-a -t 207.175.44.110:8080 -r 172.16.0.3:8080 -i -w 1 --tun-type ipip",
        ],
    );
}
