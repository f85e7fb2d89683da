//! Desired state from C: `ipvs_apply_yaml` converges the kernel to a YAML model in one
//! all-or-nothing step; `ipvsrs_diff_yaml` returns the changeset without touching the
//! kernel. Changesets are iterated item by item and freed with `ipvsrs_changeset_free`.

use std::ffi::{c_char, c_int, c_uint, CStr, CString};

use super::handle::{ipvsrs_handle, on_handle};
use super::libipvs::types::{ipvs_daemon_t, ipvs_dest_t, ipvs_service_t, ipvs_timeout_t};
use super::{arg_mut, boundary, fail, pointer, CError};
use crate::client::Handle;
use crate::desired::yaml::{self, Params};
use crate::desired::DesiredTable;
use crate::desired::{apply, diff, Action, Change, DiffOptions, KernelTable, ScopeRule};

/// `model` is a file path, not YAML text.
pub const IPVSRS_MODEL_PATH: c_uint = 1 << 0;
/// Compute and return the changeset; change nothing.
pub const IPVSRS_APPLY_DRY_RUN: c_uint = 1 << 1;
/// Keep the kernel's weights of existing destinations (a health checker owns them).
pub const IPVSRS_APPLY_KEEP_WEIGHTS: c_uint = 1 << 2;

pub const IPVSRS_CHANGE_ADD_SERVICE: c_int = 1;
pub const IPVSRS_CHANGE_UPDATE_SERVICE: c_int = 2;
pub const IPVSRS_CHANGE_DEL_SERVICE: c_int = 3;
pub const IPVSRS_CHANGE_ADD_DEST: c_int = 4;
pub const IPVSRS_CHANGE_UPDATE_DEST: c_int = 5;
pub const IPVSRS_CHANGE_DEL_DEST: c_int = 6;
pub const IPVSRS_CHANGE_UPDATE_TIMEOUTS: c_int = 7;
pub const IPVSRS_CHANGE_START_DAEMON: c_int = 8;
pub const IPVSRS_CHANGE_STOP_DAEMON: c_int = 9;

/// Options of `ipvs_apply_yaml` and `ipvsrs_diff_yaml`; pass NULL for the defaults
/// (all flags off, every action allowed, the whole table owned).
#[repr(C)]
pub struct ipvsrs_apply_options {
    /// `IPVSRS_MODEL_PATH`, `IPVSRS_APPLY_DRY_RUN`, `IPVSRS_APPLY_KEEP_WEIGHTS`, or-ed.
    pub flags: c_uint,
    /// The allowed actions, e.g. "as,us,ad,ud": ipvsctl's as, us, ds, ad, ud, dd
    /// (add/update/delete service/destination), ut (update timeouts), ay, dy (add/delete a
    /// sync daemon); NULL or "*" for all. A changeset needing another is refused whole.
    pub allowed_actions: *const c_char,
    /// The services the model owns, e.g. "10.0.0.0/24:80-443,fwmark:1-100,udp://10.0.1.0/24"
    /// (a service key such as "tcp://10.0.0.1:80" owns that service); others are left
    /// alone. NULL or "" for the whole table.
    pub scope: *const c_char,
}

/// One change: what it does to which object, and how it went.
#[repr(C)]
pub struct ipvsrs_change {
    /// `IPVSRS_CHANGE_*`.
    pub kind: c_int,
    /// The service (its new settings for an update); zeroed for timeouts and daemons.
    pub service: ipvs_service_t,
    /// The destination for destination changes (its new settings for an update); zeroed
    /// otherwise.
    pub dest: ipvs_dest_t,
    /// The new timeouts for `IPVSRS_CHANGE_UPDATE_TIMEOUTS`; zeroed otherwise.
    pub timeout: ipvs_timeout_t,
    /// The daemon started or stopped for `IPVSRS_CHANGE_START_DAEMON` and
    /// `IPVSRS_CHANGE_STOP_DAEMON`; zeroed otherwise.
    pub daemon: ipvs_daemon_t,
    /// One line, e.g. "update destination 10.1.0.3:80 of tcp://10.0.0.2:80 (weight 3 -> 30)".
    pub description: *const c_char,
    /// 0 if applied, an errno if this step failed, -1 if not run (a dry run, or refused).
    pub result: c_int,
}

/// A changeset: its items in order, and whether the apply was undone.
pub struct ipvsrs_changeset {
    items: Vec<ipvsrs_change>,
    /// Owns the strings `items[..].description` point to.
    _descriptions: Vec<CString>,
    next: usize,
    rolled_back: bool,
}

fn c_str_opt<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, CError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes NULL or a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(Some).map_err(|_| CError {
        errno: libc::EINVAL,
        message: format!("{what} is not UTF-8"),
    })
}

fn invalid(message: String) -> CError {
    CError {
        errno: libc::EINVAL,
        message,
    }
}

