//! The kernel's table written as a model: [`to_yaml`] is the inverse of [`super::parse`],
//! so applying its output to the same kernel changes nothing.

use std::fmt::Write;

use crate::desired::names::{
    daemon_settings, flag_names, forward_name, netmask_text, tunnel_fields,
};
use crate::desired::KernelTable;
use crate::model::{Daemon, DestEntry, Destination, Forward, Service, ServiceFlags, Timeouts};

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
