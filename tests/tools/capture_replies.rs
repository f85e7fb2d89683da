//! Records the kernel's answers to ipvsrs's requests, as fixtures for the host tests
//! (tests/wire_decode.rs) and any later test that wants real kernel bytes.
//!
//! Usage, as root in a kernel with IPVS: `capture-replies OUT_DIR`
//!
//! Builds the table in [`TABLE`] with Debian's `ipvsadm` in a fresh network namespace,
//! sends requests encoded by `ipvsrs::wire` on a raw generic-netlink socket opened in that
//! namespace (with NETLINK_CAP_ACK and NETLINK_EXT_ACK, as `ipvsrs::Handle` does), and
//! writes `OUT_DIR/NAME.bin`: every datagram received for the request, up to and
//! including its ACK, end of dump or error, concatenated (datagrams hold whole messages,
//! so the file is a valid message stream). Request number `i` (from 1) uses seq `i`.

use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use ipvsrs::model::{Family, ServiceKey, Timeouts};
use ipvsrs::wire::ctrl;
use ipvsrs::wire::ipvs::{cmd, cmd_attr, IPVS_GENL_VERSION};
use ipvsrs::wire::netlink::{messages, MessageWriter, Reply, NLM_F_ACK, NLM_F_REQUEST};
use ipvsrs::wire::Request;
use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

/// The table, as `ipvsadm` arguments. tests/wire_decode.rs writes its expectations from
/// these lines: change both together.
#[rustfmt::skip]
const TABLE: &[&[&str]] = &[
    &["-A", "-t", "10.0.0.1:80", "-s", "rr", "-p", "300", "-M", "255.255.255.0"],
    &["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.1:8080", "-m", "-w", "3", "-x", "100", "-y", "10"],
    &["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.2:80", "-g", "-w", "2"],
    &["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.3:80", "-i", "-w", "1",
      "--tun-type", "gue", "--tun-port", "6080", "--tun-csum"],
    &["-A", "-u", "[2001:db8::1]:5060", "-s", "wlc", "-p", "120", "-M", "64", "--pe", "sip"],
    &["-a", "-u", "[2001:db8::1]:5060", "-r", "[2001:db8::10]:5060", "-m", "-w", "5"],
    &["-A", "-f", "7", "-s", "sh", "-b", "sh-port"],
    &["-a", "-f", "7", "-r", "10.0.2.1", "-g", "-w", "0"],
    // Receives one datagram (STATS_PAYLOAD) from inside the namespace, for non-zero counters.
    &["-A", "-u", "10.0.0.2:53", "-s", "rr"],
    &["-a", "-u", "10.0.0.2:53", "-r", "10.0.1.5:53", "-m"],
    &["--set", "1000", "110", "310"],
    &["--start-daemon", "master", "--mcast-interface", "sync0", "--syncid", "9",
      "--sync-maxlen", "1200", "--mcast-group", "239.1.2.3", "--mcast-port", "8850",
      "--mcast-ttl", "3"],
];

/// The interface of the sync daemon; its address also routes 10.0.0.0/24, so the
/// datagram to 10.0.0.2:53 can leave (and be scheduled by IPVS on the way out).
const SYNC_IF: &str = "sync0";
const SYNC_IF_ADDR: &str = "10.0.0.254/24";
const STATS_PAYLOAD: &[u8] = b"ipvsrs";

