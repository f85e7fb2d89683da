//! High availability end to end: two directors on one segment, each programmed by
//! `ipvsrs apply` with the same services and its own sync daemon from the model's
//! `daemons` section (a master on one, a backup on the other), a client and two real
//! servers in direct routing. Connections made through the master appear in the backup's
//! connection table; once the virtual address moves to the backup (as keepalived's VRRP
//! would move it), a TCP connection made before the move goes on exchanging data through
//! the backup with the same real server. A third director, a backup of another sync id,
//! takes none of the master's updates.
//!
//! ```text
//!   client 10.0.0.2    master 10.0.0.10 (+ VIP)   backup 10.0.0.11   other 10.0.0.12
//!      └───────────────────────┴── bridge "lan" ──┴──────────────────┴─┐
//!                                      rs1 10.0.0.3, rs2 10.0.0.4 (VIP on lo) ─┘
//! ```

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipvsrs::model::{Connection, ServiceKey};

use crate::dataplane::sysctl;
use crate::support::{in_netns, Netns};

const VIP: &str = "10.0.0.100";
const PORT: u16 = 8080;
const CLIENT: &str = "10.0.0.2";
const REAL_SERVERS: [&str; 2] = ["10.0.0.3", "10.0.0.4"];
const MASTER: &str = "10.0.0.10";
const BACKUP: &str = "10.0.0.11";
const OTHER: &str = "10.0.0.12";
/// Connections that open and close through the master before the move.
const SHORT_CONNECTIONS: usize = 8;
/// Bytes of each exchange on a connection.
const CHUNK: usize = 1000;
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the backup may take to learn what the master sends (the master sends at
/// least every 2 seconds; the emulated machine is slow).
const SYNC_WITHIN: Duration = Duration::from_secs(60);

/// Bytes each real server received, by the client address it saw.
type Received = Arc<Mutex<HashMap<SocketAddr, (usize, usize)>>>;

/// The model every director gets: the same service, and one sync daemon.
fn model(role: &str, syncid: u8) -> String {
    let [rs1, rs2] = REAL_SERVERS;
    format!(
        "daemons:\n  - {{ role: {role}, interface: eth0, syncid: {syncid} }}\n\
         services:\n  - address: tcp://{VIP}:{PORT}\n    sched: rr\n    destinations:\n      \
         - {{ address: {rs1}:{PORT}, forward: direct }}\n      \
         - {{ address: {rs2}:{PORT}, forward: direct }}\n"
    )
}

struct Segment {
    switch: Netns,
    client: Netns,
    directors: [Netns; 3],
    servers: [Netns; 2],
    stop: Arc<AtomicBool>,
    received: Received,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Segment {
    fn new() -> Segment {
        let s = Segment {
            switch: Netns::new(),
            client: Netns::new(),
            directors: [Netns::new(), Netns::new(), Netns::new()],
            servers: [Netns::new(), Netns::new()],
            stop: Arc::default(),
            received: Received::default(),
            threads: Vec::new(),
        };
        s.switch.ip(&["link", "add", "lan", "type", "bridge"]);
        s.switch.ip(&["link", "set", "lan", "up"]);
        s.plug(&s.client, "client", CLIENT);
        for (d, (port, addr)) in
            s.directors
                .iter()
                .zip([("dir-a", MASTER), ("dir-b", BACKUP), ("dir-c", OTHER)])
        {
            s.plug(d, port, addr);
        }
        for (i, rs) in s.servers.iter().enumerate() {
            s.plug(rs, &format!("rs{}", i + 1), REAL_SERVERS[i]);
            // Direct routing: the VIP is local to each real server, which must not
            // answer ARP for it.
            rs.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
            sysctl(
                rs,
                &[
                    "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2",
                ],
            );
        }
        s
    }

    /// A veth pair from `ns` (eth0, `addr`/24) to the bridge.
    fn plug(&self, ns: &Netns, port: &str, addr: &str) {
        let peer = ["peer", "name", "eth0", "netns", &ns.name];
        self.switch
            .ip(&[&["link", "add", port, "type", "veth"][..], &peer].concat());
        self.switch
            .ip(&["link", "set", port, "master", "lan", "up"]);
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
    }

    /// Echo servers on both real servers: each connection on a thread of its own, echoing
    /// what it reads as it reads it.
    fn start_servers(&mut self) {
        for i in 0..2 {
            let listener = in_netns(&self.servers[i], || TcpListener::bind(("0.0.0.0", PORT)))
                .unwrap_or_else(|e| panic!("rs{}: listen: {e}", i + 1));
            listener.set_nonblocking(true).unwrap();
            let (stop, received) = (self.stop.clone(), self.received.clone());
            self.threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            let received = received.clone();
                            std::thread::spawn(move || echo(stream, peer, i, &received));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10))
                        }
                        Err(e) => panic!("rs{}: accept: {e}", i + 1),
                    }
                }
            }));
        }
    }

    fn connect(&self) -> TcpStream {
        let vip: SocketAddr = format!("{VIP}:{PORT}").parse().unwrap();
        let stream = in_netns(&self.client, || {
            TcpStream::connect_timeout(&vip, IO_TIMEOUT)
        })
        .expect("connect to the VIP");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// The real server that saw `client`, and the bytes it received from it so far.
    fn seen(&self, client: SocketAddr) -> Option<(usize, usize)> {
        self.received.lock().unwrap().get(&client).copied()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn echo(mut stream: TcpStream, peer: SocketAddr, server: usize, received: &Received) {
    stream.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut r = received.lock().unwrap();
                r.entry(peer).or_insert((server, 0)).1 += n;
                drop(r);
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends `CHUNK` bytes of `pattern` and reads them back.
fn exchange(stream: &mut TcpStream, pattern: u8) -> io::Result<()> {
    let sent = vec![pattern; CHUNK];
    stream.write_all(&sent)?;
    let mut back = vec![0; CHUNK];
    stream.read_exact(&mut back)?;
    if back != sent {
        return Err(io::Error::other("the echo differs"));
    }
    Ok(())
}

/// What the backup should know of each connection: client, virtual, real server.
fn synced_view(conns: &[Connection]) -> BTreeSet<(SocketAddr, ServiceKey, SocketAddr)> {
    conns
        .iter()
        .filter(|c| !c.template)
        .map(|c| (c.client, c.target, c.real))
        .collect()
}

fn state_of(conns: &[Connection], client: SocketAddr) -> Option<String> {
    conns
        .iter()
        .find(|c| c.client == client)
        .map(|c| c.state.clone())
}

fn inpkts(ns: &Netns) -> u64 {
    let services = ns.handle().services().unwrap();
    assert_eq!(services.len(), 1);
    services[0].stats.inpkts
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_connection_survives_the_move_to_the_backup_director() {
    let mut s = Segment::new();
    s.start_servers();
    let [master, backup, other] = &s.directors;
    master.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
    master.apply_model("failover-master", &model("master", 1));
    backup.apply_model("failover-backup", &model("backup", 1));
    other.apply_model("failover-other", &model("backup", 2));
    for (ns, role) in [(master, "master"), (backup, "backup"), (other, "backup")] {
        let daemons = ns.handle().daemons().unwrap();
        assert_eq!(daemons.len(), 1, "{daemons:?}");
        assert_eq!(daemons[0].role.to_string(), role);
    }

    let mut long = s.connect();
    let long_client = long.local_addr().unwrap();
    exchange(&mut long, 1).unwrap();
    for c in 0..SHORT_CONNECTIONS {
        let mut short = s.connect();
        exchange(&mut short, 2 + c as u8).unwrap();
    }
    let (server, before) = s
        .seen(long_client)
        .expect("no real server saw the connection");
    assert_eq!(before, CHUNK);

    // The backup's table comes to show each connection of the master's with the same
    // client and real server, and the open one ESTABLISHED on both. (The closed ones'
    // last states are not all states the master sends.)
    let deadline = Instant::now() + SYNC_WITHIN;
    let (on_master, on_backup) = loop {
        let on_master = master.handle().connections().unwrap();
        let on_backup = backup.handle().connections().unwrap();
        let established = Some("ESTABLISHED".to_owned());
        if synced_view(&on_master) == synced_view(&on_backup)
            && synced_view(&on_master).len() == 1 + SHORT_CONNECTIONS
            && state_of(&on_master, long_client) == established
            && state_of(&on_backup, long_client) == established
        {
            break (on_master, on_backup);
        }
        assert!(
            Instant::now() < deadline,
            "after {SYNC_WITHIN:?} the master has {on_master:#?}\nand the backup {on_backup:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let long_entry = on_backup.iter().find(|c| c.client == long_client).unwrap();
    assert_eq!(
        long_entry.real,
        SocketAddr::new(REAL_SERVERS[server].parse().unwrap(), PORT)
    );
    let same_state = on_master
        .iter()
        .filter(|c| state_of(&on_backup, c.client).as_ref() == Some(&c.state))
        .count();
    assert_eq!(
        other.handle().connections().unwrap(),
        vec![],
        "a backup of sync id 2 took the updates of sync id 1"
    );

    // The VIP moves: the master lets it go, the backup takes it, the client's next packet
    // asks for its link address anew.
    let backup_packets = inpkts(backup);
    master.ip(&["addr", "del", &format!("{VIP}/32"), "dev", "eth0"]);
    backup.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
    s.client.ip(&["neigh", "flush", "dev", "eth0"]);

    for k in 0..3 {
        exchange(&mut long, 100 + k).unwrap_or_else(|e| panic!("after the move: {e}"));
    }
    let (server_after, total) = s.seen(long_client).unwrap();
    assert_eq!(
        server_after, server,
        "the connection moved to another real server"
    );
    assert_eq!(total, before + 3 * CHUNK);
    // The backup's counters show the path; the kernel folds its per-CPU counters into
    // them every 2 seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    while inpkts(backup) == backup_packets {
        assert!(
            Instant::now() < deadline,
            "the backup counted none of the packets"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "failover: {} connections synced to the backup ({same_state} in the same state); {} \
         bytes carried after the move by the connection made before it, through the backup, \
         to rs{}",
        synced_view(&on_master).len(),
        total - before,
        server + 1
    );
    drop(long);
}
