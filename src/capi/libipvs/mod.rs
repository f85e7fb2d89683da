//! The libipvs 1.31 API (`libipvs.h`): the same 25 functions, `ipvs_info`, types and
//! errno conventions, over one process-wide default handle. Deviations from libipvs are
//! listed in the README ("Differences from libipvs 1.31").

mod compare;
pub(crate) mod default_handle;
pub mod strerror;

use std::ffi::{c_char, c_int, c_uint};

use super::handle::DestOp;
use super::types::*;
use super::{arg, boundary, entries_of, malloc_block, pointer, status, CError, MallocBlock};
use crate::client::Handle;
use strerror::{record, Func};

pub use compare::{ipvs_cmp_dests, ipvs_cmp_services};

/// The IPVS version code and connection table size, filled by `ipvs_init()` and
/// `ipvs_getinfo()` (`num_services` stays 0, as with libipvs over netlink).
///
/// Written by one call at a time (the one the libipvs connection is lent to); reading it
/// while another thread calls `ipvs_init` or `ipvs_getinfo` is a data race, as in libipvs.
#[no_mangle]
pub static mut ipvs_info: ipvsrs_getinfo = ipvsrs_getinfo {
    version: 0,
    size: 0,
    num_services: 0,
};

fn store_info(info: crate::model::Info) {
    // SAFETY: written only by the call the default connection is lent to (see callers).
    unsafe {
        let p = std::ptr::addr_of_mut!(ipvs_info);
        (*p).version = info.version;
        (*p).size = info.conn_tab_size;
    }
}

/// Runs `f` on the default handle and converts the outcome to 0/-1 with errno.
fn on_default(f: impl FnOnce(&mut Handle) -> Result<(), CError>) -> c_int {
    status(default_handle::with_default(f))
}

/// Opens (or reopens) the connection to IPVS in the caller's network namespace and fills
/// `ipvs_info`. Returns 0, or -1 with errno: `ENOPROTOOPT` when the kernel has no IPVS,
/// `EPERM` without CAP_NET_ADMIN. Calling it first is optional here: every other function
/// opens the connection on first use. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_init() -> c_int {
    boundary(-1, || {
        record(Func::Init);
        status(default_handle::reopen(store_info))
    })
}

/// Refreshes `ipvs_info` from the kernel. Returns 0, or -1 with errno. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_getinfo() -> c_int {
    boundary(-1, || {
        on_default(|h| {
            store_info(h.info()?);
            Ok(())
        })
    })
}

/// The IPVS version code from the last `ipvs_init()`/`ipvs_getinfo()` (no I/O).
#[no_mangle]
pub extern "C" fn ipvs_version() -> c_uint {
    // SAFETY: a plain read of a u32, as libipvs does.
    boundary(0, || unsafe { (*std::ptr::addr_of!(ipvs_info)).version })
}

/// Deletes every virtual service (and its destinations). Returns 0, or -1 with errno.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_flush() -> c_int {
    boundary(-1, || on_default(|h| Ok(h.flush()?)))
}

/// Adds the virtual service `svc` (read only). Returns 0, or -1 with errno: `EEXIST` if it
/// exists, `ENOENT` for an unknown scheduler or persistence engine, `EINVAL` for `NULL`
/// or bad values. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_add_service(svc: *mut ipvsrs_service_user) -> c_int {
    boundary(-1, || {
        record(Func::AddService);
        // SAFETY: the caller passes NULL or a valid service.
        on_default(|h| Ok(h.add_service(&unsafe { arg(svc, "svc") }?.to_model()?)?))
    })
}

/// Replaces all settings of the service `svc` identifies (read only). Returns 0, or -1
/// with errno: `ESRCH` if there is no such service. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_update_service(svc: *mut ipvsrs_service_user) -> c_int {
    boundary(-1, || {
        record(Func::UpdateService);
        // SAFETY: the caller passes NULL or a valid service.
        on_default(|h| Ok(h.update_service(&unsafe { arg(svc, "svc") }?.to_model()?)?))
    })
}

/// Deletes the service `svc` identifies, with its destinations. Returns 0, or -1 with
/// errno: `ESRCH` if there is no such service. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_del_service(svc: *mut ipvsrs_service_user) -> c_int {
    boundary(-1, || {
        record(Func::DelService);
        // SAFETY: the caller passes NULL or a valid service.
        on_default(|h| Ok(h.del_service(&unsafe { arg(svc, "svc") }?.key()?)?))
    })
}

