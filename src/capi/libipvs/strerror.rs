//! `ipvs_strerror`: libipvs 1.31's messages, chosen by errno and by the libipvs function
//! that last recorded itself. The record is per thread here (libipvs has one global).

use std::cell::Cell;
use std::ffi::{c_char, c_int, CStr};

/// The libipvs functions that record themselves for `ipvs_strerror`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    None,
    Init,
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    SetTimeout,
    StartDaemon,
    StopDaemon,
    GetServices,
    GetDests,
    GetService,
    GetTimeout,
    GetDaemon,
}

thread_local! {
    static LAST_FUNC: Cell<Func> = const { Cell::new(Func::None) };
}

/// Records `f` as the context of the next `ipvs_strerror`, as libipvs's `ipvs_func = ...`.
pub fn record(f: Func) {
    LAST_FUNC.with(|c| c.set(f));
}

/// libipvs 1.31's table: (context or `None` for any, errno, message); first match wins.
const TABLE: &[(Option<Func>, c_int, &CStr)] = &[
    (
        Some(Func::AddService),
        libc::EEXIST,
        c"Service already exists",
    ),
    (
        Some(Func::AddService),
        libc::ENOENT,
        c"Scheduler or persistence engine not found",
    ),
    (Some(Func::UpdateService), libc::ESRCH, c"No such service"),
    (
        Some(Func::UpdateService),
        libc::ENOENT,
        c"Scheduler or persistence engine not found",
    ),
    (Some(Func::DelService), libc::ESRCH, c"No such service"),
    (Some(Func::ZeroService), libc::ESRCH, c"No such service"),
    (Some(Func::AddDest), libc::ESRCH, c"Service not defined"),
    (
        Some(Func::AddDest),
        libc::EEXIST,
        c"Destination already exists",
    ),
    (Some(Func::UpdateDest), libc::ESRCH, c"Service not defined"),
    (Some(Func::UpdateDest), libc::ENOENT, c"No such destination"),
    (Some(Func::DelDest), libc::ESRCH, c"Service not defined"),
    (Some(Func::DelDest), libc::ENOENT, c"No such destination"),
    (
        Some(Func::StartDaemon),
        libc::EEXIST,
        c"Daemon has already run",
    ),
    (Some(Func::StopDaemon), libc::ESRCH, c"No daemon is running"),
    (Some(Func::GetServices), libc::ESRCH, c"No such service"),
    (Some(Func::GetDests), libc::ESRCH, c"No such service"),
    (Some(Func::GetService), libc::ESRCH, c"No such service"),
    (None, libc::EPERM, c"Permission denied (you must be root)"),
    (
        None,
        libc::EINVAL,
        c"Invalid operation.  Possibly wrong module version, address not unicast, ...",
    ),
    (None, libc::ENOPROTOOPT, c"Protocol not available"),
    (None, libc::ENOMEM, c"Memory allocation problem"),
    (None, libc::EOPNOTSUPP, c"Operation not supported with IPv6"),
    (
        None,
        libc::EAFNOSUPPORT,
        c"Operation not supported with specified address family",
    ),
    (None, libc::EMSGSIZE, c"Module is wrong version"),
];

/// The message for `err` in the calling thread's current context, else `strerror(err)`.
pub fn message(err: c_int) -> *const c_char {
    let context = LAST_FUNC.with(|c| c.get());
    TABLE
        .iter()
        .find(|(func, errno, _)| *errno == err && func.is_none_or(|f| f == context))
        .map_or_else(
            // SAFETY: strerror returns a valid NUL-terminated string (libipvs does the same).
            || unsafe { libc::strerror(err) } as *const c_char,
            |(_, _, text)| text.as_ptr(),
        )
}
