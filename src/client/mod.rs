//! A safe client for the kernel's IPVS table: one netlink socket per [`Handle`], every IPVS
//! command, errors with the kernel's errno, and batches of writes in one `send`.

mod connections;
mod dest_readers;
mod error;
mod listing;
mod socket;
mod verify;

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

pub use error::{errno_text, Error, Result};
pub use listing::{ServiceForm, ServiceList};

use crate::model::{
    Daemon, DaemonRole, DestEntry, DestKey, Destination, Info, Service, ServiceEntry, ServiceKey,
    Timeouts,
};
use crate::wire::ipvs::{self, cmd, cmd_attr, IPVS_GENL_NAME};
use crate::wire::{ctrl, Request};
pub(crate) use socket::in_netns;
use socket::Socket;

/// A connection to the IPVS table of one network namespace.
///
/// Each handle owns one netlink socket and resolves the "IPVS" family once, and opens more
/// in its namespace when it reads many services' destinations at once
/// ([`Handle::dests_of`], on threads that end with the call). Requests take `&mut self`;
/// share a handle between threads behind a lock, or open one per thread. After `fork()`
/// the child's first request reopens the socket (in the same namespace), so parent and
/// child never read each other's replies.
pub struct Handle {
    socket: Socket,
    family: u16,
    /// The process that opened `socket`.
    owner: u32,
    /// The namespace the handle was opened in, kept to reopen there after a fork.
    netns: Option<OwnedFd>,
    /// See [`Handle::set_reply_timeout`].
    timeout: Option<Duration>,
    /// See [`Handle::set_receive_buffer`]; `None`: the socket's own 4 MiB.
    receive_buffer: Option<usize>,
    /// More sockets in the same namespace, for [`Handle::dests_of`]: opened when first
    /// needed, kept while they answer as expected, dropped after a fork.
    readers: Vec<Socket>,
}

impl Handle {
    /// Opens the IPVS table of the caller's network namespace.
    ///
    /// Fails with [`Error::NotAvailable`] when the kernel has no IPVS, and with a kernel
    /// error of errno `EPERM` when the caller lacks CAP_NET_ADMIN.
    pub fn open() -> Result<Handle> {
        Ok(Handle::open_with(None)?.0)
    }

    /// Like [`Handle::open`], also returning the `GET_INFO` answer the open asked for.
    pub fn open_with_info() -> Result<(Handle, Info)> {
        Handle::open_with(None)
    }

    /// Opens the IPVS table of the network namespace at `path` (`/run/netns/NAME`,
    /// `/proc/PID/ns/net`). The socket is made there by a short-lived thread: the calling
    /// thread never changes namespace.
    pub fn open_in_netns(path: impl AsRef<Path>) -> Result<Handle> {
        let path = path.as_ref();
        let ns = File::open(path)
            .map_err(|e| Error::io(format!("opening network namespace {}", path.display()), e))?;
        Ok(Handle::open_with(Some(ns.into()))?.0)
    }

    /// Opens the IPVS table of the network namespace referred to by `netns`; the
    /// descriptor is duplicated, the caller keeps its own.
    pub fn open_in_netns_fd(netns: BorrowedFd<'_>) -> Result<Handle> {
        let ns = netns
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicating the network namespace descriptor", e))?;
        Ok(Handle::open_with(Some(ns))?.0)
    }

    fn open_with(netns: Option<OwnedFd>) -> Result<(Handle, Info)> {
        let timeout = Some(Handle::DEFAULT_REPLY_TIMEOUT);
        let (socket, family) = connect(netns.as_ref().map(|f| f.as_fd()), timeout)?;
        let mut handle = Handle {
            socket,
            family,
            timeout,
            receive_buffer: None,
            owner: std::process::id(),
            netns,
            readers: Vec::new(),
        };
        // IPVS checks CAP_NET_ADMIN on every command, the controller does not: ask for
        // the version now so that a handle which opens is one that works.
        let info = handle.info()?;
        Ok((handle, info))
    }

    /// A new descriptor of the network namespace whose table the handle reaches.
    pub fn netns(&mut self) -> Result<OwnedFd> {
        self.ensure_own_socket()?;
        self.socket_netns()
    }

    /// [`Handle::netns`] of the socket as it is.
    fn socket_netns(&self) -> Result<OwnedFd> {
        (self.socket.netns()).map_err(|e| Error::io("asking the socket's network namespace", e))
    }

