//! The diff: the changes that turn the kernel's table into a desired one, computed in
//! O(n) with hash maps, minimal (settings change in place, so live connections survive)
//! and in a fixed order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Change, DesiredDest, DesiredTable, DestState, KernelTable, ScopeRule};
use crate::model::{Daemon, DestEntry, DestKey, Destination, Service, ServiceKey, Timeouts};

/// How a diff treats what the model does not say.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// The kernel services the model owns; others are left alone. Empty: all of them (a
    /// service missing from the model is deleted), as ipvsctl does.
    pub scope: Vec<ScopeRule>,
    /// Keep the weights of existing active destinations (a health checker owns them);
    /// one in maintenance or draining still gets weight 0.
    pub keep_weights: bool,
}

impl DiffOptions {
    fn owns(&self, key: &ServiceKey) -> bool {
        self.scope.is_empty() || self.scope.iter().any(|r| r.covers(key))
    }
}

/// The destination as the kernel should hold it: weight 0 unless active; tunnel settings
/// only matter for tunnel forwarding.
fn effective(dest: &Destination, state: DestState) -> Destination {
    let weight = if state == DestState::Active {
        dest.weight
    } else {
        0
    };
    Destination {
        weight,
        ..dest.normalised()
    }
}

/// Whether a running daemon is the one the model asks for; a setting the model leaves
/// unset (0) takes the kernel's default, so any value matches it.
fn daemon_matches(want: &Daemon, have: &Daemon) -> bool {
    let unset_or_equal = |w: u64, h: u64| w == 0 || w == h;
    want.role == have.role
        && want.ifname == have.ifname
        && want.sync_id == have.sync_id
        && unset_or_equal(want.sync_maxlen.into(), have.sync_maxlen.into())
        && (want.mcast_group.is_none() || want.mcast_group == have.mcast_group)
        && unset_or_equal(want.mcast_port.into(), have.mcast_port.into())
        && unset_or_equal(want.mcast_ttl.into(), have.mcast_ttl.into())
}

/// The timeouts and daemon changes, after the services': a timeout the model leaves at
/// 0 is kept; a daemon with other settings is stopped and started again (the kernel
/// cannot change a running one).
fn diff_globals(desired: &DesiredTable, current: &KernelTable, changes: &mut Vec<Change>) {
    if let Some(want) = desired.timeouts {
        let pick = |w: u32, h: u32| if w == 0 { h } else { w };
        let have = current.timeouts;
        let to = Timeouts {
            tcp: pick(want.tcp, have.tcp),
            tcp_fin: pick(want.tcp_fin, have.tcp_fin),
            udp: pick(want.udp, have.udp),
        };
        if to != have {
            changes.push(Change::UpdateTimeouts { from: have, to });
        }
    }
    let Some(wanted) = &desired.daemons else {
        return;
    };
    let mut starts = Vec::new();
    for have in &current.daemons {
        match wanted.iter().find(|w| w.role == have.role) {
            Some(want) if daemon_matches(want, have) => {}
            want => {
                changes.push(Change::StopDaemon(have.clone()));
                starts.extend(want.cloned().map(Change::StartDaemon));
            }
        }
    }
    for want in wanted {
        if !current.daemons.iter().any(|h| h.role == want.role) {
            starts.push(Change::StartDaemon(want.clone()));
        }
    }
    changes.extend(starts);
}

/// The changes that turn `current` into `desired`, in a fixed order: deletions of services
/// the model owns but does not list (in the kernel's order), then for each service of the
/// model, in its order: add it with its destinations, or update it and delete, update and
/// add destinations; then the timeouts, daemon stops and daemon starts. Linear in the size
/// of both tables.
pub fn diff(desired: &DesiredTable, current: &KernelTable, options: &DiffOptions) -> Vec<Change> {
    let wanted: HashSet<ServiceKey> = desired.services.iter().map(|s| s.service.key).collect();
    let kernel: HashMap<ServiceKey, &(Service, Vec<DestEntry>)> = current
        .services
        .iter()
        .map(|entry| (entry.0.key, entry))
        .collect();
    let mut changes = Vec::new();
    for (service, dests) in &current.services {
        if options.owns(&service.key) && !wanted.contains(&service.key) {
            let dests = dests.iter().map(|d| d.dest.clone()).collect();
            changes.push(Change::DelService {
                service: Arc::new(service.clone()),
                dests,
            });
        }
    }
    for want in &desired.services {
        // The model's service, shared by its change and its destinations'.
        let service = Arc::new(want.service.clone());
        let Some((have, have_dests)) = kernel.get(&service.key).copied() else {
            changes.push(Change::AddService(service.clone()));
            for d in want.dests.iter().filter(|d| d.state != DestState::Draining) {
                changes.push(Change::AddDest {
                    service: service.clone(),
                    dest: effective(&d.dest, d.state),
                });
            }
            continue;
        };
        if !have.same_settings(&service) {
            changes.push(Change::UpdateService {
                from: Box::new(have.clone()),
                to: service.clone(),
            });
        }
        diff_dests(&service, &want.dests, have_dests, options, &mut changes);
    }
    diff_globals(desired, current, &mut changes);
    changes
}

fn diff_dests(
    service: &Arc<Service>,
    wanted: &[DesiredDest],
    have: &[DestEntry],
    options: &DiffOptions,
    changes: &mut Vec<Change>,
) {
    let wanted_by_key: HashMap<DestKey, &DesiredDest> =
        wanted.iter().map(|d| (d.dest.key(), d)).collect();
    let have_by_key: HashMap<DestKey, &DestEntry> =
        have.iter().map(|d| (d.dest.key(), d)).collect();
    for entry in have {
        let drained = |d: &&DesiredDest| {
            d.state == DestState::Draining && entry.active_conns + entry.inactive_conns == 0
        };
        match wanted_by_key.get(&entry.dest.key()) {
            None => changes.push(Change::DelDest {
                service: service.clone(),
                dest: entry.dest.clone(),
            }),
            Some(d) if drained(d) => changes.push(Change::DelDest {
                service: service.clone(),
                dest: entry.dest.clone(),
            }),
            Some(_) => {}
        }
    }
    for want in wanted {
        let Some(entry) = have_by_key.get(&want.dest.key()) else {
            if want.state != DestState::Draining {
                changes.push(Change::AddDest {
                    service: service.clone(),
                    dest: effective(&want.dest, want.state),
                });
            }
            continue;
        };
        if want.state == DestState::Draining && entry.active_conns + entry.inactive_conns == 0 {
            continue; // deleted above
        }
        let mut to = effective(&want.dest, want.state);
        // A health checker owns the weights of active servers; maintenance and draining
        // still mean weight 0.
        if options.keep_weights && want.state == DestState::Active {
            to.weight = entry.dest.weight;
        }
        if entry.dest.normalised() != to {
            changes.push(Change::UpdateDest {
                service: service.clone(),
                from: entry.dest.clone(),
                to,
            });
        }
    }
}
