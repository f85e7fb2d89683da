//! Desired state from C: `ipvs_apply_yaml` converges the kernel to a YAML model in one
//! all-or-nothing step; `ipvsrs_diff_yaml` returns the changeset without touching the
//! kernel. Both run `desired::converge`, as the `ipvsrs` CLI does. Changesets are iterated
//! item by item and freed with `ipvsrs_changeset_free`.

use std::ffi::{c_char, c_int, c_uint, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::handle::{ipvsrs_handle, on_connection};
use super::iter::Snapshot;
use super::live::{self, Live};
use super::types::{
    ipvsrs_daemon_user, ipvsrs_dest_user, ipvsrs_service_user, ipvsrs_timeout_user,
};
use super::{arg_mut, boundary, fail, or_fail, pointer, CError};
use crate::desired::{
    converge_cached, Action, ApplyReport, Change, ConvergeError, ConvergeLock, ConvergeOptions,
    Converged, DiffOptions, ModelSource, ParamSources, ScopeRule,
};

/// `model` is a file path, not YAML text.
pub const IPVSRS_MODEL_PATH: c_uint = 1 << 0;
/// Compute and return the changeset; change nothing.
pub const IPVSRS_APPLY_DRY_RUN: c_uint = 1 << 1;
/// Keep the kernel's weights of existing active destinations (a health checker owns
/// them); one in maintenance or draining still gets weight 0. An update of such a
/// destination's other settings carries the weight read again just before the write, so
/// a weight the checker set meanwhile stands (what remains is that read-to-write time).
pub const IPVSRS_APPLY_KEEP_WEIGHTS: c_uint = 1 << 2;
/// Resolve `${env.NAME}` in the model from the process's environment.
pub const IPVSRS_PARAMS_ENV: c_uint = 1 << 3;
/// Resolve `${host.IFNAME}` (the interface's first address) and `${host.IFNAME_N}` (its
/// address N, from 0) from the interfaces of the calling thread's network namespace,
/// which need not be the handle's.
pub const IPVSRS_PARAMS_NETWORK: c_uint = 1 << 4;

const KNOWN_FLAGS: c_uint = IPVSRS_MODEL_PATH
    | IPVSRS_APPLY_DRY_RUN
    | IPVSRS_APPLY_KEEP_WEIGHTS
    | IPVSRS_PARAMS_ENV
    | IPVSRS_PARAMS_NETWORK;

pub const IPVSRS_CHANGE_ADD_SERVICE: c_int = 1;
pub const IPVSRS_CHANGE_UPDATE_SERVICE: c_int = 2;
pub const IPVSRS_CHANGE_DEL_SERVICE: c_int = 3;
pub const IPVSRS_CHANGE_ADD_DEST: c_int = 4;
pub const IPVSRS_CHANGE_UPDATE_DEST: c_int = 5;
pub const IPVSRS_CHANGE_DEL_DEST: c_int = 6;
pub const IPVSRS_CHANGE_UPDATE_TIMEOUTS: c_int = 7;
pub const IPVSRS_CHANGE_START_DAEMON: c_int = 8;
pub const IPVSRS_CHANGE_STOP_DAEMON: c_int = 9;

/// `ipvsrs_change.result` of a step that was not run.
const NOT_RUN: c_int = -1;

/// Options of `ipvs_apply_yaml` and `ipvsrs_diff_yaml`; pass NULL for the defaults (all
/// flags off, every action allowed, the whole table owned, no parameter sources).
///
/// Parameters: every source of `${...}` values is off unless enabled here, as with the
/// `ipvsrs --params-*` options and in ipvsctl: `${env.NAME}` needs `IPVSRS_PARAMS_ENV`,
/// `${host.IFNAME}` needs `IPVSRS_PARAMS_NETWORK`, and `${KEY.PATH}` a file in
/// `params_files`. A parameter that no enabled source knows makes the model invalid. The
/// enabled sources are asked in this order, the first that knows a name wins: interfaces,
/// environment, files in the order listed.
#[repr(C)]
pub struct ipvsrs_apply_options {
    /// `IPVSRS_MODEL_PATH`, `IPVSRS_APPLY_*`, `IPVSRS_PARAMS_*`, or-ed; others are EINVAL.
    pub flags: c_uint,
    /// The allowed actions, e.g. "as,us,ad,ud": ipvsctl's as, us, ds, ad, ud, dd
    /// (add/update/delete service/destination), ut (update timeouts), ay, dy (add/delete a
    /// sync daemon); NULL or "*" for all. A changeset needing another is refused whole.
    pub allowed_actions: *const c_char,
    /// The services the model owns, e.g. "10.0.0.0/24:80-443,fwmark:1-100,udp://10.0.1.0/24"
    /// (a service key such as "tcp://10.0.0.1:80" owns that service); others are left
    /// alone, and a service of the model outside them makes it invalid (EINVAL, with its
    /// line and column). NULL or "" for the whole table.
    pub scope: *const c_char,
    /// YAML or JSON files of parameter values, nested keys joined with dots and list items
    /// by index (`${backends.web.0}`): a NULL-terminated array of paths, or NULL for none.
    /// Read during the call; the caller keeps them.
    pub params_files: *const *const c_char,
    /// How long `ipvs_apply_yaml` waits, in milliseconds, while another converger (any
    /// process's apply, in the same network namespace) holds the namespace's lock: 0 for
    /// the default, 10,000; `IPVSRS_WAIT_NONE` to fail at once. Other negative values are
    /// EINVAL. Unused by `ipvsrs_diff_yaml`, which takes no lock.
    pub wait_ms: c_int,
}

/// `ipvsrs_apply_options.wait_ms`: fail at once with `EBUSY` when another converger
/// holds the lock.
pub const IPVSRS_WAIT_NONE: c_int = -1;

/// One change: what it does to which object, and how it went.
#[repr(C)]
pub struct ipvsrs_change {
    /// `IPVSRS_CHANGE_*`.
    pub kind: c_int,
    /// The service (its new settings for an update); zeroed for timeouts and daemons.
    pub service: ipvsrs_service_user,
    /// The destination for destination changes (its new settings for an update); zeroed
    /// otherwise.
    pub dest: ipvsrs_dest_user,
    /// The new timeouts for `IPVSRS_CHANGE_UPDATE_TIMEOUTS`; zeroed otherwise.
    pub timeout: ipvsrs_timeout_user,
    /// The daemon started or stopped for `IPVSRS_CHANGE_START_DAEMON` and
    /// `IPVSRS_CHANGE_STOP_DAEMON`; zeroed otherwise.
    pub daemon: ipvsrs_daemon_user,
    /// One line, e.g. "update destination 10.1.0.3:80 of tcp://10.0.0.2:80 (weight 3 -> 30)".
    pub description: *const c_char,
    /// 0 if applied, an errno if this step failed, -1 if not run (a dry run, or refused).
    pub result: c_int,
}

/// A changeset: its items in order, and whether the apply was undone.
pub struct ipvsrs_changeset {
    items: Snapshot<ipvsrs_change>,
    /// Owns the strings the items' `description` point to.
    _descriptions: Vec<CString>,
    rolled_back: bool,
    /// How many changes a failed rollback left made.
    left_changed: usize,
}

impl Live for ipvsrs_changeset {
    const NAME: &'static str = "changeset";
    const MADE_BY: &'static str = "ipvs_apply_yaml or ipvsrs_diff_yaml";
}

/// A string argument, or `None` for NULL.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string that outlives `'a`.
unsafe fn c_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: NULL is checked; the rest is the caller's promise.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// [`c_bytes`] as UTF-8 text.
///
/// # Safety
/// As for [`c_bytes`].
unsafe fn c_str_opt<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, CError> {
    // SAFETY: the caller's promise.
    unsafe { c_bytes(p) }
        .map(|bytes| {
            std::str::from_utf8(bytes).map_err(|_| invalid(format!("{what} is not UTF-8")))
        })
        .transpose()
}

fn invalid(message: String) -> CError {
    CError {
        errno: libc::EINVAL,
        message,
    }
}

/// The paths of a NULL-terminated array; none for NULL.
///
/// # Safety
/// `list` must be NULL or a NULL-terminated array of NUL-terminated strings.
unsafe fn params_files(list: *const *const c_char) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if list.is_null() {
        return files;
    }
    for index in 0.. {
        // SAFETY: reading stops at the NULL that ends the array.
        let Some(path) = c_bytes(unsafe { *list.add(index) }) else {
            break;
        };
        files.push(PathBuf::from(OsStr::from_bytes(path)));
    }
    files
}