/// Zeroes the counters of the service `svc` identifies, or of all services when `svc` is
/// NULL or has no fwmark, address and port. Returns 0, or -1 with errno (`ESRCH`).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_zero_service(svc: *mut ipvsrs_service_user) -> c_int {
    boundary(-1, || {
        record(Func::ZeroService);
        on_default(|h| {
            // SAFETY: the caller passes NULL or a valid service.
            let key = match unsafe { svc.as_ref() } {
                // libipvs zeroes everything when the identity is all zero.
                Some(s) if s.fwmark != 0 || s.port != 0 || unsafe { s.addr.all } != [0; 4] => {
                    Some(s.key()?)
                }
                _ => None,
            };
            Ok(h.zero(key.as_ref())?)
        })
    })
}

/// Adds destination `dest` to service `svc` (both read only). Returns 0, or -1 with errno:
/// `ESRCH` no such service, `EEXIST` the destination exists, `ERANGE` bad weight or
/// thresholds, `EINVAL` bad address. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_add_dest(
    svc: *mut ipvsrs_service_user,
    dest: *mut ipvsrs_dest_user,
) -> c_int {
    boundary(-1, || {
        record(Func::AddDest);
        on_default(|h| DestOp::Add.run(h, svc, dest))
    })
}

/// Replaces the settings of destination `dest` of service `svc`. Returns 0, or -1 with
/// errno: `ESRCH` no such service, `ENOENT` no such destination. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_update_dest(
    svc: *mut ipvsrs_service_user,
    dest: *mut ipvsrs_dest_user,
) -> c_int {
    boundary(-1, || {
        record(Func::UpdateDest);
        on_default(|h| DestOp::Update.run(h, svc, dest))
    })
}

/// Deletes destination `dest` (its address and port) from service `svc`. Returns 0, or -1
/// with errno: `ESRCH` no such service, `ENOENT` no such destination. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_del_dest(
    svc: *mut ipvsrs_service_user,
    dest: *mut ipvsrs_dest_user,
) -> c_int {
    boundary(-1, || {
        record(Func::DelDest);
        on_default(|h| DestOp::Del.run(h, svc, dest))
    })
}

/// Sets the TCP, TCP FIN and UDP timeouts (seconds; 0 keeps a value). Returns 0, or -1
/// with errno. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_set_timeout(to: *mut ipvsrs_timeout_user) -> c_int {
    boundary(-1, || {
        record(Func::SetTimeout);
        // SAFETY: the caller passes NULL or a valid timeout struct.
        on_default(|h| Ok(h.set_timeouts(&unsafe { arg(to, "to") }?.to_model()?)?))
    })
}

/// Starts the sync daemon described by `dm` (read only). Returns 0, or -1 with errno:
/// `EEXIST` already running, `ENODEV` unknown interface. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_start_daemon(dm: *mut ipvsrs_daemon_user) -> c_int {
    boundary(-1, || {
        record(Func::StartDaemon);
        // SAFETY: the caller passes NULL or a valid daemon struct.
        on_default(|h| Ok(h.start_daemon(&unsafe { arg(dm, "dm") }?.to_model()?)?))
    })
}

/// Stops the sync daemon whose `state` (master or backup) `dm` names. Returns 0, or -1
/// with errno: `ESRCH` if none runs. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_stop_daemon(dm: *mut ipvsrs_daemon_user) -> c_int {
    boundary(-1, || {
        record(Func::StopDaemon);
        // SAFETY: the caller passes NULL or a valid daemon struct.
        on_default(|h| Ok(h.stop_daemon(unsafe { arg(dm, "dm") }?.role()?)?))
    })
}

/// All virtual services, in one `malloc` block that the caller releases with `free()`;
/// both `stats` and `stats64` are filled. NULL with errno on failure. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_get_services() -> *mut ipvsrs_get_services {
    boundary(std::ptr::null_mut(), || {
        pointer(default_handle::with_default(|h| {
            let services: MallocBlock<ipvsrs_get_services, ipvsrs_service_entry> =
                h.services_into()?;
            let header = ipvsrs_get_services {
                num_services: services.len() as c_uint,
                entrytable: [],
            };
            services.finish(header)
        }))
    })
}

/// The destinations of the service `svc` (read only; its `num_dests` is ignored), in one
/// `malloc` block that the caller releases with `free()`. An unknown service gives an
/// empty list, as the kernel reports it. NULL with errno on failure. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_get_dests(svc: *mut ipvsrs_service_entry) -> *mut ipvsrs_get_dests {
    boundary(std::ptr::null_mut(), || {
        record(Func::GetDests);
        pointer(default_handle::with_default(|h| {
            // SAFETY: the caller passes NULL or a valid service entry.
            let key = unsafe { arg(svc, "svc") }?.key()?;
            let dests = h.dests(&key)?;
            let header = ipvsrs_get_dests::header_for(&key, dests.len());
            malloc_block(header, dests.iter().map(ipvsrs_dest_entry::from))
        }))
    })
}

