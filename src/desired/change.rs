//! The change vocabulary: one step of a changeset ([`Change`]), its kind ([`Action`],
//! with ipvsctl's codes and names), and its one-line description.

use std::fmt;
use std::sync::Arc;

use super::names::{daemon_settings, flag_names, forward_name, netmask_text, tunnel_fields};
use crate::model::{Daemon, Destination, Forward, Service, ServiceFlags, Timeouts};

/// One step of a changeset. Each carries the service it concerns with its settings (the
/// new ones for an update): a service's own change and its destinations' share one
/// `Arc`, so a large changeset holds each service once. Updates and deletions carry what
/// they replace, so a failed apply can put it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddService(Arc<Service>),
    UpdateService {
        from: Box<Service>,
        to: Arc<Service>,
    },
    DelService {
        service: Arc<Service>,
        dests: Vec<Destination>,
    },
    AddDest {
        service: Arc<Service>,
        dest: Destination,
    },
    UpdateDest {
        service: Arc<Service>,
        from: Destination,
        to: Destination,
    },
    DelDest {
        service: Arc<Service>,
        dest: Destination,
    },
    /// `to` holds every timeout (the model's, the kernel's where the model has none).
    UpdateTimeouts {
        from: Timeouts,
        to: Timeouts,
    },
    StartDaemon(Daemon),
    /// Carries the running daemon's settings, to start it again on a rollback.
    StopDaemon(Daemon),
}

/// The kinds of change: ipvsctl's six, named as its `--allowed-actions` names them, and
/// the global settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    AddService,
    UpdateService,
    DelService,
    AddDest,
    UpdateDest,
    DelDest,
    UpdateTimeouts,
    StartDaemon,
    StopDaemon,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::AddService,
        Action::UpdateService,
        Action::DelService,
        Action::AddDest,
        Action::UpdateDest,
        Action::DelDest,
        Action::UpdateTimeouts,
        Action::StartDaemon,
        Action::StopDaemon,
    ];

    /// The short name: ipvsctl's `as`, `us`, `ds`, `ad`, `ud`, `dd` (add, update, delete
    /// a service or destination), and `ut` (update timeouts), `ay`, `dy` (add, delete a
    /// sync daemon).
    pub fn code(self) -> &'static str {
        match self {
            Action::AddService => "as",
            Action::UpdateService => "us",
            Action::DelService => "ds",
            Action::AddDest => "ad",
            Action::UpdateDest => "ud",
            Action::DelDest => "dd",
            Action::UpdateTimeouts => "ut",
            Action::StartDaemon => "ay",
            Action::StopDaemon => "dy",
        }
    }

    /// The long name, as ipvsctl's changesets name their items' types.
    pub fn name(self) -> &'static str {
        match self {
            Action::AddService => "add-service",
            Action::UpdateService => "update-service",
            Action::DelService => "delete-service",
            Action::AddDest => "add-destination",
            Action::UpdateDest => "update-destination",
            Action::DelDest => "delete-destination",
            Action::UpdateTimeouts => "update-timeouts",
            Action::StartDaemon => "start-daemon",
            Action::StopDaemon => "stop-daemon",
        }
    }

    /// ipvsctl's `--allowed-actions`: a comma list of `as,us,ds,ad,ud,dd` (and `ut`, `ay`,
    /// `dy`), each also by its long name (`add-service`), or `*` for all.
    pub fn parse_list(text: &str) -> Result<Vec<Action>, String> {
        if text.trim() == "*" {
            return Ok(Action::ALL.to_vec());
        }
        text.split(',')
            .map(|code| {
                let code = code.trim();
                Action::ALL
                    .into_iter()
                    .find(|a| a.code() == code || a.name() == code)
                    .ok_or_else(|| {
                        format!(
                            "{code:?} is not an action (as, us, ds, ad, ud, dd, ut, ay, dy, \
                             or * for all)"
                        )
                    })
            })
            .collect()
    }
}

impl Change {
    pub fn action(&self) -> Action {
        match self {
            Change::AddService(_) => Action::AddService,
            Change::UpdateService { .. } => Action::UpdateService,
            Change::DelService { .. } => Action::DelService,
            Change::AddDest { .. } => Action::AddDest,
            Change::UpdateDest { .. } => Action::UpdateDest,
            Change::DelDest { .. } => Action::DelDest,
            Change::UpdateTimeouts { .. } => Action::UpdateTimeouts,
            Change::StartDaemon(_) => Action::StartDaemon,
            Change::StopDaemon(_) => Action::StopDaemon,
        }
    }