/// The model and what `opts` (NULL for the defaults) asks for.
///
/// # Safety
/// `model` must be NULL or a NUL-terminated string that outlives `'a`, and `opts` NULL
/// or a valid options struct whose strings and `params_files` array are as `model`.
unsafe fn read_request<'a>(
    model: *const c_char,
    opts: *const ipvsrs_apply_options,
) -> Result<(ModelSource<'a>, ConvergeOptions), CError> {
    // SAFETY: NULL or a valid options struct, as the caller promises.
    let opts = unsafe { opts.as_ref() };
    let flags = opts.map_or(0, |o| o.flags);
    if flags & !KNOWN_FLAGS != 0 {
        return Err(invalid(format!(
            "unknown flags {:#x} in the options (IPVSRS_MODEL_PATH, IPVSRS_APPLY_*, \
             IPVSRS_PARAMS_*)",
            flags & !KNOWN_FLAGS
        )));
    }
    let model = if flags & IPVSRS_MODEL_PATH != 0 {
        // SAFETY: the caller's promise, for this and the strings below.
        let path = unsafe { c_bytes(model) }.ok_or_else(|| CError::null("model"))?;
        ModelSource::File(Path::new(OsStr::from_bytes(path)))
    } else {
        ModelSource::Text(
            unsafe { c_str_opt(model, "model") }?.ok_or_else(|| CError::null("model"))?,
        )
    };
    let field = |f: fn(&ipvsrs_apply_options) -> *const c_char| opts.map_or(std::ptr::null(), f);
    let allowed = match unsafe { c_str_opt(field(|o| o.allowed_actions), "allowed_actions") }? {
        Some(list) => Action::parse_list(list).map_err(invalid)?,
        None => Action::ALL.to_vec(),
    };
    let scope = match unsafe { c_str_opt(field(|o| o.scope), "scope") }? {
        Some(list) => ScopeRule::parse_list(list).map_err(invalid)?,
        None => Vec::new(),
    };
    let options = ConvergeOptions {
        params: ParamSources {
            network: flags & IPVSRS_PARAMS_NETWORK != 0,
            env: flags & IPVSRS_PARAMS_ENV != 0,
            files: unsafe { params_files(opts.map_or(std::ptr::null(), |o| o.params_files)) },
            documents: Vec::new(),
        },
        diff: DiffOptions {
            scope,
            keep_weights: flags & IPVSRS_APPLY_KEEP_WEIGHTS != 0,
        },
        allowed,
        dry_run: flags & IPVSRS_APPLY_DRY_RUN != 0,
        wait: match opts.map_or(0, |o| o.wait_ms) {
            0 => ConvergeLock::DEFAULT_WAIT,
            IPVSRS_WAIT_NONE => Duration::ZERO,
            ms if ms > 0 => Duration::from_millis(ms as u64),
            ms => {
                return Err(invalid(format!(
                    "wait_ms is {ms}: 0 (the default), IPVSRS_WAIT_NONE or milliseconds"
                )))
            }
        },
    };
    Ok((model, options))
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
    let mut item = ipvsrs_change {
        kind: kind(change),
        service: Default::default(),
        dest: Default::default(),
        timeout: Default::default(),
        daemon: Default::default(),
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
    left_changed: usize,
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
        items: Snapshot::new(items),
        _descriptions: descriptions,
        rolled_back,
        left_changed,
    }
}

