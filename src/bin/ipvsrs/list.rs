//! `ipvsrs list`: the table in `ipvsadm -Ln`'s three views (counters and rates exact, as
//! with `--exact`), or as JSON with every setting and the 64-bit counters; the connection
//! table as `ipvsadm -Lnc` shows it, or as JSON.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::IpAddr;

use ipvsrs::model::{
    Connection, DestEntry, DestKey, Family, Forward, Info, ServiceEntry, ServiceFlags, ServiceKey,
    Stats, TunnelType,
};
use ipvsrs::{Handle, Result};

/// The table at one reading, sorted as ipvsadm sorts it.
pub struct Table {
    info: Info,
    services: Vec<(ServiceEntry, Vec<DestEntry>)>,
}

impl Table {
    pub fn read(handle: &mut Handle) -> Result<Table> {
        let info = handle.info()?;
        let mut services = handle.services_with_dests()?;
        for (_, dests) in &mut services {
            dests.sort_by_key(|d| (d.dest.addr.is_ipv6(), octets(d.dest.addr), d.dest.port));
        }
        services.sort_by_key(|(entry, _)| service_order(&entry.service.key));
        Ok(Table { info, services })
    }
}

/// libipvs's `ipvs_cmp_services` order: fwmark, family, protocol, address, port.
fn service_order(key: &ServiceKey) -> (u32, u16, u16, [u8; 16], u16) {
    match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (
            0,
            Family::of(&addr).number(),
            protocol.number(),
            octets(addr),
            port,
        ),
        ServiceKey::Fwmark { family, mark } => (mark, family.number(), 0, [0; 16], 0),
    }
}

/// The address's bytes in network order, an IPv4 one first and zero after it.
fn octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&a.octets());
            bytes
        }
        IpAddr::V6(a) => a.octets(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    Table,
    Stats,
    Rate,
}

/// `addr:port`, an IPv6 address in brackets (a destination key's own form).
fn endpoint(addr: IpAddr, port: u16) -> String {
    DestKey { addr, port }.to_string()
}

/// ipvsadm's name of a forwarding method; one from a newer kernel is its number.
fn forward_name(forward: Forward) -> Cow<'static, str> {
    match forward {
        Forward::Masq => "Masq".into(),
        Forward::Local => "Local".into(),
        Forward::Tunnel => "Tunnel".into(),
        Forward::Route => "Route".into(),
        Forward::Bypass => "Bypass".into(),
        Forward::Unknown(n) => n.to_string().into(),
    }
}

/// The service column: `TCP  10.0.0.1:80` or `FWM  7 IPv6`.
fn service_name(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!(
            "{:<4} {}",
            protocol.name().to_uppercase(),
            endpoint(addr, port)
        ),
        ServiceKey::Fwmark { family, mark } => match family {
            Family::Inet => format!("FWM  {mark}"),
            Family::Inet6 => format!("FWM  {mark} IPv6"),
        },
    }
}

/// The scheduler and its flags, persistence and one-packet scheduling, as ipvsadm
/// writes them after the service.
fn settings(entry: &ServiceEntry) -> String {
    let s = &entry.service;
    let mut text = format!(" {}", s.scheduler);
    let names = [
        (ServiceFlags::SCHED1, "flag-1", "sh-fallback", "mh-fallback"),
        (ServiceFlags::SCHED2, "flag-2", "sh-port", "mh-port"),
        (ServiceFlags::SCHED3, "flag-3", "flag-3", "flag-3"),
    ];
    let flags: Vec<&str> = (names.iter())
        .filter(|(flag, ..)| s.flags.contains(*flag))
        .map(|&(_, generic, sh, mh)| match s.scheduler.as_str() {
            "sh" => sh,
            "mh" => mh,
            _ => generic,
        })
        .collect();
    if !flags.is_empty() {
        text += &format!(" ({})", flags.join(","));
    }
    if s.flags.contains(ServiceFlags::PERSISTENT) {
        text += &format!(" persistent {}", s.timeout);
        match s.key.family() {
            Family::Inet if s.netmask != u32::MAX => {
                text += &format!(" mask {}", std::net::Ipv4Addr::from(s.netmask));
            }
            Family::Inet6 if s.netmask != 128 => text += &format!(" mask {}", s.netmask),
            _ => {}
        }
        if let Some(pe) = &s.pe_name {
            text += &format!(" pe {pe}");
        }
    }
    if s.flags.contains(ServiceFlags::ONEPACKET) {
        text += " ops";
    }
    text
}

