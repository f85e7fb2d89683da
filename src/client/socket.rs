//! The generic-netlink socket, created in a chosen network namespace, and the
//! request/response exchange: one request, or a batch of many in one `send`. Beside it, a
//! raw socket in the same namespace for IPVS's sockopt interface: what netlink leaves out
//! (how many services the namespace has) and what it answers far more cheaply (an IPv4
//! service's destinations).

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::error::{Error, Result};
use crate::model::{DestEntry, Destination, Family, Forward, Protocol, ServiceKey, Stats, Tunnel};
use crate::wire::netlink::{messages, Reply};
use crate::wire::DecodeError;

/// Large enough for any datagram the kernel sends: dumps are built in at most 32 KiB.
const RECV_BUFFER: usize = 64 * 1024;
/// Room for the ACKs of a whole batch, so none is dropped while the kernel works through it.
const SOCKET_RCVBUF: libc::c_int = 4 * 1024 * 1024;
/// Requests a batch sends at once, in bytes: their answers fit the receive buffer above.
const MAX_BATCH_BYTES: usize = 32 * 1024;
/// IPVS's getsockopt for `struct ip_vs_getinfo`, whose last field is the namespace's
/// number of services (netlink's GET_INFO has no such attribute).
const IP_VS_SO_GET_INFO: libc::c_int = 64 + 1024 + 64 + 1;

/// IPVS's getsockopt for `struct ip_vs_get_services`: the namespace's IPv4 services,
/// all in one answer.
const IP_VS_SO_GET_SERVICES: libc::c_int = IP_VS_SO_GET_INFO + 1;
/// The kernel's `struct ip_vs_service_entry`: protocol (u16, at 0), address (be32, 4),
/// port (be16, 8) and firewall mark (u32, 12) lead it.
const SERVICE_ENTRY_BYTES: usize = 104;
/// Where `struct ip_vs_get_services`' entries start (they are 8-aligned).
const SERVICE_ENTRIES_AT: usize = 8;

/// `struct ip_vs_getinfo`: version, connection table size, number of services (u32s).
const GET_INFO_BYTES: usize = 12;

/// IPVS's getsockopt for one `struct ip_vs_service_entry`, found by the key it leads with.
const IP_VS_SO_GET_SERVICE: libc::c_int = IP_VS_SO_GET_INFO + 2;
/// Where a service entry keeps its number of destinations (u32), of both families.
const SERVICE_DEST_COUNT_AT: usize = 44;
/// IPVS's getsockopt for `struct ip_vs_get_dests`: the key as a service entry leads with
/// it, the room for entries (u32 at 16), then the entries (at 24). The kernel lists an
/// IPv4 service's destinations of its own family only, and writes no count back.
const IP_VS_SO_GET_DESTS: libc::c_int = IP_VS_SO_GET_INFO + 3;
const DESTS_ROOM_AT: usize = 16;
const DEST_ENTRIES_AT: usize = 24;
/// The kernel's `struct ip_vs_dest_entry`: address (be32, at 0), port (be16, 4),
/// connection flags (8), weight (12), thresholds (16, 20), active, inactive and persistent
/// connections (24, 28, 32), then 32-bit statistics.
const DEST_ENTRY_BYTES: usize = 96;

/// A request to send: what it does (for errors) and how to encode it with a sequence number.
pub(crate) type Outgoing<'a> = (&'a dyn std::fmt::Display, &'a dyn Fn(&mut Vec<u8>, u32));

pub(crate) struct Socket {
    sock: NlSocket,
    /// How long a receive waits; `None` for ever.
    timeout: Option<Duration>,
    /// An answer was left unread: see [`Socket::abandoned`].
    abandoned: bool,
    /// How many bytes of requests a batch sends at once: less once the kernel had to drop
    /// answers (the receive buffer overflowed).
    batch_bytes: usize,
    /// For [`Socket::service_count`]; `None` where no raw socket could be made.
    counter: Option<OwnedFd>,
    seq: u32,
    recv_buf: Vec<u8>,
    send_buf: Vec<u8>,
}

