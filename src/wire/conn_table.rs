//! The kernel's connection table as `/proc/net/ip_vs_conn` prints it: a header, then a
//! line per entry of the reading namespace. Netlink has no command for connections, so
//! this text is the only interface (ipvsadm -Lnc reads it too).
//!
//! A line is `Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires [PEName PEData]`:
//! IPv4 addresses as 8 hex digits of the host-order value, IPv6 addresses in full
//! (`2001:0db8:0000:...`; the real server's family may differ from the client's), ports
//! as 4 hex digits, the time left in decimal seconds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::model::{Connection, Family, Protocol, ServiceKey};

/// The first line the kernel prints.
pub const HEADER: &str =
    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData";

/// Parses the whole file. Any line that is not what the kernel prints fails the whole
/// parse with its line number and what is wrong, so that no entry is ever made up.
pub fn parse(text: &str) -> Result<Vec<Connection>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(HEADER) => {}
        Some(other) => {
            return Err(format!(
                "line 1: not the header the kernel prints: {other:?}"
            ))
        }
        None => return Err("empty: not even the header".to_owned()),
    }
    lines
        .enumerate()
        .map(|(i, line)| parse_line(line).map_err(|e| format!("line {}: {e}: {line:?}", i + 2)))
        .collect()
}

fn parse_line(line: &str) -> Result<Connection, String> {
    let mut fields = line.split(' ').filter(|f| !f.is_empty());
    let mut next = |what: &str| fields.next().ok_or_else(|| format!("no {what}"));
    let protocol = next("protocol")?;
    let client_addr = address(next("client address")?)?;
    let client_port = port(next("client port")?)?;
    let virtual_addr = address(next("virtual address")?)?;
    let virtual_port = port(next("virtual port")?)?;
    let real_addr = address(next("real server address")?)?;
    let real_port = port(next("real server port")?)?;
    let state = next("state")?;
    let expires = next("expiry time")?;
    let engine = match fields.next() {
        None => None,
        Some(name) => Some((name.to_owned(), engine_data(line, name)?)),
    };

    if Family::of(&client_addr) != Family::of(&virtual_addr) {
        return Err("the client and the virtual address are of different families".to_owned());
    }
    if state.is_empty() || !state.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return Err(format!("state {state:?} is not a state name"));
    }
    let expires = expires
        .parse::<u32>()
        .map_err(|_| format!("expiry time {expires:?} is not a number of seconds"))?;
    // The kernel gives persistence templates no client port; a connection always has one.
    let template = client_port == 0;
    let target = match protocol {
        "IP" => fwmark_target(template, virtual_addr, virtual_port)?,
        name => ServiceKey::Addr {
            protocol: Protocol::from_name(&name.to_ascii_lowercase())
                .filter(|_| name.bytes().all(|b| b.is_ascii_uppercase()))
                .ok_or_else(|| format!("protocol {name:?} is not TCP, UDP, SCTP or IP"))?,
            addr: virtual_addr,
            port: virtual_port,
        },
    };
    Ok(Connection {
        target,
        client: SocketAddr::new(client_addr, client_port),
        real: SocketAddr::new(real_addr, real_port),
        template,
        state: state.to_owned(),
        expires: Duration::from_secs(expires.into()),
        forward: None,
        engine,
    })
}

/// A firewall-mark service's template: protocol 0 ("IP"), the mark where the virtual
/// address goes (its first 32 bits, big-endian), port 0.
fn fwmark_target(template: bool, addr: IpAddr, port: u16) -> Result<ServiceKey, String> {
    let (family, mark) = match addr {
        IpAddr::V4(a) => (Family::Inet, u32::from(a)),
        IpAddr::V6(a) => {
            let o = a.octets();
            if o[4..].iter().any(|&b| b != 0) {
                return Err("an IPv6 firewall-mark template has more than a mark".to_owned());
            }
            (Family::Inet6, u32::from_be_bytes([o[0], o[1], o[2], o[3]]))
        }
    };
    if !template || port != 0 {
        return Err("protocol IP (a firewall-mark template) with a port".to_owned());
    }
    Ok(ServiceKey::Fwmark { family, mark })
}