    /// The numeric id of the "IPVS" generic-netlink family.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// How long a request waits for the kernel's answer before it fails with
    /// `ETIMEDOUT`, unless [`Handle::set_reply_timeout`] says otherwise. The kernel answers at
    /// once (it does the work while the request is sent), so only a lost answer waits.
    pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

    /// Sets how long each request waits for the kernel's answer (`None`: for ever). A
    /// request that times out fails with `ETIMEDOUT`, and the handle stays usable: its
    /// next request goes out on a new socket, so a late answer is never taken for another.
    pub fn set_reply_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.socket.set_timeout(timeout)?;
        self.timeout = timeout;
        Ok(())
    }

    /// See [`Handle::set_reply_timeout`].
    pub fn reply_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Asks for a socket receive buffer of `bytes` instead of the 4 MiB a handle starts
    /// with (the kernel doubles the value and keeps a minimum). A small buffer makes the
    /// kernel drop answers of a large batch; [`Handle::execute`] still reports each
    /// request exactly, at the cost of smaller batches and lookups.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> Result<()> {
        self.socket.set_receive_buffer(bytes)?;
        self.receive_buffer = Some(bytes);
        Ok(())
    }

    /// Reopens the socket if this process is a fork of the one that opened it, or if an
    /// answer on it was left unread (a timeout, a malformed reply).
    fn ensure_own_socket(&mut self) -> Result<()> {
        let pid = std::process::id();
        if pid != self.owner || self.socket.abandoned() {
            let (mut socket, family) =
                connect(self.netns.as_ref().map(|f| f.as_fd()), self.timeout)?;
            if let Some(bytes) = self.receive_buffer {
                socket.set_receive_buffer(bytes)?;
            }
            self.socket = socket;
            self.family = family;
            self.owner = pid;
            self.readers.clear();
        }
        Ok(())
    }

    /// Sends one request; `on_data` sees each data message of the answer.
    fn request(
        &mut self,
        req: Request<'_>,
        on_data: impl FnMut(u8, &[u8]) -> std::result::Result<(), crate::wire::DecodeError>,
    ) -> Result<()> {
        self.dump(req, on_data).map(drop)
    }

    /// As [`Handle::request`], and how many datagrams the answer took.
    fn dump(
        &mut self,
        req: Request<'_>,
        on_data: impl FnMut(u8, &[u8]) -> std::result::Result<(), crate::wire::DecodeError>,
    ) -> Result<usize> {
        validate(&req)?;
        self.ensure_own_socket()?;
        let family = self.family;
        self.socket
            .dump(&req, |buf, seq| req.encode(buf, family, seq), on_data)
    }

    fn write(&mut self, req: Request<'_>) -> Result<()> {
        self.request(req, |_, _| Ok(()))
    }

    /// Runs many write requests with as few system calls as possible and returns each
    /// one's outcome, in order. A failed request does not stop the ones after it.
    ///
    /// Each outcome is the kernel's: where its answer was lost (the receive buffer
    /// overflowed, `ENOBUFS`, or the wait timed out), the table says whether the request
    /// took effect (then it is done), and one that did not is sent again on its own, for
    /// its own answer. So no request is reported done that was not, or failed that was,
    /// with one limit: the table cannot tell an add that found its object there already
    /// (`EEXIST`) from one that made it, or a delete that found nothing from one that
    /// deleted, so with their answers lost those count as done. A desired-state apply
    /// adds only what its reading of the table lacked, so for it the two are one.
    pub fn execute(&mut self, requests: &[Request<'_>]) -> Vec<Result<()>> {
        let mut results: Vec<Option<Result<()>>> = requests
            .iter()
            .map(|r| match r.is_dump() {
                true => Some(Err(Error::Invalid(format!("{r}: dumps cannot be batched")))),
                false => validate(r).err().map(Err),
            })
            .collect();
        let todo: Vec<usize> = (0..requests.len())
            .filter(|&i| results[i].is_none())
            .collect();
        if let Err(e) = self.ensure_own_socket() {
            let errno = e.errno();
            for &i in &todo {
                results[i] = Some(Err(Error::io(
                    requests[i].to_string(),
                    std::io::Error::from_raw_os_error(errno),
                )));
            }
        } else {
            // A daemon stop may go unanswered (see `stop_daemon`), so it is not batched.
            for run in todo.chunk_by(|_, &i| !matches!(requests[i], Request::DelDaemon(_))) {
                let mut batched = run;
                if let Request::DelDaemon(role) = requests[run[0]] {
                    results[run[0]] = Some(self.stop_daemon(role));
                    batched = &run[1..];
                }
                let family = self.family;
                let outcomes = self.socket.batch(
                    batched.len(),
                    |k| requests[batched[k]].to_string(),
                    |k, buf, seq| requests[batched[k]].encode(buf, family, seq),
                );
                for (k, outcome) in outcomes.into_iter().enumerate() {
                    results[batched[k]] = Some(outcome);
                }
            }
        }
        let mut results: Vec<Result<()>> = results
            .into_iter()
            .map(|r| r.expect("every request has an outcome"))
            .collect();
        for (request, outcome) in requests.iter().zip(&mut results) {
            if outcome.as_ref().is_err_and(Error::answer_lost) {
                *outcome = match self.took_effect(request) {
                    Ok(true) => Ok(()),
                    Ok(false) => self.write(*request),
                    // Not known to be done: it stays failed.
                    Err(_) => continue,
                };
            }
        }
        results
    }

    /// `IPVS_CMD_GET_INFO`: the IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info> {
        let mut info = None;
        self.request(Request::GetInfo, |c, attrs| {
            if c == cmd::SET_INFO {
                info = Some(ipvs::decode_info(attrs)?);
            }
            Ok(())
        })?;
        info.ok_or_else(|| no_reply(Request::GetInfo))
    }

    pub fn add_service(&mut self, service: &Service) -> Result<()> {
        self.write(Request::NewService(service))
    }

    /// Replaces every setting of an existing service, flags included (as libipvs does).
    pub fn update_service(&mut self, service: &Service) -> Result<()> {
        self.write(Request::SetService {
            service,
            flags_mask: u32::MAX,
        })
    }

    /// Replaces a service's settings but changes only the flag bits in `flags_mask`.
    pub fn update_service_masked(&mut self, service: &Service, flags_mask: u32) -> Result<()> {
        self.write(Request::SetService {
            service,
            flags_mask,
        })
    }

    /// Deletes a service and its destinations.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<()> {
        self.write(Request::DelService(key))
    }

    /// One service; errno `ESRCH` if there is none.
    pub fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry> {
        self.service_as(key)
    }

    /// [`Handle::service`] kept in the form `E` (see [`Handle::services_as`]).
    pub fn service_as<E: ServiceForm>(&mut self, key: &ServiceKey) -> Result<E> {
        let mut found = None;
        self.request(Request::GetService(key), |_, attrs| {
            let nest = ipvs::top_level_nest(attrs, cmd_attr::SERVICE)?;
            found = Some(ipvs::decode_service_ref(nest)?.into());
            Ok(())
        })?;
        found.ok_or_else(|| no_reply(Request::GetService(key)))
    }

    pub fn add_dest(&mut self, service: &ServiceKey, dest: &Destination) -> Result<()> {
        self.write(Request::NewDest(service, dest))
    }

    /// Replaces every setting of an existing destination.
    pub fn update_dest(&mut self, service: &ServiceKey, dest: &Destination) -> Result<()> {
        self.write(Request::SetDest(service, dest))
    }

    pub fn del_dest(&mut self, service: &ServiceKey, dest: &DestKey) -> Result<()> {
        self.write(Request::DelDest(service, *dest))
    }

    /// The destinations of a service, in the kernel's order (newest first). The kernel
    /// answers an unknown service with an empty list, not an error. A destination dump
    /// resumes by position in the service's own list, so only changes to this service
    /// can make it skip or repeat one.
    pub fn dests(&mut self, service: &ServiceKey) -> Result<Vec<DestEntry>> {
        self.ensure_own_socket()?;
        dests_on(&mut self.socket, self.family, service)
    }

    /// Zeroes the counters of one service, or of every service with `None`.
    pub fn zero(&mut self, service: Option<&ServiceKey>) -> Result<()> {
        self.write(Request::Zero(service))
    }

    /// Deletes every service.
    pub fn flush(&mut self) -> Result<()> {
        self.write(Request::Flush)
    }

    /// Sets the TCP, TCP FIN and UDP timeouts; a 0 leaves that one unchanged.
    pub fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<()> {
        self.write(Request::SetTimeouts(timeouts))
    }

    pub fn timeouts(&mut self) -> Result<Timeouts> {
        let mut found = None;
        self.request(Request::GetTimeouts, |_, attrs| {
            found = Some(ipvs::decode_timeouts(attrs)?);
            Ok(())
        })?;
        found.ok_or_else(|| no_reply(Request::GetTimeouts))
    }

    pub fn start_daemon(&mut self, daemon: &Daemon) -> Result<()> {
        self.write(Request::NewDaemon(daemon))
    }

    /// Stops the sync daemon of `role`; errno `ESRCH` if none runs.
    ///
    /// When the daemon's kernel thread has not run yet, the kernel stops it but returns
    /// `EINTR`, which netlink never answers: a request waiting for that answer would wait
    /// forever (ipvsadm does). So a dump of the daemons follows in the same datagram, and
    /// when the stop goes unanswered, that dump says whether the daemon is gone.
    pub fn stop_daemon(&mut self, role: DaemonRole) -> Result<()> {
        self.ensure_own_socket()?;
        let family = self.family;
        let stop = Request::DelDaemon(role);
        let mut still_running = false;
        let answer = self.socket.request_after(
            (&stop, &|buf: &mut Vec<u8>, seq| {
                stop.encode(buf, family, seq)
            }),
            &Request::DumpDaemons,
            |buf, seq| Request::DumpDaemons.encode(buf, family, seq),
            |_, attrs| {
                let daemon = ipvs::decode_daemon(ipvs::top_level_nest(attrs, cmd_attr::DAEMON)?)?;
                still_running |= daemon.role == role;
                Ok(())
            },
        )?;
        match answer {
            Some(outcome) => outcome,
            None if still_running => Err(Error::Kernel {
                context: stop.to_string(),
                errno: libc::EINTR,
                detail: Some("the kernel did not answer and the daemon still runs".into()),
            }),
            None => Ok(()),
        }
    }

    /// The running sync daemons: the master first, then the backup.
    pub fn daemons(&mut self) -> Result<Vec<Daemon>> {
        let mut all = Vec::new();
        self.request(Request::DumpDaemons, |_, attrs| {
            all.push(ipvs::decode_daemon(ipvs::top_level_nest(
                attrs,
                cmd_attr::DAEMON,
            )?)?);
            Ok(())
        })?;
        Ok(all)
    }
}