fn numbers(view: View, s: &Stats) -> String {
    let values = match view {
        View::Rate => [s.cps, s.inpps, s.outpps, s.inbps, s.outbps],
        _ => [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes],
    };
    values.iter().map(|v| format!(" {v:>8}")).collect()
}

/// What `ipvsadm -Ln` prints (`--stats --exact` and `--rate --exact` for the other views).
pub fn text(out: &mut impl Write, table: &Table, view: View) -> io::Result<()> {
    let v = table.info.version;
    writeln!(
        out,
        "IP Virtual Server version {}.{}.{} (size={})",
        v >> 16 & 0xff,
        v >> 8 & 0xff,
        v & 0xff,
        table.info.conn_tab_size
    )?;
    out.write_all(match view {
        View::Table => {
            b"Prot LocalAddress:Port Scheduler Flags\n  \
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        }
        View::Stats => {
            b"Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
              -> RemoteAddress:Port\n"
        }
        View::Rate => {
            b"Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  \
              -> RemoteAddress:Port\n"
        }
    })?;
    for (entry, dests) in &table.services {
        let name = service_name(&entry.service.key);
        match view {
            View::Table => writeln!(out, "{name}{}", settings(entry))?,
            _ => writeln!(out, "{name:<33}{}", numbers(view, &entry.stats))?,
        }
        for d in dests {
            let at = endpoint(d.dest.addr, d.dest.port);
            match view {
                View::Table => writeln!(
                    out,
                    "  -> {at:<28} {:<7} {:<6} {:<10} {:<10}",
                    forward_name(d.dest.forward),
                    d.dest.weight,
                    d.active_conns,
                    d.inactive_conns
                )?,
                _ => writeln!(out, "  -> {at:<28}{}", numbers(view, &d.stats))?,
            }
        }
    }
    Ok(())
}

/// A JSON string: the names here come from the kernel, but are escaped all the same.
fn quoted(s: &str) -> String {
    let mut text = String::with_capacity(s.len() + 2);
    text.push('"');
    for c in s.chars() {
        match c {
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            c if (c as u32) < 0x20 => text += &format!("\\u{:04x}", c as u32),
            c => text.push(c),
        }
    }
    text.push('"');
    text
}

fn stats_json(s: &Stats) -> String {
    format!(
        "{{\"conns\":{},\"inpkts\":{},\"outpkts\":{},\"inbytes\":{},\"outbytes\":{},\
         \"cps\":{},\"inpps\":{},\"outpps\":{},\"inbps\":{},\"outbps\":{}}}",
        s.conns,
        s.inpkts,
        s.outpkts,
        s.inbytes,
        s.outbytes,
        s.cps,
        s.inpps,
        s.outpps,
        s.inbps,
        s.outbps
    )
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Inet => "inet",
        Family::Inet6 => "inet6",
    }
}

