//! One scrape of the IPVS table rendered for monitoring: Influx line protocol with the
//! measurement, tag and field names of telegraf's `ipvs` input (but 64-bit counters, and
//! the byte rates telegraf never emitted), and Prometheus text exposition with the same
//! names as labels and metric suffixes.

use std::fmt::Write;
use std::net::IpAddr;

use crate::client::{Handle, Result};
use crate::model::{DestEntry, Family, ServiceEntry, ServiceKey, Stats};

/// The services and their destinations at one moment.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    pub services: Vec<(ServiceEntry, Vec<DestEntry>)>,
}

impl Scrape {
    /// Reads every service and its destinations: one service dump, one destination dump a
    /// service (several at once, see [`Handle::dests_of`]).
    pub fn read(handle: &mut Handle) -> Result<Scrape> {
        Ok(Scrape {
            services: handle.services_with_dests()?,
        })
    }
}

/// How a value of a `T` is exposed: telegraf's field name and what it measures.
struct Metric<T> {
    field: &'static str,
    help: &'static str,
    /// A cumulative counter (Prometheus `counter`, `_total`), else a gauge.
    counter: bool,
    value: fn(&T) -> u64,
}

const STATS: [Metric<Stats>; 10] = [
    Metric {
        field: "connections",
        help: "Connections scheduled",
        counter: true,
        value: |s| s.conns,
    },
    Metric {
        field: "pkts_in",
        help: "Packets from clients",
        counter: true,
        value: |s| s.inpkts,
    },
    Metric {
        field: "pkts_out",
        help: "Packets to clients",
        counter: true,
        value: |s| s.outpkts,
    },
    Metric {
        field: "bytes_in",
        help: "Bytes from clients",
        counter: true,
        value: |s| s.inbytes,
    },
    Metric {
        field: "bytes_out",
        help: "Bytes to clients",
        counter: true,
        value: |s| s.outbytes,
    },
    Metric {
        field: "cps",
        help: "Connections per second, as the kernel estimates it",
        counter: false,
        value: |s| s.cps,
    },
    Metric {
        field: "pps_in",
        help: "Packets per second from clients, as the kernel estimates it",
        counter: false,
        value: |s| s.inpps,
    },
    Metric {
        field: "pps_out",
        help: "Packets per second to clients, as the kernel estimates it",
        counter: false,
        value: |s| s.outpps,
    },
    Metric {
        field: "bps_in",
        help: "Bytes per second from clients, as the kernel estimates it",
        counter: false,
        value: |s| s.inbps,
    },
    Metric {
        field: "bps_out",
        help: "Bytes per second to clients, as the kernel estimates it",
        counter: false,
        value: |s| s.outbps,
    },
];

/// The real servers' own gauges, before the shared statistics.
const DEST_GAUGES: [Metric<DestEntry>; 3] = [
    Metric {
        field: "active_connections",
        help: "Connections established",
        counter: false,
        value: |d| d.active_conns.into(),
    },
    Metric {
        field: "inactive_connections",
        help: "Connections in other states",
        counter: false,
        value: |d| d.inactive_conns.into(),
    },
    Metric {
        field: "weight",
        help: "Scheduling weight",
        counter: false,
        value: |d| d.dest.weight.max(0) as u64,
    },
];

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Inet => "inet",
        Family::Inet6 => "inet6",
    }
}

/// telegraf's `netmask` tag: the number of one bits (a prefix length for IPv6).
fn netmask_bits(entry: &ServiceEntry) -> u32 {
    match entry.service.key.family() {
        Family::Inet => entry.service.netmask.count_ones(),
        Family::Inet6 => entry.service.netmask,
    }
}

/// The tags that name a virtual server, sorted by key: address, port and protocol, or
/// fwmark. `prefix` is "" for the service itself, "virtual_" on its real servers.
fn service_tags(key: &ServiceKey, prefix: &str, tags: &mut Vec<(String, String)>) {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            tags.push((format!("{prefix}address"), addr.to_string()));
            tags.push((format!("{prefix}port"), port.to_string()));
            tags.push((format!("{prefix}protocol"), protocol.name().to_owned()));
        }
        ServiceKey::Fwmark { mark, .. } => {
            tags.push((format!("{prefix}fwmark"), mark.to_string()));
        }
    }
}

fn virtual_server_tags(entry: &ServiceEntry) -> Vec<(String, String)> {
    let key = &entry.service.key;
    let mut tags = vec![
        (
            "address_family".to_owned(),
            family_name(key.family()).to_owned(),
        ),
        ("netmask".to_owned(), netmask_bits(entry).to_string()),
        ("sched".to_owned(), entry.service.scheduler.clone()),
    ];
    service_tags(key, "", &mut tags);
    tags.sort();
    tags
}

