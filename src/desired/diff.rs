//! The changes that turn the kernel's table into a desired one: computed in O(n) with hash
//! maps, minimal (settings change in place, so live connections survive), in a fixed order,
//! and applied all-or-nothing: when a step fails, the steps done are undone.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use super::names::{daemon_settings, flag_names, forward_name, netmask_text, tunnel_fields};
use super::{DesiredTable, DestState};
use crate::client::{Error, Handle, Result};
use crate::model::{
    Daemon, DestEntry, DestKey, Destination, Family, Forward, Service, ServiceFlags, ServiceKey,
    Timeouts,
};
use crate::wire::Request;

/// The kernel's table: each service with its destinations, as listed, the connection
/// timeouts and the running sync daemons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelTable {
    pub services: Vec<(Service, Vec<DestEntry>)>,
    pub timeouts: Timeouts,
    pub daemons: Vec<Daemon>,
}

/// How many service dumps `KernelTable::read` takes at most.
const MAX_DUMPS: usize = 8;

impl KernelTable {
    /// Reads every service and its destinations, the timeouts and the sync daemons.
    ///
    /// The kernel resumes a service dump by a position that counts the services of every
    /// namespace, so while any namespace changes its table a dump can skip some of ours
    /// (and a diff would then try to add them again). A skip is a matter of timing, so
    /// services are dumped until a dump (the second at least) finds none not seen before.
    /// This assumes no other writer changes this namespace's table meanwhile.
    pub fn read(handle: &mut Handle) -> Result<KernelTable> {
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for dump in 1..=MAX_DUMPS {
            let before = entries.len();
            for entry in handle.services()? {
                if seen.insert(entry.service.key) {
                    entries.push(entry);
                }
            }
            if dump >= 2 && entries.len() == before {
                let mut services = Vec::with_capacity(entries.len());
                for entry in entries {
                    let dests = handle.dests(&entry.service.key)?;
                    services.push((entry.service, dests));
                }
                return Ok(KernelTable {
                    services,
                    timeouts: handle.timeouts()?,
                    daemons: handle.daemons()?,
                });
            }
        }
        Err(Error::Malformed {
            context: Request::DumpServices.to_string(),
            detail: format!("each of {MAX_DUMPS} dumps found services the others had missed"),
        })
    }
}

/// A part of the kernel's table that a model owns: an address block (optionally one
/// protocol and a port range) or a range of firewall marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeRule {
    Addresses {
        network: IpAddr,
        prefix: u8,
        ports: (u16, u16),
    },
    Fwmarks {
        family: Family,
        marks: (u32, u32),
    },
}

impl ScopeRule {
    fn covers(&self, key: &ServiceKey) -> bool {
        match (self, key) {
            (
                ScopeRule::Addresses {
                    network,
                    prefix,
                    ports,
                },
                ServiceKey::Addr { addr, port, .. },
            ) => in_network(addr, network, *prefix) && (ports.0..=ports.1).contains(port),
            (ScopeRule::Fwmarks { family, marks }, ServiceKey::Fwmark { family: f, mark }) => {
                family == f && (marks.0..=marks.1).contains(mark)
            }
            _ => false,
        }
    }
}

fn in_network(addr: &IpAddr, network: &IpAddr, prefix: u8) -> bool {
    let bits = |a: &IpAddr| match a {
        IpAddr::V4(a) => (u128::from(u32::from(*a)) << 96, 32),
        IpAddr::V6(a) => (u128::from(*a), 128),
    };
    let ((a, alen), (n, nlen)) = (bits(addr), bits(network));
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(nlen)))
    };
    alen == nlen && a & mask == n & mask
}

/// How a diff treats what the model does not say.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// The kernel services the model owns; others are left alone. Empty: all of them (a
    /// service missing from the model is deleted), as ipvsctl does.
    pub scope: Vec<ScopeRule>,
    /// Keep the weights of existing destinations (a health checker owns them).
    pub keep_weights: bool,
}

impl DiffOptions {
    fn owns(&self, key: &ServiceKey) -> bool {
        self.scope.is_empty() || self.scope.iter().any(|r| r.covers(key))
    }
}

