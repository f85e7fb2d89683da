//! Ownership scopes: the part of the kernel's table a model owns (`--scope`, the C
//! options' `scope`); services outside it are left alone.

use std::net::IpAddr;

use crate::model::{Family, ServiceKey};

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
    /// Whether the service `key` is in this part of the table.
    pub fn covers(&self, key: &ServiceKey) -> bool {
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
