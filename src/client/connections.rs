//! The connection table, read from /proc in the handle's namespace, each entry's
//! forwarding method taken from the IPVS table.

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::net::SocketAddr;

use super::{Error, Handle, Result};
use crate::model::{Connection, Family, Forward, ServiceKey};
use crate::wire::conn_table::{self, ReadError};

const FILE: &str = "ip_vs_conn";

/// Bytes asked of /proc a read: the kernel fills as many lines as fit.
const READ_BUFFER: usize = 64 << 10;

impl Handle {
    /// Every entry of the connection table of the handle's namespace: connections and
    /// persistence templates, IPv4 and IPv6, as `ipvsadm -Lnc` shows them, each once.
    ///
    /// The kernel offers the table only as text in /proc/net/ip_vs_conn, written a page
    /// at a time; connections that begin or expire while it is read may be missing, and
    /// an entry met twice is kept once. The forwarding method of each entry comes from
    /// the service table, read after the connections (see [`Connection::forward`]).
    /// A line that is not what the kernel prints fails the call (`EINVAL`), naming it.
    /// The text is read a line at a time, never held whole; a persistence engine's data
    /// is kept as the bytes the kernel printed (see [`Connection::engine`]).
    pub fn connections(&mut self) -> Result<Vec<Connection>> {
        self.ensure_own_socket()?;
        let context = "reading /proc/net/ip_vs_conn";
        let file = (self.socket.open_proc_net(FILE)).map_err(|e| Error::io(context, e))?;
        // Read a line at a time: millions of connections make hundreds of MB of text.
        let source = BufReader::with_capacity(READ_BUFFER, file);
        let mut conns = conn_table::read(source).map_err(|e| match e {
            ReadError::Io(e) => Error::io(context, e),
            ReadError::Malformed(detail) => Error::Malformed {
                context: context.to_owned(),
                detail,
            },
        })?;
        let mut seen = HashSet::new();
        conns.retain(|c| seen.insert((c.target, c.client, c.real)));
        self.fill_forwarding(&mut conns)?;
        Ok(conns)
    }

    /// Sets each entry's forwarding method from its destination in the table. An entry
    /// of an address service names the service; a connection of a firewall-mark service
    /// names only the address the client reached, so its real server is looked up among
    /// the firewall-mark services of that family.
    fn fill_forwarding(&mut self, conns: &mut [Connection]) -> Result<()> {
        if conns.is_empty() {
            return Ok(());
        }
        let services: HashSet<ServiceKey> = self
            .services()?
            .into_iter()
            .map(|e| e.service.key)
            .collect();
        let named: HashSet<&ServiceKey> = conns.iter().map(|c| &c.target).collect();
        let fwmark_needed = conns.iter().any(|c| !services.contains(&c.target));
        let mut by_service: HashMap<(ServiceKey, SocketAddr), Forward> = HashMap::new();
        // `None`: firewall-mark services of the family send this real server packets in
        // more than one way.
        let mut by_fwmark: HashMap<(Family, SocketAddr), Option<Forward>> = HashMap::new();
        for key in &services {
            let is_fwmark = matches!(key, ServiceKey::Fwmark { .. });
            let wanted = named.contains(key) || (is_fwmark && fwmark_needed);
            if !wanted {
                continue;
            }
            // A service deleted since the listing has no destinations: the kernel answers
            // an empty list.
            for d in self.dests(key)? {
                let real = SocketAddr::new(d.dest.addr, d.dest.port);
                by_service.insert((*key, real), d.dest.forward);
                if is_fwmark {
                    by_fwmark
                        .entry((key.family(), real))
                        .and_modify(|f| {
                            if *f != Some(d.dest.forward) {
                                *f = None
                            }
                        })
                        .or_insert(Some(d.dest.forward));
                }
            }
        }
        for c in conns {
            c.forward = if services.contains(&c.target) {
                by_service.get(&(c.target, c.real)).copied()
            } else {
                by_fwmark
                    .get(&(c.target.family(), c.real))
                    .copied()
                    .flatten()
            };
        }
        Ok(())
    }
}