/// One step of a changeset. Updates and deletions carry what they replace, so a failed
/// apply can put it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddService(Service),
    UpdateService {
        from: Service,
        to: Service,
    },
    DelService {
        service: Service,
        dests: Vec<Destination>,
    },
    AddDest {
        service: ServiceKey,
        dest: Destination,
    },
    UpdateDest {
        service: ServiceKey,
        from: Destination,
        to: Destination,
    },
    DelDest {
        service: ServiceKey,
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

    /// The kernel request that makes this change.
    pub fn request(&self) -> Request<'_> {
        match self {
            Change::AddService(s) => Request::NewService(s),
            Change::UpdateService { to, .. } => Request::SetService {
                service: to,
                flags_mask: u32::MAX,
            },
            Change::DelService { service, .. } => Request::DelService(&service.key),
            Change::AddDest { service, dest } => Request::NewDest(service, dest),
            Change::UpdateDest { service, to, .. } => Request::SetDest(service, to),
            Change::DelDest { service, dest } => Request::DelDest(service, dest.key()),
            Change::UpdateTimeouts { to, .. } => Request::SetTimeouts(to),
            Change::StartDaemon(d) => Request::NewDaemon(d),
            Change::StopDaemon(d) => Request::DelDaemon(d.role),
        }
    }

    /// The requests that undo this change, in order.
    fn undo(&self) -> Vec<Request<'_>> {
        match self {
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
            Change::AddDest { service, dest } => vec![Request::DelDest(service, dest.key())],
            Change::UpdateDest { service, from, .. } => vec![Request::SetDest(service, from)],
            Change::DelDest { service, dest } => vec![Request::NewDest(service, dest)],
            Change::UpdateTimeouts { from, .. } => vec![Request::SetTimeouts(from)],
            Change::StartDaemon(d) => vec![Request::DelDaemon(d.role)],
            Change::StopDaemon(d) => vec![Request::NewDaemon(d)],
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
                    "add destination {} to {service} (weight {})",
                    dest.key(),
                    dest.weight
                )
            }
            Change::UpdateDest { service, from, to } => write!(
                f,
                "update destination {} of {service} ({})",
                to.key(),
                dest_changes(from, to).join(", ")
            ),
            Change::DelDest { service, dest } => {
                write!(f, "delete destination {} from {service}", dest.key())
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
        ..normalised(dest)
    }
}

fn normalised(dest: &Destination) -> Destination {
    match dest.forward {
        Forward::Tunnel => dest.clone(),
        _ => Destination {
            tunnel: Default::default(),
            ..dest.clone()
        },
    }
}

fn same_settings(a: &Service, b: &Service) -> bool {
    a.scheduler == b.scheduler
        && a.flags.user() == b.flags.user()
        && a.timeout == b.timeout
        && a.netmask == b.netmask
        && a.pe_name == b.pe_name
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
                service: service.clone(),
                dests,
            });
        }
    }
    for want in &desired.services {
        let key = want.service.key;
        let Some((have, have_dests)) = kernel.get(&key).copied() else {
            changes.push(Change::AddService(want.service.clone()));
            for d in want.dests.iter().filter(|d| d.state != DestState::Draining) {
                changes.push(Change::AddDest {
                    service: key,
                    dest: effective(&d.dest, d.state),
                });
            }
            continue;
        };
        if !same_settings(have, &want.service) {
            changes.push(Change::UpdateService {
                from: have.clone(),
                to: want.service.clone(),
            });
        }
        diff_dests(key, &want.dests, have_dests, options, &mut changes);
    }
    diff_globals(desired, current, &mut changes);
    changes
}

fn diff_dests(
    service: ServiceKey,
    wanted: &[super::DesiredDest],
    have: &[DestEntry],
    options: &DiffOptions,
    changes: &mut Vec<Change>,
) {
    let wanted_by_key: HashMap<DestKey, &super::DesiredDest> =
        wanted.iter().map(|d| (d.dest.key(), d)).collect();
    let have_by_key: HashMap<DestKey, &DestEntry> =
        have.iter().map(|d| (d.dest.key(), d)).collect();
    for entry in have {
        let drained = |d: &&super::DesiredDest| {
            d.state == DestState::Draining && entry.active_conns + entry.inactive_conns == 0
        };
        match wanted_by_key.get(&entry.dest.key()) {
            None => changes.push(Change::DelDest {
                service,
                dest: entry.dest.clone(),
            }),
            Some(d) if drained(d) => changes.push(Change::DelDest {
                service,
                dest: entry.dest.clone(),
            }),
            Some(_) => {}
        }
    }
    for want in wanted {
        let Some(entry) = have_by_key.get(&want.dest.key()) else {
            if want.state != DestState::Draining {
                changes.push(Change::AddDest {
                    service,
                    dest: effective(&want.dest, want.state),
                });
            }
            continue;
        };
        if want.state == DestState::Draining && entry.active_conns + entry.inactive_conns == 0 {
            continue; // deleted above
        }
        let mut to = effective(&want.dest, want.state);
        if options.keep_weights {
            to.weight = entry.dest.weight;
        }
        if normalised(&entry.dest) != to {
            changes.push(Change::UpdateDest {
                service,
                from: entry.dest.clone(),
                to,
            });
        }
    }
}