/// Each change of an apply with 0, or the errno of its failure.
fn applied(report: ApplyReport) -> ipvsrs_changeset {
    let codes = report.outcomes.into_iter();
    let codes = codes.map(|outcome| outcome.map_or_else(|e| e.errno(), |()| 0));
    let left_changed = report.rollback_failures.len();
    changeset(
        report.changes.into_iter().zip(codes),
        report.rolled_back,
        left_changed,
    )
}

/// Why a call failed, with the changeset of an apply that failed and was undone.
struct Failure {
    error: CError,
    changeset: Option<ipvsrs_changeset>,
}

impl From<CError> for Failure {
    fn from(error: CError) -> Failure {
        Failure {
            error,
            changeset: None,
        }
    }
}

/// Runs `desired::converge` on `h` (the libipvs connection when NULL); the changeset of
/// what was done, or planned in a dry run.
///
/// # Safety
/// `model` and `opts` as for [`read_request`].
unsafe fn run(
    h: *mut ipvsrs_handle,
    model: *const c_char,
    opts: *const ipvsrs_apply_options,
    dry_run: bool,
) -> Result<ipvsrs_changeset, Failure> {
    // SAFETY: the caller's promise.
    let (model, mut options) = unsafe { read_request(model, opts) }?;
    options.dry_run |= dry_run;
    let converged = on_connection(h, |c| {
        Ok(converge_cached(
            &mut c.handle,
            &mut c.models,
            model,
            &options,
        ))
    })
    .map_err(|unreachable| {
        // An invalid model is reported as such even when IPVS cannot be reached.
        match model.check(&options) {
            Err(e @ ConvergeError::ModelInvalid { .. }) => CError {
                errno: e.errno(),
                message: e.to_string(),
            },
            _ => unreachable,
        }
    })?;
    match converged {
        Ok(Converged::Planned(changes)) => Ok(changeset(
            changes.into_iter().map(|c| (c, NOT_RUN)),
            false,
            0,
        )),
        Ok(Converged::Applied(report)) => Ok(applied(report)),
        Err(e) => {
            let error = CError {
                errno: e.errno(),
                message: e.to_string(),
            };
            let changeset = match e {
                ConvergeError::ApplyFailed(report) | ConvergeError::RollbackIncomplete(report) => {
                    Some(applied(report))
                }
                _ => None,
            };
            Err(Failure { error, changeset })
        }
    }
}