impl Socket {
    /// Opens a socket in the caller's network namespace, or in `netns` if given. A socket
    /// stays in the namespace it was created in, so only the `socket()` calls happen in
    /// `netns`, on a short-lived thread (the caller's never moves). Receives wait at
    /// most `timeout`.
    pub fn open(netns: Option<BorrowedFd<'_>>, timeout: Option<Duration>) -> Result<Socket> {
        let both = || Ok((new_socket()?, raw_socket().ok()));
        let (sock, counter) = match netns {
            None => both(),
            Some(ns) => in_netns(ns, both)?,
        }
        .map_err(|e| Error::io("opening a generic netlink socket", e))?;
        let fd = sock.as_raw_fd();
        // Best effort: the larger buffer needs CAP_NET_ADMIN, which IPVS needs anyway; the
        // ACK options only make replies smaller and errors more precise. neli sets
        // SO_RCVBUF, which the system's rmem_max caps, and extended ACKs; SO_RCVBUFFORCE
        // and NETLINK_CAP_ACK it does not offer.
        if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCKET_RCVBUF).is_err() {
            let _ = sock.set_recv_buffer_size(SOCKET_RCVBUF as usize);
        }
        let _ = setsockopt_int(fd, libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, 1);
        let _ = sock.enable_ext_ack(true);
        let mut socket = Socket {
            sock,
            timeout: None,
            abandoned: false,
            batch_bytes: MAX_BATCH_BYTES,
            counter,
            seq: 0,
            recv_buf: vec![0; RECV_BUFFER],
            send_buf: Vec::new(),
        };
        socket.set_timeout(timeout)?;
        Ok(socket)
    }

    /// Makes every receive wait at most `timeout` (`None`: for ever), after which it
    /// fails with `ETIMEDOUT`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        let wait = timeout.unwrap_or(Duration::ZERO);
        // A zero timeval means no timeout: round a tiny one up to a microsecond.
        let micros = match (timeout, wait.subsec_micros()) {
            (Some(_), 0) if wait.as_secs() == 0 => 1,
            (_, micros) => micros,
        };
        let value = libc::timeval {
            tv_sec: wait.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_usec: micros as libc::suseconds_t,
        };
        // neli has no receive timeout. SAFETY: value outlives the call and the length
        // matches its type.
        let rc = unsafe {
            libc::setsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&value as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(Error::io("setting the netlink socket's receive timeout", e));
        }
        self.timeout = timeout;
        Ok(())
    }

    /// Asks for a receive buffer of `bytes` (the kernel doubles it and keeps it above
    /// its minimum). A smaller one than the 4 MiB the socket starts with can drop the
    /// answers of a batch, which [`Handle::execute`](super::Handle::execute) then recovers.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> Result<()> {
        let bytes = bytes.min(libc::c_int::MAX as usize);
        (self.sock)
            .set_recv_buffer_size(bytes)
            .map_err(|e| Error::io("setting the netlink socket's receive buffer", e))
    }

    /// Whether an answer was left unread: a receive timed out, or a request was given up
    /// on a malformed or oversized reply or a failed receive. The rest of that answer may
    /// still arrive, and a dump left running makes the kernel refuse the next one
    /// (`EBUSY`), so the socket should be replaced.
    pub fn abandoned(&self) -> bool {
        self.abandoned
    }

    /// How many services the namespace has, by IPVS's sockopt interface; `None` where
    /// that cannot be asked (the raw socket needs CAP_NET_RAW).
    pub fn service_count(&self) -> Option<usize> {
        let mut info = [0u8; GET_INFO_BYTES];
        let written = self.ipvs_getsockopt(IP_VS_SO_GET_INFO, &mut info)?;
        let count = u32::from_ne_bytes(info[8..12].try_into().ok()?);
        (written == GET_INFO_BYTES).then_some(count as usize)
    }

    /// The keys of the namespace's IPv4 services, read in one answer (the kernel lists
    /// them under its lock, so no position can shift as in a dump), at most `room` of
    /// them (zero slots skipped); `None` where that cannot be asked. The sockopt
    /// interface has no IPv6.
    pub fn ipv4_service_keys(&self, room: usize) -> Option<Vec<ServiceKey>> {
        let room_field = u32::try_from(room).ok()?;
        // The kernel wants the exact size for `room` entries.
        let mut buf = vec![0u8; SERVICE_ENTRIES_AT + room * SERVICE_ENTRY_BYTES];
        buf[..4].copy_from_slice(&room_field.to_ne_bytes());
        self.ipvs_getsockopt(IP_VS_SO_GET_SERVICES, &mut buf)?;
        let entries = buf[SERVICE_ENTRIES_AT..].chunks_exact(SERVICE_ENTRY_BYTES);
        // Slots the kernel had no service for stay zero: no protocol, no mark.
        Some(entries.filter_map(ipv4_service_key).collect())
    }

    /// The destinations of the IPv4 service `key` with their settings and connection
    /// counts (statistics zero), through IPVS's sockopt interface: one system call, and
    /// one before and after for their number. `None` where that cannot tell them all: an
    /// IPv6 service, no raw socket, a service gone, a tunnel destination (the interface
    /// has no tunnel settings), a destination of the other family (it lists none), or a
    /// number of destinations that changed meanwhile.
    pub fn ipv4_dests(&self, key: &ServiceKey) -> Option<Vec<DestEntry>> {
        let before = self.ipv4_dest_count(key)?;
        // One slot more than expected: a full buffer means destinations were added.
        let room = before as usize + 1;
        let mut buf = vec![0u8; DEST_ENTRIES_AT + room * DEST_ENTRY_BYTES];
        encode_ipv4_key(key, &mut buf)?;
        buf[DESTS_ROOM_AT..DESTS_ROOM_AT + 4].copy_from_slice(&(room as u32).to_ne_bytes());
        self.ipvs_getsockopt(IP_VS_SO_GET_DESTS, &mut buf)?;
        // The kernel fills slots from the first; no destination has address 0.0.0.0.
        let dests: Vec<DestEntry> = buf[DEST_ENTRIES_AT..]
            .chunks_exact(DEST_ENTRY_BYTES)
            .map_while(ipv4_dest_entry)
            .collect();
        let exact = dests.len() == before as usize
            && self.ipv4_dest_count(key)? == before
            && dests.iter().all(|d| d.dest.forward != Forward::Tunnel);
        exact.then_some(dests)
    }

    /// How many destinations (of both families) the IPv4 service `key` has.
    fn ipv4_dest_count(&self, key: &ServiceKey) -> Option<u32> {
        let mut entry = [0u8; SERVICE_ENTRY_BYTES];
        encode_ipv4_key(key, &mut entry)?;
        self.ipvs_getsockopt(IP_VS_SO_GET_SERVICE, &mut entry)?;
        let at = SERVICE_DEST_COUNT_AT;
        Some(u32::from_ne_bytes(entry[at..at + 4].try_into().ok()?))
    }

    /// IPVS getsockopt `name` into `buf` on the raw socket: the bytes written, or `None`
    /// where there is no raw socket or the kernel refused.
    fn ipvs_getsockopt(&self, name: libc::c_int, buf: &mut [u8]) -> Option<usize> {
        let fd = self.counter.as_ref()?;
        let mut len = libc::socklen_t::try_from(buf.len()).ok()?;
        // SAFETY: the kernel writes at most `len` bytes into `buf`, which has that size.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IP,
                name,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(len as usize)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends one request built by `encode` and feeds each data message of the answer to
    /// `on_data` until the kernel's ACK, end of dump or error.
    pub fn request(
        &mut self,
        context: &dyn std::fmt::Display,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<()> {
        self.exchange(None, context, encode, on_data).map(|_| ())
    }

    /// As [`Socket::request`], for a dump: how many datagrams the answer took. A dump in
    /// one datagram was written in one go, under the kernel's lock.
    pub fn dump(
        &mut self,
        context: &dyn std::fmt::Display,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<usize> {
        self.exchange(None, context, encode, on_data)
            .map(|(_, datagrams)| datagrams)
    }

    /// Sends `first`, then in the same datagram the request built by `encode`, whose answer
    /// goes to `on_data` as in [`Socket::request`]. The kernel handles them in order, so
    /// once the second is answered, `first`'s outcome is known: `None` if the kernel sent
    /// no answer to it at all (netlink stays silent when a command returns `EINTR`).
    pub fn request_after(
        &mut self,
        first: Outgoing<'_>,
        context: &dyn std::fmt::Display,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<Option<Result<()>>> {
        self.exchange(Some(first), context, encode, on_data)
            .map(|(first_outcome, _)| first_outcome)
    }

    fn exchange(
        &mut self,
        first: Option<Outgoing<'_>>,
        context: &dyn std::fmt::Display,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        mut on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<(Option<Result<()>>, usize)> {
        self.send_buf.clear();
        let first_seq = first.map(|(_, encode_first)| {
            let seq = self.next_seq();
            encode_first(&mut self.send_buf, seq);
            seq
        });
        let seq = self.next_seq();
        encode(&mut self.send_buf, seq);
        self.send(context)?;
        // Until the answer's end is read, any return leaves the rest of it behind.
        self.abandoned = true;
        let mut first_outcome = None;
        let mut failure = None;
        let mut datagrams = 0;
        loop {
            let len = self.recv(context)?;
            datagrams += 1;
            for msg in messages(&self.recv_buf[..len]) {
                let msg = msg.map_err(|e| malformed(context, e))?;
                if Some(msg.seq) == first_seq {
                    let first_context = first.map_or(context, |(c, _)| c);
                    first_outcome = match msg.reply().map_err(|e| malformed(first_context, e))? {
                        Reply::Error { errno, detail } => Some(Err(Error::Kernel {
                            context: first_context.to_string(),
                            errno,
                            detail,
                        })),
                        _ => Some(Ok(())),
                    };
                    continue;
                }
                if msg.seq != seq {
                    continue; // left over from an earlier, abandoned exchange
                }
                match msg.reply().map_err(|e| malformed(context, e))? {
                    Reply::Data { cmd, attrs } => {
                        // Keep reading to the end of the answer even after a bad message,
                        // so the next request does not see its tail.
                        if failure.is_none() {
                            failure = on_data(cmd, attrs).err();
                        }
                    }
                    Reply::Ack | Reply::Done => {
                        self.abandoned = false;
                        return match failure {
                            Some(e) => Err(malformed(context, e)),
                            None => Ok((first_outcome, datagrams)),
                        };
                    }
                    Reply::Error { errno, detail } => {
                        self.abandoned = false;
                        return Err(Error::Kernel {
                            context: context.to_string(),
                            errno,
                            detail,
                        });
                    }
                }
            }
        }
    }

    /// Sends `count` requests, built by `encode(i, buf, seq)`, in as few `send` calls as fit
    /// and returns each one's outcome, in order. The kernel handles them one after another
    /// and answers each with its own ACK or error.
    pub fn batch(
        &mut self,
        count: usize,
        context: impl Fn(usize) -> String,
        mut encode: impl FnMut(usize, &mut Vec<u8>, u32),
    ) -> Vec<Result<()>> {
        let mut results: Vec<Result<()>> = Vec::with_capacity(count);
        while results.len() < count {
            let first = results.len();
            let first_seq = self.seq.wrapping_add(1);
            self.send_buf.clear();
            let mut n = 0;
            while first + n < count && (n == 0 || self.send_buf.len() < self.batch_bytes) {
                let seq = self.next_seq();
                encode(first + n, &mut self.send_buf, seq);
                n += 1;
            }
            let mut outcomes: Vec<Option<Result<()>>> = (0..n).map(|_| None).collect();
            let mut pending = n;
            let mut io_failure = self.send(&"sending a batch of requests").err();
            // ENOBUFS: the receive buffer overflowed and the kernel dropped answers. The
            // kernel handled the whole batch before the send returned, so what is queued
            // is all that will come: read it without waiting (which also ends the
            // overflow: the kernel drops every answer until the queue is empty).
            let mut overflowed = false;
            while pending > 0 && io_failure.is_none() {
                let receiving = &"receiving the replies to a batch";
                let len = match self.receive(receiving, !overflowed) {
                    Ok(Some(len)) => len,
                    Ok(None) => {
                        let source = io::Error::from_raw_os_error(libc::ENOBUFS);
                        io_failure = Some(Error::io(receiving.to_string(), source));
                        break;
                    }
                    Err(e) if e.errno() == libc::ENOBUFS && !overflowed => {
                        overflowed = true;
                        continue;
                    }
                    Err(e) => {
                        io_failure = Some(e);
                        break;
                    }
                };
                for msg in messages(&self.recv_buf[..len]) {
                    let Ok(msg) = msg else { continue };
                    let index = msg.seq.wrapping_sub(first_seq) as usize;
                    let Some(slot) = outcomes.get_mut(index) else {
                        continue;
                    };
                    let outcome = match msg.reply() {
                        Ok(Reply::Ack) | Ok(Reply::Done) => Ok(()),
                        Ok(Reply::Error { errno, detail }) => Err(Error::Kernel {
                            context: context(first + index),
                            errno,
                            detail,
                        }),
                        Ok(Reply::Data { .. }) => continue,
                        Err(e) => Err(malformed(&context(first + index), e)),
                    };
                    if slot.replace(outcome).is_none() {
                        pending -= 1;
                    }
                }
            }
            // A failed send or receive leaves the unanswered requests with its errno. After
            // ENOBUFS some answers are lost for good: send less at once from now on.
            if let Some(e) = io_failure {
                match e.errno() {
                    libc::ENOBUFS => self.batch_bytes /= 4,
                    // Answers to the unanswered requests may still come.
                    _ => self.abandoned = true,
                }
                for (i, slot) in outcomes.iter_mut().enumerate().filter(|(_, o)| o.is_none()) {
                    let source = io::Error::from_raw_os_error(e.errno());
                    *slot = Some(Err(Error::io(context(first + i), source)));
                }
            }
            results.extend(
                outcomes
                    .into_iter()
                    .map(|o| o.expect("every slot answered")),
            );
        }
        results
    }

    fn send(&mut self, context: &dyn std::fmt::Display) -> Result<()> {
        let sent = self
            .sock
            .send(&self.send_buf, Msg::empty())
            .map_err(|e| Error::io(context.to_string(), e))?;
        if sent != self.send_buf.len() {
            return Err(Error::io(
                context.to_string(),
                io::Error::other("short netlink send"),
            ));
        }
        Ok(())
    }

    fn recv(&mut self, context: &dyn std::fmt::Display) -> Result<usize> {
        Ok(self
            .receive(context, true)?
            .expect("a waiting receive returns a reply"))
    }

    /// One datagram of replies into `recv_buf`, its length. `wait`: for as long as the
    /// timeout allows (then `ETIMEDOUT`); else only one already queued (`None` if none).
    fn receive(&mut self, context: &dyn std::fmt::Display, wait: bool) -> Result<Option<usize>> {
        let flags = if wait {
            Msg::TRUNC
        } else {
            Msg::TRUNC | Msg::DONTWAIT
        };
        loop {
            match self.sock.recv(&mut self.recv_buf[..], flags) {
                Ok((len, _)) if len > self.recv_buf.len() => {
                    return Err(Error::Malformed {
                        context: context.to_string(),
                        detail: format!("reply of {len} bytes exceeds the receive buffer"),
                    })
                }
                Ok((len, _)) => return Ok(Some(len)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !wait => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let waited = self.timeout.unwrap_or_default();
                    return Err(Error::io(
                        format!("{context}: no reply from the kernel within {waited:?}"),
                        io::Error::from_raw_os_error(libc::ETIMEDOUT),
                    ));
                }
                Err(e) => return Err(Error::io(context.to_string(), e)),
            }
        }
    }
}

/// The key of one kernel `struct ip_vs_service_entry`.
fn ipv4_service_key(entry: &[u8]) -> Option<ServiceKey> {
    let field = |at: usize, n: usize| &entry[at..at + n];
    let protocol = u16::from_ne_bytes(field(0, 2).try_into().ok()?);
    let addr: [u8; 4] = field(4, 4).try_into().ok()?;
    let port = u16::from_be_bytes(field(8, 2).try_into().ok()?);
    let mark = u32::from_ne_bytes(field(12, 4).try_into().ok()?);
    if mark != 0 {
        return Some(ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        });
    }
    Some(ServiceKey::Addr {
        protocol: Protocol::from_number(protocol)?,
        addr: IpAddr::V4(Ipv4Addr::from(addr)),
        port,
    })
}

/// Writes an IPv4 service's key as the sockopt structures lead with it: protocol (u16),
/// address (be32, at 4), port (be16, at 8), firewall mark (u32, at 12). `None` for IPv6.
fn encode_ipv4_key(key: &ServiceKey, buf: &mut [u8]) -> Option<()> {
    let (protocol, addr, port, mark) = match *key {
        ServiceKey::Addr {
            protocol,
            addr: IpAddr::V4(addr),
            port,
        } => (protocol.number(), addr, port, 0),
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => (0, Ipv4Addr::UNSPECIFIED, 0, mark),
        _ => return None,
    };
    buf[0..2].copy_from_slice(&protocol.to_ne_bytes());
    buf[4..8].copy_from_slice(&addr.octets());
    buf[8..10].copy_from_slice(&port.to_be_bytes());
    buf[12..16].copy_from_slice(&mark.to_ne_bytes());
    Some(())
}

/// One kernel `struct ip_vs_dest_entry`; `None` for an unused (zero) slot.
fn ipv4_dest_entry(entry: &[u8]) -> Option<DestEntry> {
    let u32_at = |at: usize| u32::from_ne_bytes(entry[at..at + 4].try_into().unwrap());
    let addr = Ipv4Addr::from(<[u8; 4]>::try_from(&entry[0..4]).ok()?);
    if addr.is_unspecified() {
        return None;
    }
    Some(DestEntry {
        dest: Destination {
            addr: IpAddr::V4(addr),
            port: u16::from_be_bytes([entry[4], entry[5]]),
            forward: Forward::from_conn_flags(u32_at(8)),
            weight: u32_at(12) as i32,
            upper_threshold: u32_at(16),
            lower_threshold: u32_at(20),
            tunnel: Tunnel::default(),
        },
        active_conns: u32_at(24),
        inactive_conns: u32_at(28),
        persistent_conns: u32_at(32),
        stats: Stats::default(),
    })
}

fn malformed(context: &dyn std::fmt::Display, e: DecodeError) -> Error {
    Error::Malformed {
        context: context.to_string(),
        detail: e.0,
    }
}

fn new_socket() -> io::Result<NlSocket> {
    NlSocket::connect(NlFamily::Generic, None, Groups::empty())
}

/// A socket for IPVS's sockopt interface, as libipvs opens one.
fn raw_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); a descriptor it returns is ours alone.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    match fd {
        -1 => Err(io::Error::last_os_error()),
        // SAFETY: a fresh descriptor, owned by nothing else.
        fd => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
    }
}

fn setsockopt_int(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: value outlives the call and the length matches its type.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Socket {
    /// The network namespace the socket was made in (SIOCGSKNS).
    pub fn netns(&self) -> io::Result<OwnedFd> {
        // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor or -1.
        let ns = unsafe { libc::ioctl(self.sock.as_raw_fd(), libc::SIOCGSKNS as _) };
        if ns < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `ns` was just returned to us and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(ns) })
    }

    /// Opens the file `name` of `/proc/net` as the socket's network namespace shows it:
    /// /proc/net shows the namespace of the thread that opens a file, and an open file
    /// keeps showing that one.
    pub fn open_proc_net(&self, name: &str) -> io::Result<std::fs::File> {
        let ns = self.netns()?;
        let path = format!("/proc/thread-self/net/{name}");
        in_netns(ns.as_fd(), move || std::fs::File::open(path))
            .map_err(|e| io::Error::other(e.to_string()))?
    }
}

