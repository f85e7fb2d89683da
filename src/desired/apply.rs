//! Applying a changeset all-or-nothing: one batch to the kernel, and when a step fails,
//! the steps done are undone, newest first. An undo step that finds its object already
//! as it wants it (a destination to delete gone, a service to re-add there) counts as
//! done, so a rollback never fails over what someone else did meanwhile.

use std::collections::HashMap;

use super::{Action, Change};
use crate::client::{Error, Handle, Result};
use crate::model::{DestKey, ServiceKey};
use crate::wire::Request;

/// Changes handed to the client at once (it sends them in batches that fit its buffers).
const CHANGES_AT_ONCE: usize = 1 << 16;

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
    /// The changes a rollback could not undo: each is left made (the table then differs
    /// from before by these).
    pub rollback_failures: Vec<RollbackFailure>,
}

/// A change the rollback left made.
#[derive(Debug)]
pub struct RollbackFailure {
    /// Its index in [`ApplyReport::changes`].
    pub change: usize,
    /// Why the step undoing it failed.
    pub error: Error,
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
    // In slices, so that a million changes do not need a million requests at once.
    let mut outcomes = Vec::with_capacity(changes.len());
    for slice in changes.chunks(CHANGES_AT_ONCE) {
        let requests: Vec<Request<'_>> = slice.iter().map(request).collect();
        outcomes.extend(handle.execute(&requests));
    }
    let failed = outcomes.iter().any(|o| o.is_err());
    let rollback_failures = match failed {
        true => roll_back(handle, &changes, &outcomes),
        false => Vec::new(),
    };
    Ok(ApplyReport {
        changes,
        outcomes,
        rolled_back: failed,
        rollback_failures,
    })
}

/// For an apply beside a health checker (keep-weights): each destination update that
/// keeps the weight takes the weight the kernel has now, read just before the apply, so
/// that a weight the checker set after the table was read is not turned back, by the
/// update or by its undo. What remains is the time from this read to the write.
pub fn take_current_weights(handle: &mut Handle, changes: &mut [Change]) -> Result<()> {
    let mut services: Vec<ServiceKey> = changes.iter().filter_map(keeps_weight).collect();
    services.sort_unstable();
    services.dedup();
    if services.is_empty() {
        return Ok(());
    }
    let listed = handle.dest_settings_of(&services)?;
    let now: HashMap<(ServiceKey, DestKey), i32> = (services.iter().zip(listed))
        .flat_map(|(service, dests)| {
            dests
                .into_iter()
                .map(move |d| ((*service, d.dest.key()), d.dest.weight))
        })
        .collect();
    for change in changes.iter_mut() {
        let Change::UpdateDest { service, from, to } = change else {
            continue;
        };
        // A destination gone since is left to the update, which then fails.
        match now.get(&(service.key, to.key())) {
            Some(&weight) if from.weight == to.weight => {
                from.weight = weight;
                to.weight = weight;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The service of a destination update that leaves the weight as it is.
fn keeps_weight(change: &Change) -> Option<ServiceKey> {
    match change {
        Change::UpdateDest { service, from, to } if from.weight == to.weight => Some(service.key),
        _ => None,
    }
}

/// Undoes the changes that succeeded, newest first; the ones left made.
fn roll_back(
    handle: &mut Handle,
    changes: &[Change],
    outcomes: &[Result<()>],
) -> Vec<RollbackFailure> {
    let (of_change, undoing): (Vec<usize>, Vec<Request<'_>>) = (0..changes.len())
        .rev()
        .filter(|&index| outcomes[index].is_ok())
        .flat_map(|index| undo(&changes[index]).into_iter().map(move |r| (index, r)))
        .unzip();
    let mut failures = Vec::new();
    // An add that found its object there: settings written over it make it as before.
    let mut overwrite = Vec::new();
    for ((request, outcome), change) in undoing.iter().zip(handle.execute(&undoing)).zip(of_change)
    {
        let Err(error) = outcome else { continue };
        match (request, error.errno()) {
            (Request::DelService(_) | Request::DelDest(..) | Request::DelDaemon(_), errno)
                if errno == libc::ESRCH || errno == libc::ENOENT => {}
            (Request::NewService(service), libc::EEXIST) => overwrite.push((
                change,
                Request::SetService {
                    service,
                    flags_mask: u32::MAX,
                },
            )),
            (Request::NewDest(key, dest), libc::EEXIST) => {
                overwrite.push((change, Request::SetDest(key, dest)))
            }
            _ => failures.push(RollbackFailure { change, error }),
        }
    }
    let (of_change, overwriting): (Vec<usize>, Vec<Request<'_>>) = overwrite.into_iter().unzip();
    for (outcome, change) in handle.execute(&overwriting).into_iter().zip(of_change) {
        if let Err(error) = outcome {
            failures.push(RollbackFailure { change, error });
        }
    }
    failures
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
