//! The kernel's connection table as `/proc/net/ip_vs_conn` prints it: a header, then a
//! line per entry of the reading namespace. Netlink has no command for connections, so
//! this text is the only interface (ipvsadm -Lnc reads it too).
//!
//! A line is `Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires [PEName PEData]`:
//! IPv4 addresses as 8 hex digits of the host-order value, IPv6 addresses in full
//! (`2001:0db8:0000:...`; the real server's family may differ from the client's), ports
//! as 4 hex digits, the time left in decimal seconds. All of it is ASCII but PEData, the
//! engine's data as the client sent it (a SIP Call-ID), which may hold any byte but a
//! newline.

use std::io::{self, BufRead, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::model::{Connection, Family, Protocol, ServiceKey};

/// The first line the kernel prints.
pub const HEADER: &str =
    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData";

/// The longest line read: the kernel's are under 500 bytes (three full IPv6 addresses
/// and 255 bytes of engine data); a longer one is refused before it fills the memory.
const MAX_LINE: usize = 4096;

/// Why the table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading the source failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A line is not what the kernel prints: its number, what is wrong, and the line.
    #[error("{0}")]
    Malformed(String),
}

/// Reads the table a line at a time (memory for the text is one line, however long the
/// table). Any line that is not what the kernel prints fails the whole read with its
/// line number and what is wrong, so that no entry is ever made up. Lines are bytes: the
/// engine's data (a SIP Call-ID) is kept as the kernel printed it, UTF-8 or not.
pub fn read(mut source: impl BufRead) -> Result<Vec<Connection>, ReadError> {
    let mut line = Vec::new();
    if !next_line(&mut source, &mut line, 1)? {
        return Err(ReadError::Malformed(
            "empty: not even the header".to_owned(),
        ));
    }
    if line != HEADER.as_bytes() {
        return Err(ReadError::Malformed(format!(
            "line 1: not the header the kernel prints: {}",
            shown(&line)
        )));
    }
    let mut conns = Vec::new();
    for number in 2.. {
        if !next_line(&mut source, &mut line, number)? {
            break;
        }
        let conn = parse_line(&line)
            .map_err(|e| ReadError::Malformed(format!("line {number}: {e}: {}", shown(&line))))?;
        conns.push(conn);
    }
    Ok(conns)
}

/// Puts the next line into `line`, without its newline; `false` at the end.
fn next_line(
    source: &mut impl BufRead,
    line: &mut Vec<u8>,
    number: usize,
) -> Result<bool, ReadError> {
    line.clear();
    source
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > MAX_LINE {
        return Err(ReadError::Malformed(format!(
            "line {number}: longer than {MAX_LINE} bytes"
        )));
    } else if line.is_empty() {
        return Ok(false);
    }
    Ok(true)
}

/// A line in an error message: quoted, bytes that are not printable ASCII escaped.
fn shown(line: &[u8]) -> String {
    format!("\"{}\"", line.escape_ascii())
}

/// The fields of a line, separated by one or more spaces.
struct Fields<'l> {
    rest: &'l [u8],
}

impl<'l> Fields<'l> {
    /// The next field; `None` past the last.
    fn next(&mut self) -> Option<&'l [u8]> {
        let start = self.rest.iter().position(|&b| b != b' ')?;
        let field = &self.rest[start..];
        let end = field.iter().position(|&b| b == b' ').unwrap_or(field.len());
        self.rest = &field[end..];
        Some(&field[..end])
    }

    /// The next field as text, or an error naming `what` is missing or not text.
    fn text(&mut self, what: &str) -> Result<&'l str, String> {
        let field = self.next().ok_or_else(|| format!("no {what}"))?;
        std::str::from_utf8(field).map_err(|_| format!("{what} is not UTF-8 text"))
    }
}