    /// The service the change concerns, with its settings (the new ones for an update);
    /// `None` for timeouts and daemons.
    pub fn service(&self) -> Option<&Service> {
        match self {
            Change::AddService(service)
            | Change::UpdateService { to: service, .. }
            | Change::DelService { service, .. }
            | Change::AddDest { service, .. }
            | Change::UpdateDest { service, .. }
            | Change::DelDest { service, .. } => Some(service),
            Change::UpdateTimeouts { .. } | Change::StartDaemon(_) | Change::StopDaemon(_) => None,
        }
    }

    /// The destination of a destination change (its new settings for an update).
    pub fn dest(&self) -> Option<&Destination> {
        match self {
            Change::AddDest { dest, .. }
            | Change::UpdateDest { to: dest, .. }
            | Change::DelDest { dest, .. } => Some(dest),
            _ => None,
        }
    }
}

impl fmt::Display for Change {
    /// One line: "add service tcp://10.0.0.1:80 (wrr)", "update destination ... weight 1 -> 5".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddService(s) => write!(f, "add service {} ({})", s.key, s.scheduler),
            Change::UpdateService { from, to } => {
                write!(
                    f,
                    "update service {} ({})",
                    to.key,
                    service_changes(from, to).join(", ")
                )
            }
            Change::DelService { service, dests } => match dests.len() {
                0 => write!(f, "delete service {}", service.key),
                1 => write!(f, "delete service {} and its destination", service.key),
                n => write!(f, "delete service {} and its {n} destinations", service.key),
            },
            Change::AddDest { service, dest } => {
                write!(
                    f,
                    "add destination {} to {} (weight {})",
                    dest.key(),
                    service.key,
                    dest.weight
                )
            }
            Change::UpdateDest { service, from, to } => write!(
                f,
                "update destination {} of {} ({})",
                to.key(),
                service.key,
                dest_changes(from, to).join(", ")
            ),
            Change::DelDest { service, dest } => {
                write!(f, "delete destination {} from {}", dest.key(), service.key)
            }
            Change::UpdateTimeouts { from, to } => {
                write!(
                    f,
                    "update timeouts ({})",
                    timeout_changes(from, to).join(", ")
                )
            }
            Change::StartDaemon(d) => write!(f, "start {}", daemon_text(d)),
            Change::StopDaemon(d) => write!(f, "stop {}", daemon_text(d)),
        }
    }
}

/// "name a -> b" for each setting that differs, in the model's words.
fn changed_fields<const N: usize>(fields: [(&str, String, String); N]) -> Vec<String> {
    fields
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} {a} -> {b}"))
        .collect()
}

fn service_changes(from: &Service, to: &Service) -> Vec<String> {
    let flags = |s: &Service| {
        let mut names = flag_names(s);
        if s.flags.contains(ServiceFlags::PERSISTENT) {
            names.insert(0, "persistent");
        }
        format!("[{}]", names.join(", "))
    };
    let engine = |s: &Service| s.pe_name.clone().unwrap_or_else(|| "none".into());
    changed_fields([
        ("scheduler", from.scheduler.clone(), to.scheduler.clone()),
        ("flags", flags(from), flags(to)),
        ("timeout", from.timeout.to_string(), to.timeout.to_string()),
        ("netmask", netmask_text(from), netmask_text(to)),
        ("engine", engine(from), engine(to)),
    ])
}

fn dest_changes(from: &Destination, to: &Destination) -> Vec<String> {
    let tunnel = |d: &Destination| match d.forward {
        Forward::Tunnel => format!("{{ {} }}", tunnel_fields(&d.tunnel)),
        _ => "none".into(),
    };
    changed_fields([
        (
            "forward",
            forward_name(from.forward).into(),
            forward_name(to.forward).into(),
        ),
        ("weight", from.weight.to_string(), to.weight.to_string()),
        (
            "upper threshold",
            from.upper_threshold.to_string(),
            to.upper_threshold.to_string(),
        ),
        (
            "lower threshold",
            from.lower_threshold.to_string(),
            to.lower_threshold.to_string(),
        ),
        ("tunnel", tunnel(from), tunnel(to)),
    ])
}

fn timeout_changes(from: &Timeouts, to: &Timeouts) -> Vec<String> {
    changed_fields([
        ("tcp", from.tcp.to_string(), to.tcp.to_string()),
        ("tcpfin", from.tcp_fin.to_string(), to.tcp_fin.to_string()),
        ("udp", from.udp.to_string(), to.udp.to_string()),
    ])
}

/// "master sync daemon on eth0 (syncid 1)", with the settings the daemon gives.
fn daemon_text(d: &Daemon) -> String {
    let settings: Vec<String> = daemon_settings(d)
        .into_iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    format!(
        "{} sync daemon on {} ({})",
        d.role,
        d.ifname,
        settings.join(", ")
    )
}