fn setns(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor; CLONE_NEWNET affects the calling thread.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `ns` is the calling thread's network namespace (same nsfs inode).
fn is_own_netns(ns: BorrowedFd<'_>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let theirs = ns.try_clone_to_owned().map(std::fs::File::from);
    let theirs = theirs.and_then(|file| file.metadata());
    let ours = std::fs::metadata("/proc/thread-self/ns/net");
    matches!((theirs, ours), (Ok(a), Ok(b)) if (a.dev(), a.ino()) == (b.dev(), b.ino()))
}

/// Runs `f` in network namespace `ns`: on the calling thread when that is its namespace
/// already, else on a thread of its own that enters `ns` and ends with `f`. The calling
/// thread never changes namespace, so it cannot be left in a foreign one when moving
/// back would fail.
pub(crate) fn in_netns<T: Send + 'static>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<io::Result<T>> {
    if is_own_netns(ns) {
        return Ok(f());
    }
    let ns = ns
        .try_clone_to_owned()
        .map_err(|e| Error::io("duplicating the network namespace descriptor", e))?;
    let visit = move || {
        setns(ns.as_fd()).map_err(|e| Error::io("entering the network namespace", e))?;
        Ok(f())
    };
    std::thread::Builder::new()
        .name("ipvsrs-netns".into())
        .spawn(visit)
        .map_err(|e| Error::io("starting a thread to enter the network namespace", e))?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::wire::ctrl;

    /// On the host's own kernel (generic netlink needs no IPVS).
    #[test]
    fn a_request_left_unanswered_fails_with_etimedout_after_the_timeout() {
        let timeout = Duration::from_millis(200);
        let mut socket = Socket::open(None, Some(timeout)).unwrap();
        // Without NLM_F_REQUEST (and so without NLM_F_ACK) the kernel drops a message
        // without a word.
        let silent = |buf: &mut Vec<u8>, seq| {
            ctrl::encode_get_family(buf, seq, "nlctrl");
            buf[6..8].copy_from_slice(&0u16.to_ne_bytes());
        };
        let start = Instant::now();
        let error = socket
            .request(&"an unanswered request", silent, |_, _| Ok(()))
            .unwrap_err();
        let waited = start.elapsed();
        assert_eq!(error.errno(), libc::ETIMEDOUT, "{error}");
        assert!(
            error
                .to_string()
                .starts_with("an unanswered request: no reply from the kernel within 200ms"),
            "{error}"
        );
        assert!(waited >= timeout, "gave up after {waited:?}");
        assert!(socket.abandoned());

        // The same message with the flags a request has is answered.
        let mut family = None;
        let mut socket = Socket::open(None, Some(timeout)).unwrap();
        socket
            .request(
                &"resolving nlctrl",
                |buf, seq| ctrl::encode_get_family(buf, seq, "nlctrl"),
                |_, attrs| {
                    family = Some(ctrl::decode_family(attrs)?.0);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(family, Some(libc::GENL_ID_CTRL as u16));
        assert!(!socket.abandoned());
    }

    /// A dump of the generic netlink families, on the host's own kernel.
    fn dump_families(socket: &mut Socket) -> Result<usize> {
        let dump = |buf: &mut Vec<u8>, seq| {
            ctrl::encode_get_family(buf, seq, "nlctrl");
            let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
            buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        };
        socket.dump(&"dumping the families", dump, |_, _| Ok(()))
    }

    #[test]
    fn a_dump_given_up_on_an_oversized_reply_marks_the_socket_abandoned() {
        let mut socket = Socket::open(None, None).unwrap();
        assert!(dump_families(&mut socket).unwrap() >= 1);
        assert!(!socket.abandoned());
        socket.recv_buf.truncate(16);
        let error = dump_families(&mut socket).unwrap_err();
        assert!(
            error.to_string().contains("exceeds the receive buffer"),
            "{error}"
        );
        assert!(socket.abandoned());
    }
}