/// Makes the kernel's table (on `h`, or the libipvs connection when `h` is NULL) match the
/// YAML `model` (text, or a file path with `IPVSRS_MODEL_PATH`), with `opts` (NULL for
/// the defaults; see `ipvsrs_apply_options` for which parameter sources are on). All or
/// nothing: if any step fails, the steps done are undone.
///
/// One converger at a time per network namespace: the call holds the namespace's lock
/// (an abstract unix socket, freed by the kernel if the holder dies) from before the
/// table is read until the apply or its rollback is done, waiting up to `opts->wait_ms`
/// for another process or thread to finish its own. Plain libipvs calls take no lock.
///
/// Returns 0 when the table matches the model. Returns -1 with errno, and
/// `ipvsrs_last_error()` saying what failed, before anything is changed: `EINVAL` when the
/// model is invalid (every error, one a line, each with its line and column; so reported
/// also when IPVS cannot be reached), when `opts`
/// is, or when the changeset needs an action `opts` does not allow; the system's errno
/// when the model or a parameter file cannot be read (`ENOENT`); `EBUSY` when another
/// converger held the lock for the whole wait (the message names its pid); the kernel's
/// when the table cannot be read. After a rollback: -1 with the failing step's errno.
/// When the rollback itself could not undo every change made: -1 with `ENOTRECOVERABLE`
/// (the table is neither as before nor as the model), each change left made named in
/// the message ("left changed: ..."), and `ipvsrs_changeset_left_changed()` counting them.
/// If `changes_out` is not NULL it receives the changeset (each item with its result), to
/// release with `ipvsrs_changeset_free`, whether or not the apply succeeded; it is set to
/// NULL when no changeset was computed.
///
/// The handle (or the libipvs connection) keeps what it read of the last model applied
/// through it: the next call reads again only the services whose text, or the values of
/// the parameters they use, changed (the result is the same as reading it all; a model
/// with an error is read whole, for the usual messages). The table is read every time.
///
/// Thread-safe. The handle (or the libipvs connection) is locked for the whole call. The
/// model is parsed on a second thread while the table is read; that thread ends before
/// the call returns, so the process may fork after it.
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
        // SAFETY: the header's contract: NULL or a valid model string and options.
        let (changeset, error) = match unsafe { run(h, model, opts, false) } {
            Ok(changeset) => (Some(changeset), None),
            Err(Failure { error, changeset }) => (changeset, Some(error)),
        };
        if let (Some(slot), Some(changeset)) = (out, changeset) {
            *slot = live::give(changeset);
        }
        match error {
            None => 0,
            Some(error) => {
                fail(error);
                -1
            }
        }
    })
}

/// The changeset that would make the table (on `h`, or the libipvs connection when NULL)
/// match `model`, computed without changing anything (each item's `result` is -1), with
/// `opts` as `ipvs_apply_yaml` takes them (the allowed actions are not checked).
/// Returns it (release with `ipvsrs_changeset_free`), or NULL with errno as
/// `ipvs_apply_yaml` sets it (`EINVAL` for an invalid model; `ipvsrs_last_error()` lists
/// the errors with line and column). Thread-safe, as `ipvs_apply_yaml`.
#[no_mangle]
pub extern "C" fn ipvsrs_diff_yaml(
    h: *mut ipvsrs_handle,
    model: *const c_char,
    opts: *const ipvsrs_apply_options,
) -> *mut ipvsrs_changeset {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: the header's contract: NULL or a valid model string and options.
        let changeset = unsafe { run(h, model, opts, true) }.map_err(|failure| failure.error);
        pointer(changeset.map(live::give))
    })
}