fn service_json(entry: &ServiceEntry) -> String {
    let s = &entry.service;
    let key = match s.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!(
            "\"protocol\":{},\"address\":{},\"port\":{port}",
            quoted(protocol.name()),
            quoted(&addr.to_string())
        ),
        ServiceKey::Fwmark { mark, .. } => format!("\"fwmark\":{mark}"),
    };
    let netmask = match s.key.family() {
        Family::Inet => quoted(&std::net::Ipv4Addr::from(s.netmask).to_string()),
        Family::Inet6 => s.netmask.to_string(),
    };
    format!(
        "{{\"service\":{},\"family\":{},{key},\"scheduler\":{},\"flags\":{},\
         \"persistent\":{},\"timeout\":{},\"netmask\":{netmask},\"pe\":{},\"stats\":{}",
        quoted(&s.key.to_string()),
        quoted(family_name(s.key.family())),
        quoted(&s.scheduler),
        s.flags.0,
        s.flags.contains(ServiceFlags::PERSISTENT),
        s.timeout,
        s.pe_name.as_deref().map_or("null".to_owned(), quoted),
        stats_json(&entry.stats)
    )
}

fn dest_json(d: &DestEntry) -> String {
    let t = &d.dest.tunnel;
    let tunnel: Cow<str> = match t.kind {
        TunnelType::Ipip => "ipip".into(),
        TunnelType::Gue => "gue".into(),
        TunnelType::Gre => "gre".into(),
        TunnelType::Unknown(n) => n.to_string().into(),
    };
    format!(
        "{{\"address\":{},\"port\":{},\"forward\":{},\"weight\":{},\"upper_threshold\":{},\
         \"lower_threshold\":{},\"tunnel\":{{\"type\":{},\"port\":{},\"flags\":{}}},\
         \"active_conns\":{},\"inactive_conns\":{},\"persistent_conns\":{},\"stats\":{}}}",
        quoted(&d.dest.addr.to_string()),
        d.dest.port,
        quoted(&forward_name(d.dest.forward).to_lowercase()),
        d.dest.weight,
        d.dest.upper_threshold,
        d.dest.lower_threshold,
        quoted(&tunnel),
        t.port,
        t.flags.0,
        d.active_conns,
        d.inactive_conns,
        d.persistent_conns,
        stats_json(&d.stats)
    )
}

/// One JSON document: the IPVS version, the connection table's size, and every service
/// with its destinations.
pub fn json(out: &mut impl Write, table: &Table) -> io::Result<()> {
    let v = table.info.version;
    write!(
        out,
        "{{\"version\":\"{}.{}.{}\",\"conn_tab_size\":{},\"services\":[",
        v >> 16 & 0xff,
        v >> 8 & 0xff,
        v & 0xff,
        table.info.conn_tab_size
    )?;
    for (i, (entry, dests)) in table.services.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        write!(out, "{comma}\n{},\"destinations\":[", service_json(entry))?;
        let dests: Vec<String> = dests.iter().map(dest_json).collect();
        write!(out, "{}]}}", dests.join(","))?;
    }
    writeln!(out, "\n]}}")
}

/// The virtual column as ipvsadm writes it: a firewall-mark template's mark where the
/// address goes, port 0.
fn virtual_endpoint(target: &ServiceKey) -> String {
    match *target {
        ServiceKey::Addr { addr, port, .. } => endpoint(addr, port),
        ServiceKey::Fwmark { family, mark } => {
            let addr = match family {
                Family::Inet => IpAddr::from(std::net::Ipv4Addr::from(mark)),
                Family::Inet6 => IpAddr::from(std::net::Ipv6Addr::from(u128::from(mark) << 96)),
            };
            endpoint(addr, 0)
        }
    }
}

fn protocol_column(target: &ServiceKey) -> String {
    match target {
        ServiceKey::Addr { protocol, .. } => protocol.name().to_uppercase(),
        ServiceKey::Fwmark { .. } => "IP".to_owned(),
    }
}

