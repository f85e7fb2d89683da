//! Native handles (`ipvsrs_handle`): a connection to the IPVS table of one network
//! namespace, usable from several threads at once (calls on one handle are serialised).
//! Objects are the libipvs structs, so code moves over from libipvs without new types.

use std::ffi::{c_char, c_int, c_uint, CStr};
use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::time::Duration;

use super::live::{self, Live};
use super::types::{
    ipvsrs_daemon_user, ipvsrs_dest_user, ipvsrs_getinfo, ipvsrs_service_entry,
    ipvsrs_service_user, ipvsrs_timeout_user,
};
use super::{arg, arg_mut, boundary, or_fail, pointer, status, CError};
use crate::client::Handle;
use crate::desired::yaml::ModelCache;
use crate::model::DaemonRole;

/// A connection to the IPVS table of one network namespace. Open with `ipvsrs_open`,
/// release with `ipvsrs_close`. Thread-safe: calls on one handle from several threads are
/// serialised, and one thread may close it while others are inside calls on it (see
/// `ipvsrs_close`). After `fork()`, the child may keep using it (it reconnects on first
/// use), provided no other thread of the parent was inside a call on it at the fork.
pub struct ipvsrs_handle {
    inner: Mutex<Connection>,
}

/// A connection to a table, as a C caller holds one (a handle, or the libipvs one).
pub(crate) struct Connection {
    pub handle: Handle,
    /// What `ipvs_apply_yaml` read of the last model applied through it.
    pub models: ModelCache,
}

impl From<Handle> for Connection {
    fn from(handle: Handle) -> Connection {
        Connection {
            handle,
            models: ModelCache::new(),
        }
    }
}

impl Live for ipvsrs_handle {
    const NAME: &'static str = "handle";
    const MADE_BY: &'static str = "ipvsrs_open";
}

/// Runs `f` with the handle locked; 0 or -1 with errno.
pub(crate) fn with_handle(
    h: *const ipvsrs_handle,
    f: impl FnOnce(&mut Handle) -> Result<(), CError>,
) -> c_int {
    status(with_live_handle(h, |c| f(&mut c.handle)))
}

/// Runs `f` on the connection of `h` (which must be live), locked. The call holds its own
/// reference to the handle: an `ipvsrs_close` on another thread meanwhile frees it only
/// after `f` returns.
pub(crate) fn with_live_handle<T>(
    h: *const ipvsrs_handle,
    f: impl FnOnce(&mut Connection) -> Result<T, CError>,
) -> Result<T, CError> {
    let handle = live::get_shared(h)?;
    // A panic while locked was caught at the boundary; the handle itself is still sound.
    let mut connection = handle
        .inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut connection)
}

/// Runs `f` on `h`, or on the libipvs connection when `h` is NULL (as the calls that take
/// either do).
pub(crate) fn on_handle<T>(
    h: *mut ipvsrs_handle,
    f: impl FnOnce(&mut Handle) -> Result<T, CError>,
) -> Result<T, CError> {
    on_connection(h, |c| f(&mut c.handle))
}

/// [`on_handle`] with the connection's model cache too.
pub(crate) fn on_connection<T>(
    h: *mut ipvsrs_handle,
    f: impl FnOnce(&mut Connection) -> Result<T, CError>,
) -> Result<T, CError> {
    if h.is_null() {
        super::libipvs::default_handle::with_connection(f)
    } else {
        with_live_handle(h, f)
    }
}

fn give_handle(handle: Result<Handle, crate::Error>) -> Result<*mut ipvsrs_handle, CError> {
    Ok(live::give_shared(ipvsrs_handle {
        inner: Mutex::new(handle?.into()),
    }))
}

