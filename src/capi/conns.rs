//! The connection table of a handle's namespace (`ipvsrs_conns`): a snapshot iterated
//! like the services, each entry a plain struct with the kernel's numbers.

use std::ffi::c_char;

use super::handle::{ipvsrs_handle, with_live_handle};
use super::iter::Snapshot;
use super::live::{self, Live};
use super::types::{
    ipvsrs_inet_addr, string_to_c_buf, Unrepresentable, IPVSRS_PEDATA_MAXLEN, IPVSRS_PENAME_MAXLEN,
};
use super::{boundary, or_fail, pointer, CError};
use crate::model::{Connection, ServiceKey};

/// Room for a state name in `ipvsrs_conn`, with its NUL.
pub const IPVSRS_CONN_STATE_LEN: usize = 32;

/// `ipvsrs_conn.fwd` when the forwarding method is not known: the table no longer has
/// the real server, or firewall-mark services reach it in more than one way.
pub const IPVSRS_CONN_FWD_UNKNOWN: u32 = u32::MAX;

/// One entry of the connection table, as `ipvsadm -Lnc` shows it. Addresses and ports
/// are in network byte order, as in the libipvs entries.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ipvsrs_conn {
    /// IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP; 0 for a persistence template of a
    /// firewall-mark service (whose mark is in `fwmark`, with `vaddr` and `vport` 0).
    pub protocol: u16,
    /// AF_INET or AF_INET6: the family of `caddr` and `vaddr`.
    pub af: u16,
    /// The family of `daddr`, which may differ from `af` (tunnelling).
    pub daf: u16,
    /// The client's port; 0 in a persistence template.
    pub cport: u16,
    /// The virtual port the client reached.
    pub vport: u16,
    /// The real server's port.
    pub dport: u16,
    /// The client; in a template its network, the persistence netmask applied.
    pub caddr: ipvsrs_inet_addr,
    /// The virtual address the client reached.
    pub vaddr: ipvsrs_inet_addr,
    /// The real server.
    pub daddr: ipvsrs_inet_addr,
    /// The firewall mark of a firewall-mark service's template, else 0.
    pub fwmark: u32,
    /// The forwarding method (IPVSRS_CONN_F_MASQ, _LOCALNODE, _TUNNEL, _DROUTE, _BYPASS)
    /// of the real server in the table, or IPVSRS_CONN_FWD_UNKNOWN.
    pub fwd: u32,
    /// Seconds until the entry expires.
    pub expires: u32,
    /// 1 for a persistence template, 0 for a connection.
    pub is_template: u32,
    /// The state as the kernel names it ("ESTABLISHED", "UDP", "NONE", ...), NUL-terminated.
    pub state: [c_char; IPVSRS_CONN_STATE_LEN],
    /// The persistence engine's name ("sip"), or "" for none.
    pub pe_name: [c_char; 17], // IPVSRS_PENAME_MAXLEN + 1
    /// The engine's data for this entry (the SIP Call-ID), or "": the bytes the kernel
    /// printed, which need not be UTF-8, NUL-terminated.
    pub pe_data: [c_char; 256], // IPVSRS_PEDATA_MAXLEN + 1
}

/// Copies `s` into `buf` if it fits with its NUL; a name or data is never cut.
fn fit(s: &[u8], buf: &mut [c_char], what: &str) -> Result<(), Unrepresentable> {
    if s.len() >= buf.len() || s.contains(&0) {
        return Err(Unrepresentable {
            errno: libc::EINVAL,
            detail: format!(
                "the {what} \"{}\" does not fit ipvsrs_conn's {} bytes",
                s.escape_ascii(),
                buf.len()
            ),
        });
    }
    string_to_c_buf(s, buf);
    Ok(())
}

impl TryFrom<&Connection> for ipvsrs_conn {
    type Error = Unrepresentable;

    fn try_from(c: &Connection) -> Result<ipvsrs_conn, Unrepresentable> {
        let (protocol, vaddr, vport, fwmark) = match c.target {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (protocol.number(), ipvsrs_inet_addr::from_ip(addr), port, 0),
            ServiceKey::Fwmark { mark, .. } => (0, ipvsrs_inet_addr::default(), 0, mark),
        };
        let mut conn = ipvsrs_conn {
            protocol,
            af: c.target.family().number(),
            daf: crate::model::Family::of(&c.real.ip()).number(),
            cport: c.client.port().to_be(),
            vport: vport.to_be(),
            dport: c.real.port().to_be(),
            caddr: ipvsrs_inet_addr::from_ip(c.client.ip()),
            vaddr,
            daddr: ipvsrs_inet_addr::from_ip(c.real.ip()),
            fwmark,
            fwd: c.forward.map_or(IPVSRS_CONN_FWD_UNKNOWN, |f| f.number()),
            expires: u32::try_from(c.expires.as_secs()).unwrap_or(u32::MAX),
            is_template: c.template.into(),
            state: [0; IPVSRS_CONN_STATE_LEN],
            pe_name: [0; IPVSRS_PENAME_MAXLEN + 1],
            pe_data: [0; IPVSRS_PEDATA_MAXLEN + 1],
        };
        fit(c.state.as_bytes(), &mut conn.state, "state")?;
        if let Some((name, data)) = &c.engine {
            fit(
                name.as_bytes(),
                &mut conn.pe_name,
                "persistence engine name",
            )?;
            fit(data, &mut conn.pe_data, "persistence engine data")?;
        }
        Ok(conn)
    }
}

