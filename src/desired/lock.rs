//! One converger at a time per network namespace. An apply reads the table, diffs,
//! writes and may roll back; two at once would undo each other's work. The lock is an
//! abstract unix socket bound to [`LOCK_NAME`] in the namespace: abstract names belong
//! to a network namespace, and the kernel frees one as soon as its last descriptor
//! closes, also when its holder is killed. The holder listens on it, so that a waiter
//! learns its pid (`SO_PEERCRED`) and is woken when it goes.

use std::cell::UnsafeCell;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::client::{in_netns, Error, Handle};

/// The abstract socket name (after its leading NUL byte) that holds a namespace's lock.
/// A program that binds it in a namespace keeps every ipvsrs converger out of that
/// namespace until it closes the socket.
pub const LOCK_NAME: &str = "ipvsrs/converge";

/// The longest a waiter sleeps between two looks when no wake-up is due.
const LOOK_AGAIN_AFTER: Duration = Duration::from_secs(1);
/// How long a waiter sleeps when it could not connect to the holder (bound, not yet
/// listening, or a full queue of waiters).
const RETRY_AFTER: Duration = Duration::from_millis(10);

/// The lock of one namespace's table, held until dropped.
pub struct ConvergeLock {
    _socket: LockSocket,
}

/// Why [`ConvergeLock::acquire`] returned without the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another converger held the lock for the whole wait.
    #[error(
        "another converger holds the lock of this network namespace{}: gave up after {:.1} s",
        holder_text(*holder),
        waited.as_secs_f64()
    )]
    Busy {
        /// The holder's pid, where the system tells it (not across pid namespaces).
        holder: Option<u32>,
        waited: Duration,
    },
    /// The lock's socket could not be made in the namespace.
    #[error("taking the converge lock: {0}")]
    Failed(#[source] Error),
}

fn holder_text(holder: Option<u32>) -> String {
    match holder {
        Some(pid) if pid == std::process::id() => format!(" (pid {pid}, this process)"),
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    }
}

impl ConvergeLock {
    /// How long a converger waits for another one unless told otherwise.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

    /// Takes the lock of the namespace whose table `handle` reaches, waiting up to
    /// `wait` for its holder to let it go.
    pub fn acquire(handle: &mut Handle, wait: Duration) -> Result<ConvergeLock, LockError> {
        let netns = handle.netns().map_err(LockError::Failed)?;
        ConvergeLock::acquire_in(Some(std::os::fd::AsFd::as_fd(&netns)), wait)
    }

    /// Takes the lock of the namespace `netns` refers to (`None`: the calling thread's),
    /// waiting up to `wait`. In another namespace than the calling thread's, the socket
    /// is made, and the wait spent, on a short-lived thread that enters it.
    pub fn acquire_in(
        netns: Option<BorrowedFd<'_>>,
        wait: Duration,
    ) -> Result<ConvergeLock, LockError> {
        let taken = match netns {
            None => take(wait),
            Some(ns) => in_netns(ns, move || take(wait)).map_err(LockError::Failed)?,
        };
        let failed = |e| LockError::Failed(Error::io("a unix socket for the converge lock", e));
        match taken.map_err(failed)? {
            Attempt::Held(socket) => Ok(ConvergeLock { _socket: socket }),
            Attempt::Busy { holder, waited } => Err(LockError::Busy { holder, waited }),
        }
    }
}

enum Attempt {
    Held(LockSocket),
    Busy {
        holder: Option<u32>,
        waited: Duration,
    },
}

/// Binds the lock's name in the calling thread's namespace, waiting up to `wait`.
fn take(wait: Duration) -> io::Result<Attempt> {
    let start = Instant::now();
    let socket = LockSocket::new()?;
    let mut holder = None;
    // A connection to the holder, kept until it hangs up: each one waits in the holder's
    // queue until the holder goes.
    let mut connection: Option<OwnedFd> = None;
    loop {
        match socket.bind() {
            Ok(()) => {
                // Waiters connect to learn who holds it and to be woken when it goes.
                // SAFETY: listen(2) on a socket this call owns.
                cvt(unsafe { libc::listen(socket.0, 64) })?;
                return Ok(Attempt::Held(socket));
            }
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {}
            Err(e) => return Err(e),
        }
        if connection.is_none() {
            if let Some((to_holder, pid)) = connect_to_holder()? {
                holder = pid.or(holder);
                connection = Some(to_holder);
            }
        }
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            let waited = start.elapsed();
            return Ok(Attempt::Busy { holder, waited });
        }
        match &connection {
            Some(to_holder) => {
                if hung_up(to_holder, left.min(LOOK_AGAIN_AFTER))? {
                    connection = None;
                }
            }
            None => std::thread::sleep(left.min(RETRY_AFTER)),
        }
    }
}

/// The lock's address: abstract (a leading NUL), so it lives in the namespace, not in
/// a file system.
fn lock_address() -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in address.sun_path[1..].iter_mut().zip(LOCK_NAME.bytes()) {
        *slot = byte as libc::c_char;
    }
    let length = std::mem::offset_of!(libc::sockaddr_un, sun_path) + 1 + LOCK_NAME.len();
    (address, length as libc::socklen_t)
}