const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: capture-replies OUT_DIR");
        return ExitCode::from(2);
    };
    match capture(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture-replies: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A named network namespace, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> io::Result<Netns> {
        let ns = Netns(format!("ipvsrs-capture-{}", std::process::id()));
        run(Command::new("ip").args(["netns", "add", &ns.0]))?;
        Ok(ns)
    }

    fn ip(&self, args: &[&str]) -> io::Result<()> {
        run(Command::new("ip").args(["-n", &self.0]).args(args))
    }

    fn ipvsadm(&self, args: &[&str]) -> io::Result<()> {
        run(Command::new("ip")
            .args(["netns", "exec", &self.0, "ipvsadm"])
            .args(args))
    }

    /// Moves the calling (main) thread into the namespace: sockets created afterwards
    /// belong to it.
    fn enter(&self) -> io::Result<()> {
        let f = File::open(Path::new("/run/netns").join(&self.0))?;
        // SAFETY: setns only reads the descriptor, which is open for the call.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn capture(out: &Path) -> io::Result<()> {
    let ns = Netns::new()?;
    ns.ip(&["link", "set", "lo", "up"])?;
    ns.ip(&["link", "add", SYNC_IF, "type", "dummy"])?;
    ns.ip(&["addr", "add", SYNC_IF_ADDR, "dev", SYNC_IF])?;
    ns.ip(&["link", "set", SYNC_IF, "up"])?;
    for args in TABLE {
        ns.ipvsadm(args)?;
    }
    ns.enter()?;
    UdpSocket::bind("0.0.0.0:0")?.send_to(STATS_PAYLOAD, "10.0.0.2:53")?;
    // The kernel adds its per-CPU counters into the reported ones every 2 s.
    std::thread::sleep(std::time::Duration::from_secs(5));

    let mut c = Capture::open(out)?;
    let family = c.family_id()?;
    let tcp = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);
    let udp6 = ServiceKey::udp(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        5060,
    );
    let fwmark = ServiceKey::fwmark(Family::Inet, 7);
    let udp_stats = ServiceKey::udp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 53);
    let missing = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 80);
    let no_change = Timeouts::default();
    let requests: &[(&str, Request<'_>)] = &[
        ("info", Request::GetInfo),
        ("timeouts", Request::GetTimeouts),
        ("services-dump", Request::DumpServices),
        ("service-get", Request::GetService(&tcp)),
        ("service-get-stats", Request::GetService(&udp_stats)),
        ("dests-dump", Request::DumpDests(&tcp)),
        ("dests-dump-udp6", Request::DumpDests(&udp6)),
        ("dests-dump-fwmark", Request::DumpDests(&fwmark)),
        ("dests-dump-stats", Request::DumpDests(&udp_stats)),
        ("daemons-dump", Request::DumpDaemons),
        ("ack", Request::SetTimeouts(&no_change)),
        ("error-esrch", Request::GetService(&missing)),
    ];
    for (name, request) in requests {
        c.exchange(name, |buf, seq| request.encode(buf, family, seq))?;
    }
    // A TIMEOUT_TCP of 2 bytes fails the family's policy (u32): ERANGE with extended-ACK text.
    c.exchange("error-erange-extack", |buf, seq| {
        let mut w = MessageWriter::begin(
            buf,
            family,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            cmd::SET_CONFIG,
            IPVS_GENL_VERSION,
        );
        w.put_u16(cmd_attr::TIMEOUT_TCP, 1);
        w.finish();
    })?;
    Ok(())
}

struct Capture<'a> {
    sock: NlSocket,
    out: &'a Path,
    seq: u32,
}

impl<'a> Capture<'a> {
    fn open(out: &'a Path) -> io::Result<Capture<'a>> {
        fs::create_dir_all(out)?;
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())?;
        for opt in [NETLINK_CAP_ACK, NETLINK_EXT_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: `one` outlives the call and the length matches its type.
            let rc = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_NETLINK,
                    opt,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Capture { sock, out, seq: 0 })
    }

    /// Resolves the IPVS family, keeping the controller's answer as `family.bin`.
    fn family_id(&mut self) -> io::Result<u16> {
        let reply = self.exchange("family", |buf, seq| {
            ctrl::encode_get_family(buf, seq, ipvsrs::wire::ipvs::IPVS_GENL_NAME)
        })?;
        for msg in messages(&reply) {
            if let Ok(Reply::Data { attrs, .. }) = msg.map_err(invalid)?.reply() {
                return Ok(ctrl::decode_family(attrs).map_err(invalid)?.0);
            }
        }
        Err(io::Error::other(
            "the controller does not know the IPVS family",
        ))
    }

    /// Sends one request and saves every datagram up to its final ACK, DONE or error.
    fn exchange(
        &mut self,
        name: &str,
        encode: impl FnOnce(&mut Vec<u8>, u32),
    ) -> io::Result<Vec<u8>> {
        self.seq += 1;
        let mut request = Vec::new();
        encode(&mut request, self.seq);
        self.sock.send(&request, Msg::empty())?;
        let mut reply = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (len, _) = self.sock.recv(&mut buf[..], Msg::empty())?;
            reply.extend_from_slice(&buf[..len]);
            if self.is_final(&buf[..len])? {
                break;
            }
        }
        let path = self.out.join(format!("{name}.bin"));
        fs::write(&path, &reply)?;
        println!("{}: {} bytes", path.display(), reply.len());
        Ok(reply)
    }

    fn is_final(&self, datagram: &[u8]) -> io::Result<bool> {
        for msg in messages(datagram) {
            let msg = msg.map_err(invalid)?;
            let end = !matches!(msg.reply().map_err(invalid)?, Reply::Data { .. });
            if msg.seq == self.seq && end {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn invalid(e: ipvsrs::wire::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.0)
}