/// Opens the IPVS table of the network namespace at `netns_path` (e.g.
/// "/run/netns/blue"), or of the caller's namespace when `netns_path` is NULL.
/// Returns a handle to release with `ipvsrs_close`, or NULL with errno: `ENOPROTOOPT` no
/// IPVS in the kernel, `EPERM` no CAP_NET_ADMIN, `ENOENT` no such namespace file. The
/// calling thread never changes namespace: a short-lived thread makes the socket there.
#[no_mangle]
pub extern "C" fn ipvsrs_open(netns_path: *const c_char) -> *mut ipvsrs_handle {
    boundary(std::ptr::null_mut(), || {
        pointer(if netns_path.is_null() {
            give_handle(Handle::open())
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            match unsafe { CStr::from_ptr(netns_path) }.to_str() {
                Ok(path) => give_handle(Handle::open_in_netns(path)),
                Err(_) => Err(CError {
                    errno: libc::EINVAL,
                    message: "the namespace path is not UTF-8".into(),
                }),
            }
        })
    })
}

/// Like `ipvsrs_open`, for the network namespace open at descriptor `netns_fd` (which the
/// caller keeps; the handle holds its own duplicate).
#[no_mangle]
pub extern "C" fn ipvsrs_open_netns_fd(netns_fd: c_int) -> *mut ipvsrs_handle {
    boundary(std::ptr::null_mut(), || {
        if netns_fd < 0 {
            return pointer(Err(CError {
                errno: libc::EBADF,
                message: format!("bad namespace descriptor {netns_fd}"),
            }));
        }
        // SAFETY: the descriptor is only borrowed for the call, and checked non-negative.
        pointer(give_handle(Handle::open_in_netns_fd(unsafe {
            BorrowedFd::borrow_raw(netns_fd)
        })))
    })
}

/// Closes a handle from `ipvsrs_open`. NULL is ignored. Thread-safe, also while other
/// threads are inside calls on `h`: each of those finishes as if the close came after it,
/// or fails with `EBADF`, and the handle's socket and memory are released when the last
/// of them returns (so `ipvsrs_close` itself never waits). Every call on `h` that starts
/// after the close fails with `EBADF`, unless a new handle got the same address (as with
/// any freed pointer, the caller must not let `h` be used once a later `ipvsrs_open` may
/// have reused it). A handle closed already (or not from `ipvsrs_open`) is left alone,
/// with errno `EBADF`.
#[no_mangle]
pub extern "C" fn ipvsrs_close(h: *mut ipvsrs_handle) {
    boundary((), || or_fail(live::take_shared(h), ()))
}

/// How long a request waits for the kernel's answer unless `ipvsrs_set_reply_timeout`
/// says otherwise, in milliseconds.
pub const IPVSRS_DEFAULT_REPLY_TIMEOUT_MS: c_uint = 30_000;

/// Sets how long each request on `h` waits for the kernel's answer, in milliseconds (0:
/// for ever). The kernel answers at once, so only a lost answer waits; a request that
/// times out fails with `ETIMEDOUT`, and the handle stays usable (its next request goes
/// out on a new socket). Returns 0, or -1 with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_set_reply_timeout(h: *mut ipvsrs_handle, timeout_ms: c_uint) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            let timeout = (timeout_ms != 0).then(|| Duration::from_millis(timeout_ms.into()));
            Ok(handle.set_reply_timeout(timeout)?)
        })
    })
}

/// Writes the IPVS version code and connection table size into `*out` (`num_services` is
/// 0). Returns 0, or -1 with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_get_info(h: *mut ipvsrs_handle, out: *mut ipvsrs_getinfo) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            // SAFETY: NULL or a valid, writable struct.
            let out = unsafe { arg_mut(out, "out") }?;
            let info = handle.info()?;
            *out = ipvsrs_getinfo {
                version: info.version,
                size: info.conn_tab_size,
                num_services: 0,
            };
            Ok(())
        })
    })
}

/// Adds the service `svc` (read only). Returns 0, or -1 with errno (`EEXIST`, `ENOENT`
/// unknown scheduler or persistence engine, `EINVAL`); `ipvsrs_last_error()` names it.
#[no_mangle]
pub extern "C" fn ipvsrs_add_service(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
) -> c_int {
    // SAFETY: NULL or a valid service.
    boundary(-1, || {
        with_handle(h, |handle| {
            Ok(handle.add_service(&unsafe { arg(svc, "svc") }?.to_model()?)?)
        })
    })
}