/// What happened to each change of an apply.
#[derive(Debug)]
pub struct ApplyReport {
    /// Each change with its outcome, in order.
    pub results: Vec<(Change, Result<()>)>,
    /// Whether a failure made the apply undo the changes that had succeeded.
    pub rolled_back: bool,
    /// Undo steps that failed themselves (the table may then differ from before).
    pub rollback_failures: Vec<Error>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        !self.rolled_back
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
    let requests: Vec<Request<'_>> = changes.iter().map(Change::request).collect();
    let outcomes = handle.execute(&requests);
    let failed = outcomes.iter().any(|o| o.is_err());
    let mut rollback_failures = Vec::new();
    if failed {
        let undo: Vec<Request<'_>> = changes
            .iter()
            .zip(&outcomes)
            .rev()
            .filter(|(_, outcome)| outcome.is_ok())
            .flat_map(|(change, _)| change.undo())
            .collect();
        rollback_failures = handle
            .execute(&undo)
            .into_iter()
            .filter_map(|r| r.err())
            .collect();
    }
    Ok(ApplyReport {
        results: changes.into_iter().zip(outcomes).collect(),
        rolled_back: failed,
        rollback_failures,
    })
}

impl std::str::FromStr for ScopeRule {
    type Err = String;

    /// `10.0.0.0/24`, `10.0.0.0/24:80`, `[2001:db8::]/32:80-443`, `fwmark:1-100`,
    /// `fwmark6:7`. A bare address is a host; no ports means all of them.
    fn from_str(text: &str) -> std::result::Result<ScopeRule, String> {
        let range = |s: &str| -> Option<(u64, u64)> {
            match s.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => s.parse().ok().map(|v| (v, v)),
            }
        };
        let bad = || {
            format!(
                "{text:?} is not a scope (10.0.0.0/24[:PORT[-PORT]], fwmark:N[-M], fwmark6:N[-M])"
            )
        };
        for (prefix, family) in [("fwmark:", Family::Inet), ("fwmark6:", Family::Inet6)] {
            if let Some(marks) = text.strip_prefix(prefix) {
                let (a, b) = range(marks)
                    .filter(|(a, b)| a <= b && *b <= u64::from(u32::MAX))
                    .ok_or_else(bad)?;
                return Ok(ScopeRule::Fwmarks {
                    family,
                    marks: (a as u32, b as u32),
                });
            }
        }
        let (net, ports) = match text.rsplit_once(':') {
            Some((net, ports))
                if !net.ends_with(':') && (net.contains('.') || net.contains(']')) =>
            {
                (net, Some(ports))
            }
            _ => (text, None),
        };
        let ports = match ports {
            Some(p) => range(p)
                .filter(|(a, b)| a <= b && *b <= 65535)
                .ok_or_else(bad)?,
            None => (0, 65535),
        };
        let net = net.replace(['[', ']'], "");
        let (addr, prefix) = match net.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                Some(p.parse::<u8>().map_err(|_| bad())?),
            ),
            None => (net.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(ScopeRule::Addresses {
            network: addr,
            prefix,
            ports: (ports.0 as u16, ports.1 as u16),
        })
    }
}

impl Action {
    /// ipvsctl's `--allowed-actions`: a comma list of `as,us,ds,ad,ud,dd` (and `ut`, `ay`,
    /// `dy`), each also by its long name (`add-service`), or `*` for all.
    pub fn parse_list(text: &str) -> std::result::Result<Vec<Action>, String> {
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