/// One service, in a `malloc` block the caller releases with `free()`. `addr` is passed
/// by value, as in libipvs. NULL with errno on failure (`ESRCH`: no such service).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_get_service(
    fwmark: u32,
    af: u16,
    protocol: u16,
    addr: ipvsrs_inet_addr,
    port: u16,
) -> *mut ipvsrs_service_entry {
    boundary(std::ptr::null_mut(), || {
        record(Func::GetService);
        pointer(default_handle::with_default(|h| {
            let key = service_key(af, fwmark, protocol, &addr, port)?;
            let entry = ipvsrs_service_entry::from(&h.service(&key)?);
            malloc_block(entry, std::iter::empty::<u8>())
        }))
    })
}

/// The current timeouts, in a `malloc` block the caller releases with `free()`. NULL with
/// errno on failure. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_get_timeout() -> *mut ipvsrs_timeout_user {
    boundary(std::ptr::null_mut(), || {
        record(Func::GetTimeout);
        pointer(default_handle::with_default(|h| {
            malloc_block(
                ipvsrs_timeout_user::from(&h.timeouts()?),
                std::iter::empty::<u8>(),
            )
        }))
    })
}

/// The running sync daemons as an array of exactly two `ipvsrs_daemon_user` in one `malloc`
/// block (caller `free()`s it): the first one reported in `[0]`, the second in `[1]`;
/// an unused slot has `state` 0. NULL with errno on failure. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_get_daemon() -> *mut ipvsrs_daemon_user {
    boundary(std::ptr::null_mut(), || {
        record(Func::GetDaemon);
        pointer(default_handle::with_default(|h| {
            let mut pair = [ipvsrs_daemon_user::default(); 2];
            for (slot, d) in pair.iter_mut().zip(&h.daemons()?) {
                *slot = ipvsrs_daemon_user::from(d);
            }
            Ok(malloc_block(pair, std::iter::empty::<u8>())? as *mut ipvsrs_daemon_user)
        }))
    })
}

/// Closes the connection to IPVS; the next call opens a new one. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_close() {
    boundary((), default_handle::close)
}

/// A message for `err`: libipvs's text for the last libipvs function this thread called
/// (e.g. "No such service"), else `strerror(err)`. The string is static; do not free it.
#[no_mangle]
pub extern "C" fn ipvs_strerror(err: c_int) -> *const c_char {
    boundary(c"Unknown error".as_ptr(), || strerror::message(err))
}

/// Sorts the first `num_services` entries of `s` with `f` (`ipvs_cmp_services` when `f` is
/// NULL); NULL `s` is a no-op. As in libipvs 1.31, `s` may be any array the caller built
/// (on the stack, from its own allocator) holding at least that many entries; nothing
/// past them is read.
#[no_mangle]
pub extern "C" fn ipvs_sort_services(s: *mut ipvsrs_get_services, f: ipvsrs_service_cmp) {
    boundary((), || {
        // SAFETY: NULL or a header with num_services entries after it (the caller's word).
        unsafe { sort_block(s, |s| (*s).num_services, f.unwrap_or(ipvs_cmp_services)) }
    })
}

/// Sorts the first `num_dests` entries of `d` with `f` (`ipvs_cmp_dests` when `f` is
/// NULL); NULL `d` is a no-op. As in libipvs 1.31, `d` may be any array the caller built
/// holding at least that many entries; nothing past them is read.
#[no_mangle]
pub extern "C" fn ipvs_sort_dests(d: *mut ipvsrs_get_dests, f: ipvsrs_dest_cmp) {
    boundary((), || {
        // SAFETY: NULL or a header with num_dests entries after it (the caller's word).
        unsafe { sort_block(d, |d| (*d).num_dests, f.unwrap_or(ipvs_cmp_dests)) }
    })
}

/// Sorts the `count` entries that follow the header `H` at `block`.
///
/// # Safety
/// `block` is NULL or points to a header `H` followed by at least `count` entries `E`.
unsafe fn sort_block<H, E>(
    block: *mut H,
    count: impl FnOnce(*mut H) -> c_uint,
    cmp: unsafe extern "C" fn(*mut E, *mut E) -> c_int,
) {
    if block.is_null() {
        return;
    }
    // SAFETY: the header and its `count` entries, by the caller's guarantee.
    unsafe { compare::sort(entries_of::<H, E>(block), count(block) as usize, cmp) }
}