struct Request {
    model: DesiredTable,
    options: DiffOptions,
    allowed: Vec<Action>,
    dry_run: bool,
}

fn read_request(
    model: *const c_char,
    opts: *const ipvsrs_apply_options,
) -> Result<Request, CError> {
    // SAFETY: NULL or a valid options struct.
    let opts = unsafe { opts.as_ref() };
    let flags = opts.map_or(0, |o| o.flags);
    let text = c_str_opt(model, "model")?.ok_or_else(|| CError::null("model"))?;
    let text = if flags & IPVSRS_MODEL_PATH != 0 {
        std::fs::read_to_string(text).map_err(|e| CError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            message: format!("reading model {text}: {e}"),
        })?
    } else {
        text.to_owned()
    };
    let params = Params::new()
        .with_process_env()
        .with_host_interfaces()
        .map_err(|e| CError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            message: format!("reading the host's interface addresses: {e}"),
        })?;
    let model = yaml::parse(&text, &params).map_err(|e| invalid(e.to_string()))?;
    let allowed = match c_str_opt(
        opts.map_or(std::ptr::null(), |o| o.allowed_actions),
        "allowed_actions",
    )? {
        Some(list) => Action::parse_list(list).map_err(invalid)?,
        None => Action::ALL.to_vec(),
    };
    let scope = match c_str_opt(opts.map_or(std::ptr::null(), |o| o.scope), "scope")? {
        Some(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|r| r.trim().parse::<ScopeRule>())
            .collect::<Result<_, _>>()
            .map_err(invalid)?,
        _ => Vec::new(),
    };
    Ok(Request {
        model,
        options: DiffOptions {
            scope,
            keep_weights: flags & IPVSRS_APPLY_KEEP_WEIGHTS != 0,
        },
        allowed,
        dry_run: flags & IPVSRS_APPLY_DRY_RUN != 0,
    })
}

fn kind(change: &Change) -> c_int {
    match change.action() {
        Action::AddService => IPVSRS_CHANGE_ADD_SERVICE,
        Action::UpdateService => IPVSRS_CHANGE_UPDATE_SERVICE,
        Action::DelService => IPVSRS_CHANGE_DEL_SERVICE,
        Action::AddDest => IPVSRS_CHANGE_ADD_DEST,
        Action::UpdateDest => IPVSRS_CHANGE_UPDATE_DEST,
        Action::DelDest => IPVSRS_CHANGE_DEL_DEST,
        Action::UpdateTimeouts => IPVSRS_CHANGE_UPDATE_TIMEOUTS,
        Action::StartDaemon => IPVSRS_CHANGE_START_DAEMON,
        Action::StopDaemon => IPVSRS_CHANGE_STOP_DAEMON,
    }
}

/// The C form of `change`. Its service and destination come from the change itself, so a
/// destination of a new service reports that service's settings.
fn item(change: &Change, result: c_int, description: &CStr) -> ipvsrs_change {
    // SAFETY: the all-zero value of these plain C structs is a valid one.
    let mut item = ipvsrs_change {
        kind: kind(change),
        service: unsafe { std::mem::zeroed() },
        dest: unsafe { std::mem::zeroed() },
        timeout: unsafe { std::mem::zeroed() },
        daemon: unsafe { std::mem::zeroed() },
        description: description.as_ptr(),
        result,
    };
    if let Some(service) = change.service() {
        item.service = service.into();
    }
    if let Some(dest) = change.dest() {
        item.dest = dest.into();
    }
    match change {
        Change::UpdateTimeouts { to, .. } => item.timeout = to.into(),
        Change::StartDaemon(d) | Change::StopDaemon(d) => item.daemon = d.into(),
        _ => {}
    }
    item
}

/// Each change with its result code, converted one by one (each freed as it goes).
fn changeset(
    changes: impl ExactSizeIterator<Item = (Change, c_int)>,
    rolled_back: bool,
) -> ipvsrs_changeset {
    let mut items = Vec::with_capacity(changes.len());
    let mut descriptions = Vec::with_capacity(changes.len());
    for (change, result) in changes {
        // A CString's bytes stay put when the vector moves it.
        let description = CString::new(change.to_string()).unwrap_or_default();
        items.push(item(&change, result, &description));
        descriptions.push(description);
    }
    ipvsrs_changeset {
        items,
        _descriptions: descriptions,
        next: 0,
        rolled_back,
    }
}