/// The number of items in a changeset (0, with errno, for a changeset that is NULL or not
/// live).
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_count(cs: *const ipvsrs_changeset) -> usize {
    // SAFETY: only read.
    boundary(0, || {
        or_fail(unsafe { live::get(cs) }.map(|cs| cs.items.len()), 0)
    })
}

/// 1 if the apply that produced `cs` failed and every change it made was undone, else 0:
/// also when the rollback left changes made (see `ipvsrs_changeset_left_changed`). 0, with
/// errno, for a changeset that is NULL or not live.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_rolled_back(cs: *const ipvsrs_changeset) -> c_int {
    boundary(0, || {
        // SAFETY: only read.
        let whole =
            unsafe { live::get(cs) }.map(|cs| c_int::from(cs.rolled_back && cs.left_changed == 0));
        or_fail(whole, 0)
    })
}

/// How many changes of a failed apply its rollback could not undo (0 when the apply
/// succeeded or was undone whole); `ipvs_apply_yaml` then failed with `ENOTRECOVERABLE`
/// and its message names each. 0, with errno, for a changeset that is NULL or not live.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_left_changed(cs: *const ipvsrs_changeset) -> usize {
    boundary(0, || {
        // SAFETY: only read.
        or_fail(unsafe { live::get(cs) }.map(|cs| cs.left_changed), 0)
    })
}

/// The next item, or NULL at the end (or, with errno, for a changeset that is NULL or not
/// live). Items belong to the changeset and stay valid until it is freed. Not thread-safe
/// per changeset.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_next(cs: *mut ipvsrs_changeset) -> *const ipvsrs_change {
    boundary(std::ptr::null(), || {
        // SAFETY: the C contract: one thread at a time per changeset.
        let next = unsafe { live::get_mut(cs) }.map(|cs| cs.items.next());
        or_fail(next, std::ptr::null())
    })
}

/// Frees a changeset. NULL is ignored; a changeset freed already is left alone, with
/// errno `EBADF`.
#[no_mangle]
pub extern "C" fn ipvsrs_changeset_free(cs: *mut ipvsrs_changeset) {
    boundary((), || or_fail(live::take(cs).map(drop), ()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::client::Error;
    use crate::desired::RollbackFailure;
    use crate::model::{Destination, Forward, Service, ServiceKey};

    fn kernel_error(errno: i32) -> Error {
        Error::Kernel {
            context: "a step".into(),
            errno,
            detail: None,
        }
    }

    /// A failed apply of two changes: the first made, the second refused; the rollback
    /// could undo the first or not.
    fn failed_apply(undo_failed: bool) -> *mut ipvsrs_changeset {
        let service = Arc::new(Service::new(
            ServiceKey::tcp([10, 0, 0, 1].into(), 80),
            "rr",
        ));
        let add = |last| Change::AddDest {
            service: service.clone(),
            dest: Destination::new([10, 1, 0, last].into(), 80, Forward::Masq),
        };
        let report = ApplyReport {
            changes: vec![add(1), add(2)],
            outcomes: vec![Ok(()), Err(kernel_error(libc::EINVAL))],
            rolled_back: true,
            rollback_failures: match undo_failed {
                true => vec![RollbackFailure {
                    change: 0,
                    error: kernel_error(libc::ENOENT),
                }],
                false => vec![],
            },
        };
        live::give(applied(report))
    }

    #[test]
    fn a_rollback_that_left_changes_made_is_not_reported_as_rolled_back() {
        let whole = failed_apply(false);
        assert_eq!(ipvsrs_changeset_rolled_back(whole), 1);
        assert_eq!(ipvsrs_changeset_left_changed(whole), 0);
        ipvsrs_changeset_free(whole);

        let partial = failed_apply(true);
        assert_eq!(ipvsrs_changeset_rolled_back(partial), 0);
        assert_eq!(ipvsrs_changeset_left_changed(partial), 1);
        assert_eq!(ipvsrs_changeset_count(partial), 2);
        ipvsrs_changeset_free(partial);
    }
}
