//! The model's vocabulary: each name a model may write, paired with what it means, and
//! the names of kernel values as a model writes them. Parsing, emitting and the change
//! descriptions all take their words from here.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use super::DestState;
use crate::model::{
    Daemon, DaemonRole, Family, Forward, Service, ServiceFlags, Tunnel, TunnelFlags, TunnelType,
};

pub(crate) const SCHEDULERS: &[(&str, &str)] = &[
    ("rr", "round robin"),
    ("wrr", "weighted round robin"),
    ("lc", "least connection"),
    ("wlc", "weighted least connection"),
    ("lblc", "locality-based least connection"),
    ("lblcr", "locality-based least connection with replication"),
    ("dh", "destination hashing"),
    ("sh", "source hashing"),
    ("sed", "shortest expected delay"),
    ("nq", "never queue"),
    ("fo", "weighted failover"),
    ("ovf", "weighted overflow"),
    ("mh", "maglev hashing"),
    ("twos", "weighted random twos choice"),
];

/// A service flag and the scheduler it belongs to, if any.
#[derive(Clone, Copy)]
pub(crate) struct Flag {
    pub bits: ServiceFlags,
    pub scheduler: Option<&'static str>,
}

pub(crate) const FLAGS: &[(&str, Flag)] = &[
    (
        "sh-fallback",
        Flag {
            bits: ServiceFlags::SH_FALLBACK,
            scheduler: Some("sh"),
        },
    ),
    (
        "sh-port",
        Flag {
            bits: ServiceFlags::SH_PORT,
            scheduler: Some("sh"),
        },
    ),
    (
        "mh-fallback",
        Flag {
            bits: ServiceFlags::MH_FALLBACK,
            scheduler: Some("mh"),
        },
    ),
    (
        "mh-port",
        Flag {
            bits: ServiceFlags::MH_PORT,
            scheduler: Some("mh"),
        },
    ),
    (
        "flag-1",
        Flag {
            bits: ServiceFlags::SCHED1,
            scheduler: None,
        },
    ),
    (
        "flag-2",
        Flag {
            bits: ServiceFlags::SCHED2,
            scheduler: None,
        },
    ),
    (
        "flag-3",
        Flag {
            bits: ServiceFlags::SCHED3,
            scheduler: None,
        },
    ),
    (
        "one-packet",
        Flag {
            bits: ServiceFlags::ONEPACKET,
            scheduler: None,
        },
    ),
];

pub(crate) const FORWARDS: &[(&str, Forward)] = &[
    ("nat", Forward::Masq),
    ("direct", Forward::Route),
    ("tunnel", Forward::Tunnel),
    ("local", Forward::Local),
];

pub(crate) const TUNNEL_TYPES: &[(&str, TunnelType)] = &[
    ("ipip", TunnelType::Ipip),
    ("gue", TunnelType::Gue),
    ("gre", TunnelType::Gre),
];

pub(crate) const CHECKSUMS: &[(&str, TunnelFlags)] = &[
    ("nocsum", TunnelFlags::NOCSUM),
    ("csum", TunnelFlags::CSUM),
    ("remcsum", TunnelFlags::REMCSUM),
];

pub(crate) const STATES: &[(&str, DestState)] = &[
    ("active", DestState::Active),
    ("maintenance", DestState::Maintenance),
    ("draining", DestState::Draining),
];

pub(crate) const ROLES: &[(&str, DaemonRole)] = &[
    ("master", DaemonRole::Master),
    ("backup", DaemonRole::Backup),
];

/// The only persistence engine the kernel has.
pub(crate) const ENGINES: &[(&str, &str)] = &[("sip", "SIP Call-ID")];

/// A daemon's sync id and the settings it gives, by their model names; an unset one (0,
/// no group) takes the kernel's default and is left out.
pub(crate) fn daemon_settings(d: &Daemon) -> Vec<(&'static str, String)> {
    let mut settings = vec![("syncid", d.sync_id.to_string())];
    if d.sync_maxlen != 0 {
        settings.push(("maxlen", d.sync_maxlen.to_string()));
    }
    if let Some(group) = d.mcast_group {
        settings.push(("group", group.to_string()));
    }
    if d.mcast_port != 0 {
        settings.push(("port", d.mcast_port.to_string()));
    }
    if d.mcast_ttl != 0 {
        settings.push(("ttl", d.mcast_ttl.to_string()));
    }
    settings
}

/// The model's name for `value` in one of the parser's tables.
fn name_of<T: Copy + PartialEq>(choices: &[(&'static str, T)], value: T) -> Option<&'static str> {
    choices
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(name, _)| *name)
}

/// Names of the set flags. The scheduler flag bits are shared: they are named after the
/// scheduler that uses them (`sh-port`, `mh-port`), else `flag-N`.
pub(crate) fn flag_names(service: &Service) -> Vec<&'static str> {
    FLAGS
        .iter()
        .filter(|(_, flag)| {
            let owner_fits = match flag.scheduler {
                Some(scheduler) => scheduler == service.scheduler,
                None => {
                    !matches!(service.scheduler.as_str(), "sh" | "mh")
                        || flag.bits == ServiceFlags::SCHED3
                        || flag.bits == ServiceFlags::ONEPACKET
                }
            };
            owner_fits && service.flags.contains(flag.bits)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// The persistence granularity as the model writes it: an IPv4 netmask, an IPv6 prefix.
pub(crate) fn netmask_text(service: &Service) -> String {
    match service.key.family() {
        Family::Inet => IpAddr::V4(Ipv4Addr::from(service.netmask)).to_string(),
        Family::Inet6 => service.netmask.to_string(),
    }
}

/// The model's name of a forwarding method. The kernel's bypass has none (no client sets
/// it); it reads as direct. One from a newer kernel is its number.
pub(crate) fn forward_name(forward: Forward) -> Cow<'static, str> {
    match forward {
        Forward::Bypass => "direct".into(),
        Forward::Unknown(n) => n.to_string().into(),
        known => name_of(FORWARDS, known).unwrap_or("direct").into(),
    }
}

/// `type: gue, port: 6080, checksum: csum`: a destination's tunnel as the model writes it.
pub(crate) fn tunnel_fields(tunnel: &Tunnel) -> String {
    let kind = match tunnel.kind {
        TunnelType::Unknown(n) => n.to_string().into(),
        known => Cow::from(name_of(TUNNEL_TYPES, known).unwrap_or("ipip")),
    };
    let mut fields = vec![format!("type: {kind}")];
    if tunnel.port != 0 {
        fields.push(format!("port: {}", tunnel.port));
    }
    fields.push(format!(
        "checksum: {}",
        name_of(CHECKSUMS, tunnel.flags).unwrap_or("nocsum")
    ));
    fields.join(", ")
}
