//! The generic-netlink socket, created in a chosen network namespace, and the
//! request/response exchange: one request, or a batch of many in one `send`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::error::{Error, Result};
use crate::wire::netlink::{messages, Reply};
use crate::wire::DecodeError;

/// Large enough for any datagram the kernel sends: dumps are built in at most 32 KiB.
const RECV_BUFFER: usize = 64 * 1024;
/// Room for the ACKs of a whole batch, so none is dropped while the kernel works through it.
const SOCKET_RCVBUF: libc::c_int = 4 * 1024 * 1024;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

/// A request to send: what it does (for errors) and how to encode it with a sequence number.
pub(crate) type Outgoing<'a> = (&'a dyn std::fmt::Display, &'a dyn Fn(&mut Vec<u8>, u32));

pub(crate) struct Socket {
    sock: NlSocket,
    seq: u32,
    recv_buf: Vec<u8>,
    send_buf: Vec<u8>,
}

impl Socket {
    /// Opens a socket in the caller's network namespace, or in `netns` if given. A netlink
    /// socket stays in the namespace it was created in, so the calling thread only visits
    /// `netns` for the `socket()` call.
    pub fn open(netns: Option<BorrowedFd<'_>>) -> Result<Socket> {
        let sock = match netns {
            None => new_socket(),
            Some(ns) => in_netns(ns, new_socket)?,
        }
        .map_err(|e| Error::io("opening a generic netlink socket", e))?;
        let fd = sock.as_raw_fd();
        // Best effort: the larger buffer needs CAP_NET_ADMIN, which IPVS needs anyway; the
        // ACK options only make replies smaller and errors more precise.
        if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCKET_RCVBUF).is_err() {
            let _ = setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, SOCKET_RCVBUF);
        }
        let _ = setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_CAP_ACK, 1);
        let _ = setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_EXT_ACK, 1);
        Ok(Socket {
            sock,
            seq: 0,
            recv_buf: vec![0; RECV_BUFFER],
            send_buf: Vec::new(),
        })
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
    }

    fn exchange(
        &mut self,
        first: Option<Outgoing<'_>>,
        context: &dyn std::fmt::Display,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        mut on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<Option<Result<()>>> {
        self.send_buf.clear();
        let first_seq = first.map(|(_, encode_first)| {
            let seq = self.next_seq();
            encode_first(&mut self.send_buf, seq);
            seq
        });
        let seq = self.next_seq();
        encode(&mut self.send_buf, seq);
        self.send(context)?;
        let mut first_outcome = None;
        let mut failure = None;
        loop {
            let len = self.recv(context)?;
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
                        return match failure {
                            Some(e) => Err(malformed(context, e)),
                            None => Ok(first_outcome),
                        }
                    }
                    Reply::Error { errno, detail } => {
                        return Err(Error::Kernel {
                            context: context.to_string(),
                            errno,
                            detail,
                        })
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
        const MAX_BATCH_BYTES: usize = 32 * 1024;
        let mut results: Vec<Result<()>> = Vec::with_capacity(count);
        while results.len() < count {
            let first = results.len();
            let first_seq = self.seq.wrapping_add(1);
            self.send_buf.clear();
            let mut n = 0;
            while first + n < count && (n == 0 || self.send_buf.len() < MAX_BATCH_BYTES) {
                let seq = self.next_seq();
                encode(first + n, &mut self.send_buf, seq);
                n += 1;
            }
            let mut outcomes: Vec<Option<Result<()>>> = (0..n).map(|_| None).collect();
            let mut pending = n;
            let mut io_failure = self.send(&"sending a batch of requests").err();
            while pending > 0 && io_failure.is_none() {
                let len = match self.recv(&"receiving the replies to a batch") {
                    Ok(len) => len,
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
            // A failed send or receive leaves the unanswered requests with its errno.
            if let Some(e) = io_failure {
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
        loop {
            match self.sock.recv(&mut self.recv_buf[..], Msg::TRUNC) {
                Ok((len, _)) if len > self.recv_buf.len() => {
                    return Err(Error::Malformed {
                        context: context.to_string(),
                        detail: format!("reply of {len} bytes exceeds the receive buffer"),
                    })
                }
                Ok((len, _)) => return Ok(len),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(context.to_string(), e)),
            }
        }
    }
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

fn setns(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor; CLONE_NEWNET affects the calling thread.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `f` with the calling thread in network namespace `ns`, then moves it back.
fn in_netns<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> io::Result<T>) -> Result<io::Result<T>> {
    let home = File::open("/proc/thread-self/ns/net")
        .map_err(|e| Error::io("opening this thread's network namespace", e))?;
    setns(ns).map_err(|e| Error::io("entering the network namespace", e))?;
    let result = f();
    setns(home.as_fd()).map_err(|e| Error::io("returning to the original network namespace", e))?;
    Ok(result)
}