fn address(field: &str) -> Result<IpAddr, String> {
    if field.len() == 8 {
        if let Ok(v4) = u32::from_str_radix(field, 16) {
            if field.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(IpAddr::V4(Ipv4Addr::from(v4)));
            }
        }
    }
    // The kernel's %pI6: eight groups of four hex digits, nothing abbreviated.
    let full = field.len() == 39
        && field
            .split(':')
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()));
    match field.parse::<Ipv6Addr>() {
        Ok(v6) if full => Ok(IpAddr::V6(v6)),
        _ => Err(format!(
            "address {field:?} is neither 8 hex digits nor a full IPv6 address"
        )),
    }
}

fn port(field: &str) -> Result<u16, String> {
    match u16::from_str_radix(field, 16) {
        Ok(p) if field.len() == 4 && field.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(p),
        _ => Err(format!("port {field:?} is not 4 hex digits")),
    }
}

/// The engine's data: everything after its name and one space (the engine writes it).
fn engine_data(line: &str, name: &str) -> Result<String, String> {
    // `name` is a slice of `line`: its position tells where the data starts.
    let end = name.as_ptr() as usize - line.as_ptr() as usize + name.len();
    match line[end..].strip_prefix(' ') {
        Some(data) if !data.is_empty() => Ok(data.to_owned()),
        _ => Err(format!("persistence engine {name:?} without its data")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Lines as the kernel's format strings print them (net/netfilter/ipvs/ip_vs_conn.c:
    /// "%-3s %08X %04X %08X %04X %s %04X %-11s %7u%s").
    fn table(lines: &[&str]) -> String {
        let mut t = format!("{HEADER}\n");
        for l in lines {
            t.push_str(l);
            t.push('\n');
        }
        t
    }

    #[test]
    fn an_ipv4_connection_and_its_template() {
        let got = parse(&table(&[
            "TCP 0A000102 9C41 0A0000FE 0050 0A000201 1F90 ESTABLISHED     899",
            "TCP 0A000100 0000 0A0000FE 0050 0A000201 1F90 NONE            359",
        ]))
        .unwrap();
        assert_eq!(got.len(), 2);
        let c = &got[0];
        assert_eq!(c.target, ServiceKey::tcp(v4("10.0.0.254"), 80));
        assert_eq!(c.client, SocketAddr::new(v4("10.0.1.2"), 40001));
        assert_eq!(c.real, SocketAddr::new(v4("10.0.2.1"), 8080));
        assert_eq!(c.state, "ESTABLISHED");
        assert_eq!(c.expires, Duration::from_secs(899));
        assert!(!c.template);
        assert_eq!((c.forward, &c.engine), (None, &None));
        assert!(got[1].template);
        assert_eq!(got[1].client, SocketAddr::new(v4("10.0.1.0"), 0));
        assert_eq!(got[1].state, "NONE");
    }

    #[test]
    fn ipv6_and_mixed_families_and_a_firewall_mark_template() {
        let got = parse(&table(&[
            "UDP 2001:0db8:0000:0000:0000:0000:0000:0002 D431 2001:0db8:0000:0000:0000:0000:0000:00fe 0035 2001:0db8:0000:0000:0000:0000:0001:0001 0035 UDP             299",
            "TCP 2001:0db8:0000:0000:0000:0000:0000:0002 D432 2001:0db8:0000:0000:0000:0000:0000:00fe 0050 0A000201 0050 SYN_RECV         59",
            "IP  0A000100 0000 00000007 0000 0A000201 0000 ASSURED        1799",
            "IP  2001:0db8:0000:0000:0000:0000:0000:0000 0000 0000:0007:0000:0000:0000:0000:0000:0000 0000 2001:0db8:0000:0000:0000:0000:0001:0001 0000 NONE            1799",
            "TCP 0A000102 9C41 0A0000FE 0050 2001:0db8:0000:0000:0000:0000:0001:0001 0050 ESTABLISHED     899",
        ]))
        .unwrap();
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(got[0].target, ServiceKey::udp(v6("2001:db8::fe"), 53));
        assert_eq!(got[0].real, SocketAddr::new(v6("2001:db8::1:1"), 53));
        assert_eq!(got[1].real, SocketAddr::new(v4("10.0.2.1"), 80));
        assert_eq!(got[1].state, "SYN_RECV");
        assert_eq!(got[2].target, ServiceKey::fwmark(Family::Inet, 7));
        assert_eq!(got[3].target, ServiceKey::fwmark(Family::Inet6, 7));
        assert!(got[2].template && got[3].template);
        assert_eq!(got[4].real, SocketAddr::new(v6("2001:db8::1:1"), 80));
    }

    #[test]
    fn a_persistence_engine_keeps_its_data() {
        let got = parse(&table(&[
            "UDP 0A000102 13C4 0A0000FE 13C4 0A000201 13C4 UDP             179 sip a84b4c76e66710@pc33",
        ]))
        .unwrap();
        assert_eq!(
            got[0].engine,
            Some(("sip".to_owned(), "a84b4c76e66710@pc33".to_owned()))
        );
    }

    #[test]
    fn an_empty_table_is_the_header_alone() {
        assert_eq!(parse(&table(&[])).unwrap(), vec![]);
    }

    #[test]
    fn anything_else_is_refused_with_its_line_and_what_is_wrong() {
        let ok = "TCP 0A000102 9C41 0A0000FE 0050 0A000201 1F90 ESTABLISHED     899";
        assert_eq!(parse(""), Err("empty: not even the header".to_owned()));
        assert!(parse("Pro FromIP\n")
            .unwrap_err()
            .starts_with("line 1: not the header"));
        let cases = [
            ("TCP 0A000102 9C41 0A0000FE 0050 0A000201 1F90 ESTABLISHED", "no expiry time"),
            ("TCP 0A0001 9C41 0A0000FE 0050 0A000201 1F90 ESTABLISHED 1", "address \"0A0001\""),
            ("TCP 0A000102 9C4 0A0000FE 0050 0A000201 1F90 ESTABLISHED 1", "port \"9C4\""),
            ("TCP 0A000102 9C41 0A0000FE 0050 0A000201 1F90 ESTABLISHED -1", "expiry time"),
            ("TCP 0A000102 9C41 0A0000FE 0050 0A000201 1F90 ERR! 1", "state \"ERR!\""),
            ("ICMP 0A000102 9C41 0A0000FE 0050 0A000201 1F90 NONE 1", "protocol \"ICMP\""),
            ("tcp 0A000102 9C41 0A0000FE 0050 0A000201 1F90 NONE 1", "protocol \"tcp\""),
            ("IP_41 0A000102 9C41 0A0000FE 0050 0A000201 1F90 NONE 1", "protocol \"IP_41\""),
            ("IP 0A000102 9C41 00000007 0000 0A000201 0000 NONE 1", "with a port"),
            ("TCP 0A000102 9C41 0A0000FE 0050 [0A000201] 1F90 NONE 1", "address \"[0A000201]\""),
            ("TCP 0A000102 9C41 2001:db8::1 0050 0A000201 1F90 NONE 1", "neither 8 hex"),
            (
                "TCP 0A000102 9C41 2001:0db8:0000:0000:0000:0000:0000:00fe 0050 0A000201 1F90 NONE 1",
                "different families",
            ),
            (
                "TCP 0A000102 9C41 0A0000FE 0050 [2001:0db8:0000:0000:0000:0000:0000:00fe] 1F90 NONE 1",
                "address \"[2001",
            ),
            ("UDP 0A000102 13C4 0A0000FE 13C4 0A000201 13C4 UDP 179 sip", "without its data"),
        ];
        for (line, wrong) in cases {
            let error = parse(&table(&[ok, line])).unwrap_err();
            assert!(error.starts_with("line 3: "), "{line}: {error}");
            assert!(
                error.contains(wrong),
                "{line}: {error} does not say {wrong}"
            );
            assert!(error.ends_with(&format!("{line:?}")), "{error}");
        }
    }
}