/// Replaces the settings of the service `svc` identifies, changing only the flag bits set
/// in `flags_mask` (pass `~0u` to replace all flags, as `ipvs_update_service` does).
/// Returns 0, or -1 with errno (`ESRCH` no such service).
#[no_mangle]
pub extern "C" fn ipvsrs_update_service(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
    flags_mask: c_uint,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            // SAFETY: NULL or a valid service.
            let svc = unsafe { arg(svc, "svc") }?.to_model()?;
            Ok(handle.update_service_masked(&svc, flags_mask)?)
        })
    })
}

/// Deletes the service `svc` identifies, with its destinations. Returns 0, or -1 with
/// errno (`ESRCH`).
#[no_mangle]
pub extern "C" fn ipvsrs_del_service(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
) -> c_int {
    // SAFETY: NULL or a valid service.
    boundary(-1, || {
        with_handle(h, |handle| {
            Ok(handle.del_service(&unsafe { arg(svc, "svc") }?.key()?)?)
        })
    })
}

/// Writes the service `svc` identifies, with 64-bit stats and rates, into `*out`.
/// Returns 0, or -1 with errno (`ESRCH` no such service).
#[no_mangle]
pub extern "C" fn ipvsrs_get_service(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
    out: *mut ipvsrs_service_entry,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            // SAFETY: NULL or valid structs.
            let (svc, out) = unsafe { (arg(svc, "svc")?, arg_mut(out, "out")?) };
            *out = ipvsrs_service_entry::from(&handle.service(&svc.key()?)?);
            Ok(())
        })
    })
}

/// The three destination operations, shared by the libipvs and the native API: both
/// structs read only, NULL rejected with `EINVAL`.
#[derive(Clone, Copy)]
pub(crate) enum DestOp {
    Add,
    Update,
    Del,
}

impl DestOp {
    pub(crate) fn run(
        self,
        handle: &mut Handle,
        svc: *const ipvsrs_service_user,
        dest: *const ipvsrs_dest_user,
    ) -> Result<(), CError> {
        // SAFETY: the caller passes NULL or valid structures.
        let (svc, dest) = unsafe { (arg(svc, "svc")?, arg(dest, "dest")?) };
        let key = svc.key()?;
        match self {
            DestOp::Add => handle.add_dest(&key, &dest.to_model(key.family())?)?,
            DestOp::Update => handle.update_dest(&key, &dest.to_model(key.family())?)?,
            DestOp::Del => handle.del_dest(&key, &dest.key(key.family())?)?,
        }
        Ok(())
    }
}

/// Adds destination `dest` to service `svc`. Returns 0, or -1 with errno (`ESRCH` no such
/// service, `EEXIST`, `ERANGE` bad weight or thresholds, `EINVAL`).
#[no_mangle]
pub extern "C" fn ipvsrs_add_dest(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
    dest: *const ipvsrs_dest_user,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| DestOp::Add.run(handle, svc, dest))
    })
}

/// Replaces the settings of destination `dest` of service `svc`. Returns 0, or -1 with
/// errno (`ESRCH`, `ENOENT` no such destination).
#[no_mangle]
pub extern "C" fn ipvsrs_update_dest(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
    dest: *const ipvsrs_dest_user,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| DestOp::Update.run(handle, svc, dest))
    })
}

/// Deletes destination `dest` (address and port) from service `svc`. Returns 0, or -1
/// with errno (`ESRCH`, `ENOENT`).
#[no_mangle]
pub extern "C" fn ipvsrs_del_dest(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_user,
    dest: *const ipvsrs_dest_user,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| DestOp::Del.run(handle, svc, dest))
    })
}