/// Iterator over a snapshot of the connection table (`ipvsrs_conns`).
pub struct ipvsrs_conn_iter(Snapshot<ipvsrs_conn>);

impl Live for ipvsrs_conn_iter {
    const NAME: &'static str = "connection iterator";
    const MADE_BY: &'static str = "ipvsrs_conns";
}

/// Takes a snapshot of the connection table of the handle's namespace: every connection
/// and persistence template, IPv4 and IPv6, read from /proc/net/ip_vs_conn in that
/// namespace (entries that begin or end during the read may be missing; none is listed
/// twice), each with the forwarding method its real server has in the service table.
/// Returns an iterator to release with `ipvsrs_conn_iter_free`, or NULL with errno:
/// EINVAL, with `ipvsrs_last_error` naming the line, if the kernel printed a line this
/// library does not understand (no entry is made up). Thread-safe per handle.
#[no_mangle]
pub extern "C" fn ipvsrs_conns(h: *mut ipvsrs_handle) -> *mut ipvsrs_conn_iter {
    boundary(std::ptr::null_mut(), || {
        pointer(with_live_handle(h, |c| {
            let entries = (c.handle.connections()?)
                .iter()
                .map(ipvsrs_conn::try_from)
                .collect::<Result<Vec<_>, _>>()
                .map_err(CError::from)?;
            Ok(live::give(ipvsrs_conn_iter(Snapshot::new(entries))))
        }))
    })
}

/// The next entry, or NULL at the end (or, with errno, for an iterator that is NULL or
/// not live). The entry belongs to the iterator and stays valid until it is freed. Not
/// thread-safe per iterator.
#[no_mangle]
pub extern "C" fn ipvsrs_conn_iter_next(it: *mut ipvsrs_conn_iter) -> *const ipvsrs_conn {
    // SAFETY: the C contract: one thread at a time per iterator.
    boundary(std::ptr::null(), || {
        or_fail(
            unsafe { live::get_mut(it) }.map(|it| it.0.next()),
            std::ptr::null(),
        )
    })
}

/// The number of entries in the snapshot (0, with errno, for an iterator that is NULL or
/// not live).
#[no_mangle]
pub extern "C" fn ipvsrs_conn_iter_count(it: *const ipvsrs_conn_iter) -> usize {
    // SAFETY: only read.
    boundary(0, || {
        or_fail(unsafe { live::get(it) }.map(|it| it.0.len()), 0)
    })
}

/// Frees a connection iterator and its entries. NULL is ignored; an iterator freed
/// already is left alone, with errno `EBADF`.
#[no_mangle]
pub extern "C" fn ipvsrs_conn_iter_free(it: *mut ipvsrs_conn_iter) {
    boundary((), || or_fail(live::take(it).map(drop), ()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn engine_data_that_is_not_utf8_reaches_c_as_its_bytes() {
        let conn = Connection {
            target: ServiceKey::udp("10.0.0.254".parse().unwrap(), 5060),
            client: "10.0.1.2:5060".parse().unwrap(),
            real: "10.0.2.1:5060".parse().unwrap(),
            template: true,
            state: "NONE".to_owned(),
            expires: Duration::from_secs(179),
            forward: None,
            engine: Some(("sip".to_owned(), b"a8\xff4b@pc33".to_vec())),
        };
        let c = ipvsrs_conn::try_from(&conn).unwrap();
        let data: Vec<u8> = c.pe_data.iter().map(|&b| b as u8).collect();
        assert_eq!(&data[..11], b"a8\xff4b@pc33\0");
        let with_nul = Connection {
            engine: Some(("sip".to_owned(), b"a\0b".to_vec())),
            ..conn
        };
        let refused = ipvsrs_conn::try_from(&with_nul).err().unwrap();
        assert!(refused.detail.contains("\"a\\x00b\""), "{}", refused.detail);
    }
}