fn parse_line(line: &[u8]) -> Result<Connection, String> {
    let mut fields = Fields { rest: line };
    let protocol = fields.text("protocol")?;
    let client_addr = address(fields.text("client address")?)?;
    let client_port = port(fields.text("client port")?)?;
    let virtual_addr = address(fields.text("virtual address")?)?;
    let virtual_port = port(fields.text("virtual port")?)?;
    let real_addr = address(fields.text("real server address")?)?;
    let real_port = port(fields.text("real server port")?)?;
    let state = fields.text("state")?;
    let expires = fields.text("expiry time")?;
    let engine = match fields.next() {
        None => None,
        Some(name) => {
            let name = std::str::from_utf8(name)
                .map_err(|_| "persistence engine name is not UTF-8 text".to_owned())?;
            // The engine writes its data after its name and one space.
            match fields.rest.strip_prefix(b" ") {
                Some(data) if !data.is_empty() => Some((name.to_owned(), data.to_vec())),
                _ => return Err(format!("persistence engine {name:?} without its data")),
            }
        }
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

    fn parse(text: &str) -> Result<Vec<Connection>, String> {
        read(text.as_bytes()).map_err(|e| e.to_string())
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
            Some(("sip".to_owned(), b"a84b4c76e66710@pc33".to_vec()))
        );
    }

    #[test]
    fn engine_data_that_is_not_utf8_is_kept_as_its_bytes() {
        let mut text = table(&[]).into_bytes();
        text.extend_from_slice(
            b"UDP 0A000102 13C4 0A0000FE 13C4 0A000201 13C4 UDP             179 sip a8\xff4b@pc 33\n",
        );
        let got = read(&text[..]).unwrap();
        assert_eq!(
            got[0].engine,
            Some(("sip".to_owned(), b"a8\xff4b@pc 33".to_vec()))
        );
        // Elsewhere the kernel prints ASCII: anything else is a malformed line.
        let mut text = table(&[]).into_bytes();
        text.extend_from_slice(b"UDP 0A00\xff02 13C4 0A0000FE 13C4 0A000201 13C4 UDP 179\n");
        assert_eq!(
            read(&text[..]).unwrap_err().to_string(),
            "line 2: client address is not UTF-8 text: \
             \"UDP 0A00\\xff02 13C4 0A0000FE 13C4 0A000201 13C4 UDP 179\""
        );
    }

    /// A table of `lines` IPv4 connections, made as it is read, never held whole.
    struct GeneratedTable {
        lines: usize,
        made: usize,
        pending: Vec<u8>,
    }

    impl Read for GeneratedTable {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() && self.made <= self.lines {
                self.pending = match self.made {
                    0 => format!("{HEADER}\n"),
                    n => format!(
                        "TCP {n:08X} 9C41 0A0000FE 0050 0A000201 1F90 ESTABLISHED {:7}\n",
                        n % 900
                    ),
                }
                .into_bytes();
                self.made += 1;
            }
            let count = buf.len().min(self.pending.len());
            buf[..count].copy_from_slice(&self.pending[..count]);
            self.pending.drain(..count);
            Ok(count)
        }
    }

    #[test]
    fn a_large_table_is_read_as_a_stream() {
        let source = GeneratedTable {
            lines: 200_000,
            made: 0,
            pending: Vec::new(),
        };
        let got = read(io::BufReader::new(source)).unwrap();
        assert_eq!(got.len(), 200_000);
        let last = &got[199_999];
        assert_eq!(last.client, SocketAddr::new(v4("0.3.13.64"), 40001));
        assert_eq!(last.expires, Duration::from_secs(200_000 % 900));
    }

    #[test]
    fn a_line_without_end_is_refused_at_the_line_limit() {
        let header = format!("{HEADER}\n");
        let endless = header.as_bytes().chain(io::repeat(b'x'));
        assert_eq!(
            read(io::BufReader::new(endless)).unwrap_err().to_string(),
            format!("line 2: longer than {MAX_LINE} bytes")
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
