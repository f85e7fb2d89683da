//! Ownership scopes: the part of the kernel's table a model owns (`--scope`, the C
//! options' `scope`); services outside it are left alone.

use std::net::IpAddr;
use std::str::FromStr;

use crate::model::{
    decimal, parse_fwmark, parse_port, parse_protocol, split_endpoint, Family, Protocol, ServiceKey,
};

/// A part of the kernel's table that a model owns: an address block (optionally of one
/// protocol, and a port range) or a range of firewall marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeRule {
    Addresses {
        /// `None`: every protocol.
        protocol: Option<Protocol>,
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
    /// Rules from a comma list (`--scope`, the C options' `scope`); blank text for none.
    pub fn parse_list(text: &str) -> Result<Vec<ScopeRule>, String> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        text.split(',').map(|rule| rule.trim().parse()).collect()
    }

    /// Whether the service `key` is in this part of the table.
    pub fn covers(&self, key: &ServiceKey) -> bool {
        match (self, key) {
            (
                ScopeRule::Addresses {
                    protocol,
                    network,
                    prefix,
                    ports,
                },
                ServiceKey::Addr {
                    protocol: p,
                    addr,
                    port,
                },
            ) => {
                protocol.is_none_or(|wanted| wanted == *p)
                    && in_network(addr, network, *prefix)
                    && (ports.0..=ports.1).contains(port)
            }
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

impl FromStr for ScopeRule {
    type Err = String;

    /// The address pieces are a model's (protocols, IPv4, IPv6 in brackets, ports,
    /// fwmarks), with a prefix after the address and ranges of ports and marks:
    /// `10.0.0.0/24`, `udp://10.0.0.0/24:53`, `[2001:db8::]/32:80-443`, `2001:db8::/32`,
    /// `fwmark:1-100`, `fwmark6:7`. So a service key (`tcp://10.0.0.1:80`, `fwmark:7`) is
    /// the scope of that one service. No prefix: a host; no ports: all of them.
    fn from_str(text: &str) -> Result<ScopeRule, String> {
        scope(text).map_err(|why| {
            format!(
                "scope {text:?}: {why}; expected [PROTOCOL://]ADDRESS[/PREFIX][:PORT[-PORT]], \
                 fwmark:N[-M] or fwmark6:N[-M]"
            )
        })
    }
}

fn scope(text: &str) -> Result<ScopeRule, String> {
    for (prefix, family) in [("fwmark:", Family::Inet), ("fwmark6:", Family::Inet6)] {
        if let Some(marks) = text.strip_prefix(prefix) {
            return Ok(ScopeRule::Fwmarks {
                family,
                marks: range(marks, parse_fwmark)?,
            });
        }
    }
    let (protocol, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(parse_protocol(scheme)?), rest),
        None => (None, text),
    };
    // The prefix sits between the address and its ports: without it, what is left is an
    // address as a model writes it.
    let (endpoint, prefix) = match rest.split_once('/') {
        Some((address, after)) => {
            let digits = after.find(':').map_or(after, |colon| &after[..colon]);
            let prefix = decimal(digits)
                .and_then(|p| u8::try_from(p).ok())
                .ok_or_else(|| format!("prefix \"/{digits}\" is not a number of bits"))?;
            (format!("{address}{}", &after[digits.len()..]), Some(prefix))
        }
        None => (rest.to_owned(), None),
    };
    let (network, ports) = split_endpoint(&endpoint)?;
    let bits = if network.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(bits);
    if prefix > bits {
        return Err(format!(
            "prefix /{prefix} is longer than the address ({bits} bits)"
        ));
    }
    let ports = match ports {
        Some(ports) => range(ports, parse_port)?,
        None => (0, u16::MAX),
    };
    Ok(ScopeRule::Addresses {
        protocol,
        network,
        prefix,
        ports,
    })
}

/// `N` or `N-M` with N <= M, each end parsed by `parse`.
fn range<T: Ord + Copy>(
    text: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<(T, T), String> {
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (parse(first)?, parse(last)?),
        None => {
            let only = parse(text)?;
            (only, only)
        }
    };
    if first > last {
        return Err(format!("the range \"{text}\" is empty"));
    }
    Ok((first, last))
}