/// [`Handle::dests`] on `socket`, where the IPVS family is `family`.
fn dests_on(socket: &mut Socket, family: u16, service: &ServiceKey) -> Result<Vec<DestEntry>> {
    let request = Request::DumpDests(service);
    let mut all = Vec::new();
    let encode = |buf: &mut Vec<u8>, seq| request.encode(buf, family, seq);
    socket.dump(&request, encode, |_, attrs| {
        let nest = ipvs::top_level_nest(attrs, cmd_attr::DEST)?;
        all.push(ipvs::decode_dest(nest, service.family())?);
        Ok(())
    })?;
    Ok(all)
}

/// Opens a socket (in `netns` if given) and resolves the IPVS family on it.
fn connect(netns: Option<BorrowedFd<'_>>, timeout: Option<Duration>) -> Result<(Socket, u16)> {
    let mut socket = Socket::open(netns, timeout)?;
    let mut family = None;
    let context = "resolving the IPVS generic netlink family";
    let found = socket.request(
        &context,
        |buf, seq| ctrl::encode_get_family(buf, seq, IPVS_GENL_NAME),
        |_, attrs| {
            family = Some(ctrl::decode_family(attrs)?.0);
            Ok(())
        },
    );
    match (found, family) {
        (Ok(()), Some(id)) => Ok((socket, id)),
        (
            Err(Error::Kernel {
                errno: libc::ENOENT,
                ..
            }),
            _,
        ) => Err(Error::NotAvailable),
        (Err(e), _) => Err(e),
        (Ok(()), None) => Err(Error::Malformed {
            context: context.to_owned(),
            detail: "the controller sent no family".to_owned(),
        }),
    }
}

/// Rejects what cannot be encoded faithfully: a NUL inside a string would cut it short.
fn validate(req: &Request<'_>) -> Result<()> {
    let strings: Vec<(&str, &str)> = match req {
        Request::NewService(s) | Request::SetService { service: s, .. } => {
            let mut v = vec![("scheduler name", s.scheduler.as_str())];
            if let Some(pe) = &s.pe_name {
                v.push(("persistence engine name", pe.as_str()));
            }
            v
        }
        Request::NewDaemon(d) => vec![("sync daemon interface name", d.ifname.as_str())],
        _ => Vec::new(),
    };
    for (what, s) in strings {
        if s.contains('\0') {
            return Err(Error::Invalid(format!(
                "{req}: the {what} {s:?} contains a NUL byte"
            )));
        }
    }
    Ok(())
}

fn no_reply(req: Request<'_>) -> Error {
    Error::Malformed {
        context: req.to_string(),
        detail: "the kernel sent no data".to_owned(),
    }
}