/// Zeroes the counters of the service `svc` identifies, or of every service when `svc`
/// is NULL. Returns 0, or -1 with errno (`ESRCH`).
#[no_mangle]
pub extern "C" fn ipvsrs_zero(h: *mut ipvsrs_handle, svc: *const ipvsrs_service_user) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            // SAFETY: NULL or a valid service.
            let key = unsafe { svc.as_ref() }.map(|s| s.key()).transpose()?;
            Ok(handle.zero(key.as_ref())?)
        })
    })
}

/// Deletes every service in the handle's namespace. Returns 0, or -1 with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_flush(h: *mut ipvsrs_handle) -> c_int {
    boundary(-1, || with_handle(h, |handle| Ok(handle.flush()?)))
}

/// Sets the TCP, TCP FIN and UDP timeouts (seconds; 0 keeps a value). Returns 0, or -1
/// with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_set_timeout(
    h: *mut ipvsrs_handle,
    to: *const ipvsrs_timeout_user,
) -> c_int {
    // SAFETY: NULL or a valid struct.
    boundary(-1, || {
        with_handle(h, |handle| {
            Ok(handle.set_timeouts(&unsafe { arg(to, "to") }?.to_model()?)?)
        })
    })
}

/// Writes the current timeouts into `*out`. Returns 0, or -1 with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_get_timeout(
    h: *mut ipvsrs_handle,
    out: *mut ipvsrs_timeout_user,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            // SAFETY: NULL or a valid, writable struct.
            let out = unsafe { arg_mut(out, "out") }?;
            *out = ipvsrs_timeout_user::from(&handle.timeouts()?);
            Ok(())
        })
    })
}

/// Starts the sync daemon `dm` describes. Returns 0, or -1 with errno (`EEXIST` already
/// running, `ENODEV` no such interface).
#[no_mangle]
pub extern "C" fn ipvsrs_start_daemon(
    h: *mut ipvsrs_handle,
    dm: *const ipvsrs_daemon_user,
) -> c_int {
    // SAFETY: NULL or a valid struct.
    boundary(-1, || {
        with_handle(h, |handle| {
            Ok(handle.start_daemon(&unsafe { arg(dm, "dm") }?.to_model()?)?)
        })
    })
}

/// Stops the sync daemon in `state` (`IPVSRS_STATE_MASTER` or `IPVSRS_STATE_BACKUP`).
/// Returns 0, or -1 with errno (`ESRCH` none running, `EINVAL` bad state).
#[no_mangle]
pub extern "C" fn ipvsrs_stop_daemon(h: *mut ipvsrs_handle, state: c_int) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            let role = u32::try_from(state)
                .ok()
                .and_then(DaemonRole::from_number)
                .ok_or_else(|| CError {
                    errno: libc::EINVAL,
                    message: format!("daemon state {state} is neither master nor backup"),
                })?;
            Ok(handle.stop_daemon(role)?)
        })
    })
}

/// Writes the running sync daemons into `out[0]` and `out[1]` (master first; an unused
/// slot is zeroed, `state` 0) and their number into `*count`. `out` must have room for
/// two. Returns 0, or -1 with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_get_daemons(
    h: *mut ipvsrs_handle,
    out: *mut ipvsrs_daemon_user,
    count: *mut usize,
) -> c_int {
    boundary(-1, || {
        with_handle(h, |handle| {
            if out.is_null() {
                return Err(CError::null("out"));
            }
            // SAFETY: NULL or a valid, writable count.
            let count = unsafe { arg_mut(count, "count") }?;
            let daemons = handle.daemons()?;
            for slot in 0..2 {
                let value = daemons
                    .get(slot)
                    .map_or_else(Default::default, ipvsrs_daemon_user::from);
                // SAFETY: the caller provides room for two structs, maybe uninitialised.
                unsafe { out.add(slot).write(value) };
            }
            *count = daemons.len().min(2);
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_default_reply_timeout_is_the_handles() {
        let c_default = Duration::from_millis(IPVSRS_DEFAULT_REPLY_TIMEOUT_MS.into());
        assert_eq!(c_default, Handle::DEFAULT_REPLY_TIMEOUT);
    }
}