/// Diffs (and unless a dry run, applies) on `handle`; returns the changeset and whether
/// every step succeeded.
fn run(handle: &mut Handle, req: Request) -> Result<(ipvsrs_changeset, bool), CError> {
    let current = KernelTable::read(handle)?;
    let changes = diff(&req.model, &current, &req.options);
    if req.dry_run {
        let items = changes.into_iter().map(|c| (c, -1));
        return Ok((changeset(items, false), true));
    }
    let report = apply(handle, changes, &req.allowed).map_err(|e| invalid(e.to_string()))?;
    let ok = report.succeeded();
    let items = report
        .results
        .into_iter()
        .map(|(c, r)| (c, r.map_or_else(|e| e.errno(), |()| 0)));
    Ok((changeset(items, report.rolled_back), ok))
}

/// Makes the kernel's table (on `h`, or the libipvs connection when `h` is NULL) match the
/// YAML `model` (text, or a file path with `IPVSRS_MODEL_PATH`), with `opts` (NULL for
/// the defaults). All or nothing: if any step fails, the steps done are undone.
///
/// Returns 0 when the table matches the model. Returns -1 with errno `EINVAL` when the
/// model is invalid (`ipvsrs_last_error()` lists every error, one per line, each with its
/// line and column) or needs an action `opts` does not allow, in both cases before
/// anything is changed; or with the failing step's errno after a rollback.
/// If `changes_out` is not NULL it receives the changeset (each item with its result), to
/// release with `ipvsrs_changeset_free`, whether or not the apply succeeded; it is set to
/// NULL when no changeset was computed. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvs_apply_yaml(
    h: *mut ipvsrs_handle,
    model: *const c_char,
    opts: *const ipvsrs_apply_options,
    changes_out: *mut *mut ipvsrs_changeset,
) -> c_int {
    boundary(-1, || {
        // SAFETY: NULL or a valid pointer to write the result to.
        let mut out = unsafe { arg_mut(changes_out, "changes_out") }.ok();
        if let Some(slot) = out.as_deref_mut() {
            *slot = std::ptr::null_mut();
        }
        let result =
            read_request(model, opts).and_then(|req| on_handle(h, |handle| run(handle, req)));
        match result {
            Ok((cs, ok)) => {
                let failed_errno = cs.items.iter().map(|i| i.result).find(|r| *r > 0);
                match out {
                    Some(slot) => *slot = Box::into_raw(Box::new(cs)),
                    None => drop(cs),
                }
                if ok {
                    return 0;
                }
                fail(CError {
                    errno: failed_errno.unwrap_or(libc::EIO),
                    message: "applying the model failed; every change was undone".into(),
                });
                -1
            }
            Err(e) => {
                fail(e);
                -1
            }
        }
    })
}

/// The changeset that would make the table (on `h`, or the libipvs connection when NULL)
/// match `model`, computed without changing anything (each item's `result` is -1).
/// Returns it (release with `ipvsrs_changeset_free`), or NULL with errno (`EINVAL` for an
/// invalid model; `ipvsrs_last_error()` lists the errors with line and column).
#[no_mangle]
pub extern "C" fn ipvsrs_diff_yaml(
    h: *mut ipvsrs_handle,
    model: *const c_char,
    opts: *const ipvsrs_apply_options,
) -> *mut ipvsrs_changeset {
    boundary(std::ptr::null_mut(), || {
        pointer(read_request(model, opts).and_then(|req| {
            let req = Request {
                dry_run: true,
                ..req
            };
            let (cs, _) = on_handle(h, |handle| run(handle, req))?;
            Ok(Box::into_raw(Box::new(cs)))
        }))
    })
}

/// The number of items in a changeset (0 for NULL).
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_count(cs: *const ipvsrs_changeset) -> usize {
    // SAFETY: NULL or a changeset from this library.
    boundary(0, || unsafe { cs.as_ref() }.map_or(0, |cs| cs.items.len()))
}

/// 1 if the apply that produced `cs` failed and was undone, else 0.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_rolled_back(cs: *const ipvsrs_changeset) -> c_int {
    // SAFETY: NULL or a changeset from this library.
    boundary(0, || {
        unsafe { cs.as_ref() }.map_or(0, |cs| c_int::from(cs.rolled_back))
    })
}

/// The next item, or NULL at the end. Items belong to the changeset and stay valid until it
/// is freed. Not thread-safe per changeset.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_next(cs: *mut ipvsrs_changeset) -> *const ipvsrs_change {
    boundary(std::ptr::null(), || {
        // SAFETY: NULL or a changeset from this library.
        let Some(cs) = (unsafe { cs.as_mut() }) else {
            return std::ptr::null();
        };
        let item = cs
            .items
            .get(cs.next)
            .map_or(std::ptr::null(), |i| i as *const ipvsrs_change);
        cs.next += usize::from(!item.is_null());
        item
    })
}

/// Frees a changeset. NULL is ignored.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_free(cs: *mut ipvsrs_changeset) {
    boundary((), || {
        if !cs.is_null() {
            // SAFETY: a changeset from this library, freed once.
            drop(unsafe { Box::from_raw(cs) });
        }
    })
}