fn unix_socket(flags: libc::c_int) -> io::Result<RawFd> {
    // SAFETY: plain socket(2).
    cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) })
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    match rc {
        -1 => Err(io::Error::last_os_error()),
        rc => Ok(rc),
    }
}

/// Connects to the holder: the connection and the holder's pid, or `None` when no
/// connection could be made at once.
fn connect_to_holder() -> io::Result<Option<(OwnedFd, Option<u32>)>> {
    // SAFETY: a fresh descriptor, owned by nothing else.
    let connection =
        unsafe { OwnedFd::from_raw_fd(unix_socket(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?) };
    let (address, length) = lock_address();
    // SAFETY: the address and its length describe a valid sockaddr_un.
    let rc = unsafe {
        libc::connect(
            connection.as_raw_fd(),
            &address as *const libc::sockaddr_un as *const libc::sockaddr,
            length,
        )
    };
    if let Err(e) = cvt(rc) {
        return match e.raw_os_error() {
            // Let go of, not yet listening, or too many waiters: look again soon.
            Some(libc::ECONNREFUSED | libc::EAGAIN | libc::ENOENT) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: ucred is plain data, and the length passed is its size.
    let mut credentials: libc::ucred = unsafe { std::mem::zeroed() };
    let mut size = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes at most `size` bytes into `credentials`.
    let rc = unsafe {
        libc::getsockopt(
            connection.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut credentials as *mut libc::ucred as *mut libc::c_void,
            &mut size,
        )
    };
    let pid = (rc == 0 && credentials.pid > 0).then_some(credentials.pid as u32);
    Ok(Some((connection, pid)))
}

/// Waits until the holder's end of `connection` closes (the holder let the lock go or
/// died), or `timeout`; whether it closed (or anything else happened to it).
fn hung_up(connection: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let mut poll = libc::pollfd {
        fd: connection.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    let millis = timeout.as_millis().clamp(1, libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    match cvt(unsafe { libc::poll(&mut poll, 1, millis) }) {
        Ok(ready) => Ok(ready > 0),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// The lock's socket, closed in the child after `fork()` (see [`HELD`]).
struct LockSocket(RawFd);

impl LockSocket {
    fn new() -> io::Result<LockSocket> {
        HELD.with(|held| {
            let fd = unix_socket(libc::SOCK_CLOEXEC)?;
            held.push(fd);
            Ok(LockSocket(fd))
        })
    }

    fn bind(&self) -> io::Result<()> {
        let (address, length) = lock_address();
        // SAFETY: the address and its length describe a valid sockaddr_un.
        let rc = unsafe {
            libc::bind(
                self.0,
                &address as *const libc::sockaddr_un as *const libc::sockaddr,
                length,
            )
        };
        cvt(rc).map(drop)
    }
}

impl Drop for LockSocket {
    fn drop(&mut self) {
        HELD.with(|held| {
            // Absent in a forked child, which closed it already.
            if let Some(at) = held.iter().position(|&fd| fd == self.0) {
                held.swap_remove(at);
                // SAFETY: a descriptor this process made and still owns (it was held).
                unsafe { libc::close(self.0) };
            }
        });
    }
}

/// The lock sockets of this process. A child of `fork()` closes its copies at once: a
/// child that kept one (keepalived's children live long) would hold the namespace's
/// lock for as long as it lives. The list's own mutex is held across the fork, so that
/// no socket is between being made and being listed, or closed and unlisted.
struct HeldSockets {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    fds: UnsafeCell<Vec<RawFd>>,
    atfork: Once,
}

// SAFETY: `fds` is only touched with `mutex` held, or in a forked child's only thread.
unsafe impl Sync for HeldSockets {}

static HELD: HeldSockets = HeldSockets {
    mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
    fds: UnsafeCell::new(Vec::new()),
    atfork: Once::new(),
};

impl HeldSockets {
    fn with<R>(&'static self, f: impl FnOnce(&mut Vec<RawFd>) -> R) -> R {
        self.atfork.call_once(|| {
            // SAFETY: plain functions with static lifetime.
            unsafe { libc::pthread_atfork(Some(lock_held), Some(unlock_held), Some(close_held)) };
        });
        lock_held();
        struct Unlock;
        impl Drop for Unlock {
            fn drop(&mut self) {
                unlock_held();
            }
        }
        let _unlock = Unlock;
        // SAFETY: the mutex is held until `_unlock` drops.
        f(unsafe { &mut *self.fds.get() })
    }
}

extern "C" fn lock_held() {
    // SAFETY: a statically initialised mutex.
    unsafe { libc::pthread_mutex_lock(HELD.mutex.get()) };
}

extern "C" fn unlock_held() {
    // SAFETY: locked by this thread (or, in the child, by the thread that forked).
    unsafe { libc::pthread_mutex_unlock(HELD.mutex.get()) };
}

/// The child's handler: its only thread closes every inherited lock socket.
extern "C" fn close_held() {
    // SAFETY: the child has one thread, and the mutex is held by it since the fork.
    let fds = unsafe { &mut *HELD.fds.get() };
    for fd in fds.drain(..) {
        // SAFETY: the child's copy of a descriptor the parent held.
        unsafe { libc::close(fd) };
    }
    unlock_held();
}
