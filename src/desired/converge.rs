//! The whole pipeline, one for every front end (the `ipvsrs` CLI, `ipvs_apply_yaml` and
//! `ipvsrs_diff_yaml` in C, and so the Python module): read the model, resolve its
//! parameters from the sources the caller enabled, parse it while the kernel's table is
//! read, diff, and apply all or nothing.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::yaml::{self, ModelCache, ModelErrors, ParamFileError, Params};
use super::{
    apply, diff, take_current_weights, Action, ApplyRefused, ApplyReport, Change, ConvergeLock,
    DesiredTable, DiffOptions, KernelTable, LockError, ScopeRule,
};
use crate::client::{Error, Handle};
use crate::workers;

/// Where the model comes from.
#[derive(Clone, Copy, Debug)]
pub enum ModelSource<'a> {
    /// YAML text.
    Text(&'a str),
    /// A YAML file.
    File(&'a Path),
    /// Standard input, read to its end.
    Stdin,
}

impl ModelSource<'_> {
    /// How errors name the model: its path, `<stdin>`, or `model` for text.
    pub fn origin(&self) -> String {
        match self {
            ModelSource::Text(_) => "model".to_owned(),
            ModelSource::File(path) => path.display().to_string(),
            ModelSource::Stdin => "<stdin>".to_owned(),
        }
    }

    /// The model's text, read up to the parser's size limit (a larger one is refused
    /// before it fills the memory: a regular file by its size, before it is read).
    fn text(&self) -> Result<Cow<'_, str>, ConvergeError> {
        let unreadable = |source| ConvergeError::ModelUnreadable {
            origin: self.origin(),
            source,
        };
        let limit = yaml::Limits::default().max_bytes;
        let bytes = match self {
            ModelSource::Text(text) => return Ok(Cow::Borrowed(text)),
            ModelSource::File(path) => yaml::read_file_at_most(path, limit, "a model"),
            ModelSource::Stdin => yaml::read_at_most(io::stdin().lock(), limit, "a model"),
        }
        .map_err(unreadable)?;
        String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|e| unreadable(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// Reads and validates the model, resolving its parameters from `params` (as
    /// `ipvsrs validate` does).
    pub fn load(&self, params: &Params) -> Result<DesiredTable, ConvergeError> {
        self.load_in_scope(params, &[])
    }

    /// Reads the model as [`converge`] would with `options`, for a caller that cannot
    /// reach the kernel: an invalid model is still reported as such, every error with its
    /// place, before the kernel's failure.
    pub fn check(&self, options: &ConvergeOptions) -> Result<(), ConvergeError> {
        let params = options.params.resolve()?;
        self.load_in_scope(&params, &options.diff.scope).map(drop)
    }

    fn load_in_scope(
        &self,
        params: &Params,
        scope: &[ScopeRule],
    ) -> Result<DesiredTable, ConvergeError> {
        yaml::parse_in_scope(&self.text()?, params, scope).map_err(|errors| {
            ConvergeError::ModelInvalid {
                origin: self.origin(),
                errors,
            }
        })
    }
}

/// The sources that `${...}` in a model's addresses are resolved from.
///
/// The rule, the same from Rust, C (`ipvsrs_apply_options`), Python and the shell
/// (`ipvsrs --params-*`): **every source is off unless the caller enables it**, as in
/// ipvsctl, so `${env.HOME}` in a model is an error unless the environment is enabled.
/// The enabled ones are asked in this order, and the first that knows a name wins:
/// interfaces (`${host.eth0}`, `${host.eth0_1}`), the environment (`${env.NAME}`), then
/// files and documents in the order given (`${ports.web}`).
#[derive(Clone, Debug, Default)]
pub struct ParamSources {
    /// `${host.IFNAME}` and `${host.IFNAME_N}`: the addresses of the interfaces of the
    /// calling thread's network namespace (which may not be the handle's).
    pub network: bool,
    /// `${env.NAME}`: this process's environment.
    pub env: bool,
    /// YAML or JSON files whose keys, flattened with dots, name values.
    pub files: Vec<PathBuf>,
    /// The same from documents the caller fetched (`--params-url`): the text and what
    /// names it in errors. Asked after the files.
    pub documents: Vec<(String, String)>,
}

impl ParamSources {
    /// Reads the enabled sources, in the calling thread (so that `${host.}` names its
    /// namespace's interfaces).
    pub fn resolve(&self) -> Result<Params, ConvergeError> {
        let mut params = Params::new();
        if self.network {
            params = params
                .with_host_interfaces()
                .map_err(ConvergeError::Interfaces)?;
        }
        if self.env {
            params = params.with_process_env();
        }
        for file in &self.files {
            params = params.with_values_file(file)?;
        }
        for (text, origin) in &self.documents {
            params = params.with_values_text(text, origin)?;
        }
        Ok(params)
    }
}

/// How [`converge`] goes about it.
#[derive(Clone, Debug)]
pub struct ConvergeOptions {
    pub params: ParamSources,
    pub diff: DiffOptions,
    /// The actions a changeset may need; one that needs another is refused whole.
    pub allowed: Vec<Action>,
    /// Compute the changes, make none (the allowed actions are not checked).
    pub dry_run: bool,
    /// How long an apply waits for another converger of the same namespace to finish
    /// (see [`ConvergeLock`]); a dry run takes no lock.
    pub wait: Duration,
}

impl Default for ConvergeOptions {
    /// No parameter sources, the whole table owned, every action allowed, not a dry run,
    /// [`ConvergeLock::DEFAULT_WAIT`] for another converger.
    fn default() -> ConvergeOptions {
        ConvergeOptions {
            params: ParamSources::default(),
            diff: DiffOptions::default(),
            allowed: Action::ALL.to_vec(),
            dry_run: false,
            wait: ConvergeLock::DEFAULT_WAIT,
        }
    }
}

/// What [`converge`] did.
#[derive(Debug)]
pub enum Converged {
    /// A dry run: the changes that would make the kernel match the model; none was made.
    Planned(Vec<Change>),
    /// Every change was made (none when the kernel matched already).
    Applied(ApplyReport),
}

impl Converged {
    /// The changes, planned or made, in order.
    pub fn into_changes(self) -> Vec<Change> {
        match self {
            Converged::Planned(changes) => changes,
            Converged::Applied(report) => report.changes,
        }
    }
}

/// Why [`converge`] stopped. Only after `ApplyFailed` had the kernel been changed, and
/// those changes were undone; after `RollbackIncomplete`, some were not.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// The model cannot be read.
    #[error("cannot read {origin}: {source}")]
    ModelUnreadable { origin: String, source: io::Error },
    /// The model is invalid: every error, one a line, each with its line and column.
    #[error("{}", each_line_from(origin, errors))]
    ModelInvalid { origin: String, errors: ModelErrors },
    /// `${host.}` was enabled and the interfaces' addresses cannot be read.
    #[error("reading the interfaces' addresses: {0}")]
    Interfaces(#[source] io::Error),
    /// A parameter file or document cannot be read or is not YAML or JSON.
    #[error(transparent)]
    Params(#[from] ParamFileError),
    /// IPVS is not available, not permitted, or the kernel's table cannot be read.
    #[error("reading the table: {0}")]
    Kernel(#[source] Error),
    /// Another converger kept the namespace's lock for the whole wait, or the lock could
    /// not be taken; nothing was changed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The changeset needs actions that are not allowed; nothing was changed.
    #[error(transparent)]
    Refused(#[from] ApplyRefused),
    /// A change failed and the ones made were undone; the report has each outcome.
    #[error("{}", apply_failure(.0))]
    ApplyFailed(ApplyReport),
    /// A change failed and the rollback could not undo every change made: the table is
    /// neither as before nor as the model. [`ApplyReport::rollback_failures`] names the
    /// changes left made.
    #[error("{}", apply_failure(.0))]
    RollbackIncomplete(ApplyReport),
}

impl ConvergeError {
    /// The error of an apply that failed: [`ConvergeError::ApplyFailed`] when the rollback
    /// undid every change made, else [`ConvergeError::RollbackIncomplete`].
    pub fn of_failed_apply(report: ApplyReport) -> ConvergeError {
        match report.rollback_failures.is_empty() {
            true => ConvergeError::ApplyFailed(report),
            false => ConvergeError::RollbackIncomplete(report),
        }
    }

    /// The errno a C caller sees: the system's for what could not be read, the kernel's
    /// for the table and for the first failed change, else `EINVAL`.
    pub fn errno(&self) -> i32 {
        match self {
            ConvergeError::ModelUnreadable { source, .. } | ConvergeError::Interfaces(source) => {
                source.raw_os_error().unwrap_or(libc::EIO)
            }
            ConvergeError::Params(e) => std::error::Error::source(e)
                .and_then(|cause| cause.downcast_ref::<io::Error>())
                .and_then(io::Error::raw_os_error)
                .unwrap_or(libc::EINVAL),
            ConvergeError::Kernel(e) | ConvergeError::Lock(LockError::Failed(e)) => e.errno(),
            ConvergeError::Lock(LockError::Busy { .. }) => libc::EBUSY,
            ConvergeError::ModelInvalid { .. } | ConvergeError::Refused(_) => libc::EINVAL,
            ConvergeError::ApplyFailed(report) => report
                .outcomes
                .iter()
                .find_map(|outcome| outcome.as_ref().err())
                .map_or(libc::EIO, Error::errno),
            ConvergeError::RollbackIncomplete(_) => libc::ENOTRECOVERABLE,
        }
    }
}

fn each_line_from(origin: &str, errors: &ModelErrors) -> String {
    let lines: Vec<String> = errors.0.iter().map(|e| format!("{origin}: {e}")).collect();
    lines.join("\n")
}

fn apply_failure(report: &ApplyReport) -> String {
    let failed = report.outcomes.iter().filter(|o| o.is_err()).count();
    let total = report.outcomes.len();
    let left = &report.rollback_failures;
    if left.is_empty() {
        return format!(
            "apply failed ({failed} of {total} changes); the changes made were rolled back"
        );
    }
    let mut text = format!(
        "apply failed ({failed} of {total} changes); the rollback left {} of the changes \
         made in place, so the table differs from before by:",
        left.len()
    );
    for failure in left {
        let change = &report.changes[failure.change];
        text.push_str(&format!(
            "\nleft changed: {change} (undoing it failed: {})",
            failure.error
        ));
    }
    text
}

/// Makes the kernel's table on `handle` match `model`: resolves the parameter sources
/// `options` enables and reads the model (in this thread), parses the model on a second
/// thread while this one takes the namespace's [`ConvergeLock`] (unless a dry run) and
/// reads the kernel's table, diffs, and unless a dry run applies all or nothing, the lock
/// held until the apply and any rollback are done. When both the model and the table (or
/// the lock) fail, the model's errors are reported.
///
/// The parser's thread is joined before the call returns, also when a panic unwinds
/// (daemons fork after a call); with no thread to spare, the model is parsed after the
/// table is read. The model and the table are freed before the changes are applied.
pub fn converge(
    handle: &mut Handle,
    model: ModelSource<'_>,
    options: &ConvergeOptions,
) -> Result<Converged, ConvergeError> {
    converge_with(handle, None, model, options)
}

/// [`converge`] for a caller that converges again and again: `cache` keeps what it read
/// of its last model, and only the services whose text or parameter values changed since
/// are read again ([`yaml::parse_cached`]); the result is the same. The table is read
/// whole every time, so a change made behind the caller's back is seen.
pub fn converge_cached(
    handle: &mut Handle,
    cache: &mut ModelCache,
    model: ModelSource<'_>,
    options: &ConvergeOptions,
) -> Result<Converged, ConvergeError> {
    converge_with(handle, Some(cache), model, options)
}

fn converge_with(
    handle: &mut Handle,
    cache: Option<&mut ModelCache>,
    model: ModelSource<'_>,
    options: &ConvergeOptions,
) -> Result<Converged, ConvergeError> {
    let params = options.params.resolve()?;
    let text = model.text()?;
    let cache = Mutex::new(cache);
    let scope = &options.diff.scope;
    let parse = |_| {
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.as_deref_mut() {
            Some(cache) => yaml::parse_cached(&text, &params, scope, cache),
            None => yaml::parse_in_scope(&text, &params, scope),
        }
    };
    let locked_read = || -> Result<_, ConvergeError> {
        let lock = match options.dry_run {
            true => None,
            false => Some(ConvergeLock::acquire(handle, options.wait)?),
        };
        let table = KernelTable::read(handle).map_err(ConvergeError::Kernel)?;
        Ok((lock, table))
    };
    let (mut parsed, current) = workers::in_parallel(1, &parse, locked_read);
    let parsed = parsed.pop().expect("one parse");
    drop((text, params));
    let desired = parsed.map_err(|errors| ConvergeError::ModelInvalid {
        origin: model.origin(),
        errors,
    })?;
    let (_lock, current) = current?;
    let mut changes = diff(&desired, &current, &options.diff);
    // The changes own what they need: free both tables before applying.
    drop((desired, current));
    if options.dry_run {
        return Ok(Converged::Planned(changes));
    }
    if options.diff.keep_weights {
        take_current_weights(handle, &mut changes).map_err(ConvergeError::Kernel)?;
    }
    let report = apply(handle, changes, &options.allowed)?;
    match report.succeeded() {
        true => Ok(Converged::Applied(report)),
        false => Err(ConvergeError::of_failed_apply(report)),
    }
}
