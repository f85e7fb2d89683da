//! Applying a changeset all-or-nothing: one batch to the kernel, and when a step fails,
//! the steps done are undone, newest first.

use super::{Action, Change};
use crate::client::{Error, Handle, Result};
use crate::wire::Request;

/// What happened to each change of an apply.
#[derive(Debug)]
pub struct ApplyReport {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// Each change's outcome, in the same order. (Two vectors, not one of pairs: a large
    /// changeset is not copied into a third.)
    pub outcomes: Vec<Result<()>>,
    /// Whether a failure made the apply undo the changes that had succeeded.
    pub rolled_back: bool,
    /// Undo steps that failed themselves (the table may then differ from before).
    pub rollback_failures: Vec<Error>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        !self.rolled_back
    }

    /// Each change with its outcome, in order.
    pub fn results(&self) -> impl ExactSizeIterator<Item = (&Change, &Result<()>)> {
        self.changes.iter().zip(&self.outcomes)
    }
}

/// Why an apply did nothing at all.
#[derive(Debug, thiserror::Error)]
pub enum ApplyRefused {
    #[error("the changeset needs actions that are not allowed: {}", .0.join("; "))]
    NotAllowed(Vec<String>),
}

/// Runs `changes` in one batch. If any fails, undoes the ones that succeeded, newest
/// first, so the table is as before (counters aside). Changes whose action is not in
/// `allowed` refuse the whole changeset before anything is sent.
pub fn apply(
    handle: &mut Handle,
    changes: Vec<Change>,
    allowed: &[Action],
) -> std::result::Result<ApplyReport, ApplyRefused> {
    let refused: Vec<String> = changes
        .iter()
        .filter(|c| !allowed.contains(&c.action()))
        .map(|c| format!("{c} ({})", c.action().code()))
        .collect();
    if !refused.is_empty() {
        return Err(ApplyRefused::NotAllowed(refused));
    }
    let requests: Vec<Request<'_>> = changes.iter().map(request).collect();
    let outcomes = handle.execute(&requests);
    let failed = outcomes.iter().any(|o| o.is_err());
    let mut rollback_failures = Vec::new();
    if failed {
        let undoing: Vec<Request<'_>> = changes
            .iter()
            .zip(&outcomes)
            .rev()
            .filter(|(_, outcome)| outcome.is_ok())
            .flat_map(|(change, _)| undo(change))
            .collect();
        rollback_failures = handle
            .execute(&undoing)
            .into_iter()
            .filter_map(|r| r.err())
            .collect();
    }
    Ok(ApplyReport {
        changes,
        outcomes,
        rolled_back: failed,
        rollback_failures,
    })
}

/// The kernel request that makes `change`.
fn request(change: &Change) -> Request<'_> {
    match change {
        Change::AddService(s) => Request::NewService(s),
        Change::UpdateService { to, .. } => Request::SetService {
            service: to,
            flags_mask: u32::MAX,
        },
        Change::DelService { service, .. } => Request::DelService(&service.key),
        Change::AddDest { service, dest } => Request::NewDest(&service.key, dest),
        Change::UpdateDest { service, to, .. } => Request::SetDest(&service.key, to),
        Change::DelDest { service, dest } => Request::DelDest(&service.key, dest.key()),
        Change::UpdateTimeouts { to, .. } => Request::SetTimeouts(to),
        Change::StartDaemon(d) => Request::NewDaemon(d),
        Change::StopDaemon(d) => Request::DelDaemon(d.role),
    }
}

/// The requests that undo `change`, in order.
fn undo(change: &Change) -> Vec<Request<'_>> {
    match change {
        Change::AddService(s) => vec![Request::DelService(&s.key)],
        Change::UpdateService { from, .. } => {
            vec![Request::SetService {
                service: from,
                flags_mask: u32::MAX,
            }]
        }
        // The kernel lists destinations newest first: re-add them oldest first.
        Change::DelService { service, dests } => std::iter::once(Request::NewService(service))
            .chain(
                dests
                    .iter()
                    .rev()
                    .map(|d| Request::NewDest(&service.key, d)),
            )
            .collect(),
        Change::AddDest { service, dest } => vec![Request::DelDest(&service.key, dest.key())],
        Change::UpdateDest { service, from, .. } => vec![Request::SetDest(&service.key, from)],
        Change::DelDest { service, dest } => vec![Request::NewDest(&service.key, dest)],
        Change::UpdateTimeouts { from, .. } => vec![Request::SetTimeouts(from)],
        Change::StartDaemon(d) => vec![Request::DelDaemon(d.role)],
        Change::StopDaemon(d) => vec![Request::NewDaemon(d)],
    }
}