/// What `ipvsadm -Lnc` prints, a persistence engine's name and data after the real server.
pub fn connections_text(out: &mut impl Write, conns: &[Connection]) -> io::Result<()> {
    out.write_all(
        b"IPVS connection entries\n\
          pro expire state       source             virtual            destination\n",
    )?;
    for c in conns {
        let secs = c.expires.as_secs();
        let engine = (c.engine.as_ref()).map_or(String::new(), |(name, data)| {
            format!(" {name} {}", engine_data_text(data))
        });
        writeln!(
            out,
            "{:<3} {:02}:{:02}  {:<11} {:<18} {:<18} {}{engine}",
            protocol_column(&c.target),
            secs / 60,
            secs % 60,
            c.state,
            endpoint(c.client.ip(), c.client.port()),
            virtual_endpoint(&c.target),
            endpoint(c.real.ip(), c.real.port()),
        )?;
    }
    Ok(())
}

/// A persistence engine's data as text: printable UTF-8 as it is, a backslash doubled,
/// and every other byte (control characters, bytes that are not UTF-8, such as a
/// client's Call-ID may hold) as `\xNN`, so that the listing shows the exact bytes and
/// sends no control character to the terminal.
fn engine_data_text(data: &[u8]) -> String {
    let mut text = String::with_capacity(data.len());
    let escape = |text: &mut String, bytes: &[u8]| {
        for b in bytes {
            text.push_str(&format!("\\x{b:02x}"));
        }
    };
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => text.push_str("\\\\"),
                c if c.is_control() => escape(&mut text, c.encode_utf8(&mut [0; 4]).as_bytes()),
                c => text.push(c),
            }
        }
        escape(&mut text, chunk.invalid());
    }
    text
}

/// The connection table as one JSON document.
pub fn connections_json(out: &mut impl Write, conns: &[Connection]) -> io::Result<()> {
    write!(out, "{{\"connections\":[")?;
    for (i, c) in conns.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let target = match c.target {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => format!(
                "\"protocol\":{},\"virtual_address\":{},\"virtual_port\":{port}",
                quoted(protocol.name()),
                quoted(&addr.to_string())
            ),
            ServiceKey::Fwmark { mark, .. } => format!("\"fwmark\":{mark}"),
        };
        let (engine, data) = match &c.engine {
            Some((name, data)) => (quoted(name), quoted(&engine_data_text(data))),
            None => ("null".to_owned(), "null".to_owned()),
        };
        write!(
            out,
            "{comma}\n{{\"family\":{},{target},\"client_address\":{},\"client_port\":{},\
             \"real_address\":{},\"real_port\":{},\"forward\":{},\"state\":{},\"expires\":{},\
             \"template\":{},\"pe\":{engine},\"pe_data\":{data}}}",
            quoted(family_name(c.target.family())),
            quoted(&c.client.ip().to_string()),
            c.client.port(),
            quoted(&c.real.ip().to_string()),
            c.real.port(),
            c.forward.map_or("null".to_owned(), |f| quoted(
                &forward_name(f).to_lowercase()
            )),
            quoted(&c.state),
            c.expires.as_secs(),
            c.template,
        )?;
    }
    writeln!(out, "\n]}}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn engine_data_is_listed_with_its_odd_bytes_escaped() {
        let conn = Connection {
            target: ServiceKey::udp("10.0.0.254".parse().unwrap(), 5060),
            client: "10.0.1.2:5060".parse().unwrap(),
            real: "10.0.2.1:5060".parse().unwrap(),
            template: false,
            state: "UDP".to_owned(),
            expires: Duration::from_secs(179),
            forward: Some(Forward::Masq),
            engine: Some(("sip".to_owned(), b"a8\xff4b\\\x1b@p\xc3\xa9c".to_vec())),
        };
        let mut text = Vec::new();
        connections_text(&mut text, std::slice::from_ref(&conn)).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.ends_with(
                r" sip a8\xff4b\\\x1b@péc
"
            ),
            "{text}"
        );
        let mut json = Vec::new();
        connections_json(&mut json, &[conn]).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(
            json.contains(r#""pe_data":"a8\\xff4b\\\\\\x1b@péc""#),
            "{json}"
        );
    }
}