fn real_server_tags(service: &ServiceEntry, dest: &DestEntry) -> Vec<(String, String)> {
    let addr: IpAddr = dest.dest.addr;
    let mut tags = vec![
        ("address".to_owned(), addr.to_string()),
        (
            "address_family".to_owned(),
            family_name(Family::of(&addr)).to_owned(),
        ),
        ("port".to_owned(), dest.dest.port.to_string()),
    ];
    service_tags(&service.service.key, "virtual_", &mut tags);
    tags.sort();
    tags
}

/// Influx escapes commas, spaces and equals signs in tag values (and backslashes).
fn influx_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | ' ' | '=' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn influx_line(
    out: &mut String,
    measurement: &str,
    tags: &[(String, String)],
    fields: &[(&str, u64)],
    timestamp_ns: u64,
) {
    out.push_str(measurement);
    for (key, value) in tags {
        let _ = write!(out, ",{key}={}", influx_tag(value));
    }
    for (i, (field, value)) in fields.iter().enumerate() {
        let _ = write!(out, "{}{field}={value}i", if i == 0 { ' ' } else { ',' });
    }
    let _ = writeln!(out, " {timestamp_ns}");
}

/// Influx line protocol, one line a virtual and a real server, all stamped `timestamp_ns`.
pub fn influx(scrape: &Scrape, timestamp_ns: u64) -> String {
    let mut out = String::new();
    for (service, dests) in &scrape.services {
        let fields: Vec<(&str, u64)> = STATS
            .iter()
            .map(|m| (m.field, (m.value)(&service.stats)))
            .collect();
        let tags = virtual_server_tags(service);
        influx_line(
            &mut out,
            "ipvs_virtual_server",
            &tags,
            &fields,
            timestamp_ns,
        );
        for dest in dests {
            let mut fields: Vec<(&str, u64)> = DEST_GAUGES
                .iter()
                .map(|m| (m.field, (m.value)(dest)))
                .collect();
            fields.extend(STATS.iter().map(|m| (m.field, (m.value)(&dest.stats))));
            let tags = real_server_tags(service, dest);
            influx_line(&mut out, "ipvs_real_server", &tags, &fields, timestamp_ns);
        }
    }
    out
}

/// Prometheus escapes backslashes, double quotes and newlines in label values.
fn prometheus_labels(tags: &[(String, String)]) -> String {
    let labels: Vec<String> = tags
        .iter()
        .map(|(key, value)| {
            let value = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{key}=\"{value}\"")
        })
        .collect();
    format!("{{{}}}", labels.join(","))
}

/// One metric family: its HELP and TYPE lines, then a sample per labelled series.
fn prometheus_family(
    out: &mut String,
    name: &str,
    help: &str,
    counter: bool,
    samples: impl Iterator<Item = (String, u64)>,
) {
    let (name, kind) = match counter {
        true => (format!("{name}_total"), "counter"),
        false => (name.to_owned(), "gauge"),
    };
    let _ = writeln!(out, "# HELP {name} {help}.");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Prometheus text exposition: `ipvs_virtual_server_<field>` and `ipvs_real_server_<field>`
/// (counters with `_total`), labelled with telegraf's tags.
pub fn prometheus(scrape: &Scrape) -> String {
    let mut out = String::new();
    let services: Vec<(&ServiceEntry, String)> = scrape
        .services
        .iter()
        .map(|(s, _)| (s, prometheus_labels(&virtual_server_tags(s))))
        .collect();
    let dests: Vec<(&DestEntry, String)> = scrape
        .services
        .iter()
        .flat_map(|(s, dests)| {
            dests
                .iter()
                .map(move |d| (d, prometheus_labels(&real_server_tags(s, d))))
        })
        .collect();
    for m in &STATS {
        let name = format!("ipvs_virtual_server_{}", m.field);
        let help = format!("{} (virtual server)", m.help);
        let samples = services
            .iter()
            .map(|(s, labels)| (labels.clone(), (m.value)(&s.stats)));
        prometheus_family(&mut out, &name, &help, m.counter, samples);
    }
    for m in &DEST_GAUGES {
        let name = format!("ipvs_real_server_{}", m.field);
        let samples = dests
            .iter()
            .map(|(d, labels)| (labels.clone(), (m.value)(d)));
        prometheus_family(&mut out, &name, m.help, m.counter, samples);
    }
    for m in &STATS {
        let name = format!("ipvs_real_server_{}", m.field);
        let help = format!("{} (real server)", m.help);
        let samples = dests
            .iter()
            .map(|(d, labels)| (labels.clone(), (m.value)(&d.stats)));
        prometheus_family(&mut out, &name, &help, m.counter, samples);
    }
    out
}
