//! The kernel's table written as a model: [`to_yaml`] is the inverse of [`super::parse`],
//! so applying its output to the same kernel changes nothing.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

use super::{CHECKSUMS, FLAGS, FORWARDS, TUNNEL_TYPES};
use crate::desired::diff::KernelTable;
use crate::model::{
    Daemon, DestEntry, Destination, Forward, Service, ServiceFlags, Timeouts, Tunnel,
};

/// The table as model YAML: the timeouts (unless all are 0), the running sync daemons
/// (none: no `daemons` section, so the model leaves daemons alone), then the services and
/// their destinations, sorted by address.
pub fn to_yaml(table: &KernelTable) -> String {
    let mut out = String::new();
    write_timeouts(&mut out, &table.timeouts);
    if !table.daemons.is_empty() {
        out.push_str("daemons:\n");
        table.daemons.iter().for_each(|d| write_daemon(&mut out, d));
    }
    let mut services: Vec<&(Service, Vec<DestEntry>)> = table.services.iter().collect();
    services.sort_by_key(|(service, _)| service.key);
    if services.is_empty() {
        out.push_str("services: []\n");
        return out;
    }
    out.push_str("services:\n");
    for (service, dests) in services {
        write_service(&mut out, service);
        let mut dests: Vec<&Destination> = dests.iter().map(|d| &d.dest).collect();
        dests.sort_by_key(|d| d.key());
        if !dests.is_empty() {
            out.push_str("    destinations:\n");
        }
        for dest in dests {
            write_dest(&mut out, dest);
        }
    }
    out
}

fn write_timeouts(out: &mut String, t: &Timeouts) {
    if *t != Timeouts::default() {
        let _ = writeln!(
            out,
            "timeouts: {{ tcp: {}, tcpfin: {}, udp: {} }}",
            t.tcp, t.tcp_fin, t.udp
        );
    }
}

fn write_daemon(out: &mut String, d: &Daemon) {
    let mut fields = vec![
        format!("role: {}", d.role),
        format!("interface: \"{}\"", d.ifname),
    ];
    for (name, value) in daemon_settings(d) {
        // An IPv6 group is not a plain scalar in a flow mapping.
        match name {
            "group" => fields.push(format!("{name}: \"{value}\"")),
            _ => fields.push(format!("{name}: {value}")),
        }
    }
    let _ = writeln!(out, "  - {{ {} }}", fields.join(", "));
}

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

fn write_service(out: &mut String, service: &Service) {
    let _ = writeln!(out, "  - address: \"{}\"", service.key);
    let _ = writeln!(out, "    sched: {}", service.scheduler);
    let flags = flag_names(service);
    if !flags.is_empty() {
        let _ = writeln!(out, "    flags: [{}]", flags.join(", "));
    }
    if service.flags.contains(ServiceFlags::PERSISTENT) {
        let _ = writeln!(
            out,
            "    persistence: {{ {} }}",
            persistence(service).join(", ")
        );
    }
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
        crate::model::Family::Inet => IpAddr::V4(Ipv4Addr::from(service.netmask)).to_string(),
        crate::model::Family::Inet6 => service.netmask.to_string(),
    }
}

fn persistence(service: &Service) -> Vec<String> {
    let mut fields = vec![format!("timeout: {}", service.timeout)];
    match service.key.family() {
        crate::model::Family::Inet => {
            fields.push(format!("netmask: \"{}\"", netmask_text(service)))
        }
        crate::model::Family::Inet6 => fields.push(format!("prefix: {}", netmask_text(service))),
    }
    if let Some(engine) = &service.pe_name {
        fields.push(format!("engine: {engine}"));
    }
    fields
}

fn write_dest(out: &mut String, dest: &Destination) {
    let _ = writeln!(out, "      - address: \"{}\"", dest.key());
    let _ = writeln!(out, "        forward: {}", forward_name(dest.forward));
    let _ = writeln!(out, "        weight: {}", dest.weight);
    if dest.upper_threshold != 0 || dest.lower_threshold != 0 {
        let _ = writeln!(
            out,
            "        thresholds: {{ upper: {}, lower: {} }}",
            dest.upper_threshold, dest.lower_threshold
        );
    }
    if dest.forward == Forward::Tunnel {
        let _ = writeln!(out, "        tunnel: {{ {} }}", tunnel_fields(&dest.tunnel));
    }
}

/// The model's name of a forwarding method. The kernel's bypass has none (no client sets
/// it); it reads as direct.
pub(crate) fn forward_name(forward: Forward) -> &'static str {
    name_of(FORWARDS, forward).unwrap_or("direct")
}

/// `type: gue, port: 6080, checksum: csum`: a destination's tunnel as the model writes it.
pub(crate) fn tunnel_fields(tunnel: &Tunnel) -> String {
    let mut fields = vec![format!(
        "type: {}",
        name_of(TUNNEL_TYPES, tunnel.kind).unwrap_or("ipip")
    )];
    if tunnel.port != 0 {
        fields.push(format!("port: {}", tunnel.port));
    }
    fields.push(format!(
        "checksum: {}",
        name_of(CHECKSUMS, tunnel.flags).unwrap_or("nocsum")
    ));
    fields.join(", ")
}
