//! The IPVS generic-netlink family: command and attribute numbers (from the kernel's
//! `include/uapi/linux/ip_vs.h`), the encoding of every request, and the decoding of the
//! kernel's replies into [`crate::model`] types.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::netlink::{
    attrs, Attr, AttrTable, DecodeError, MessageWriter, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use crate::model::{
    Daemon, DaemonRole, DestEntry, DestKey, Destination, Family, Forward, Info, Protocol, Service,
    ServiceEntry, ServiceEntryRef, ServiceFlags, ServiceKey, Stats, Timeouts, Tunnel, TunnelFlags,
    TunnelType,
};

pub const IPVS_GENL_NAME: &str = "IPVS";
pub const IPVS_GENL_VERSION: u8 = 1;

/// `IPVS_CMD_*`.
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// `IPVS_CMD_ATTR_*` (top level).
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
    pub const MAX: u16 = 6;
}

/// `IPVS_SVC_ATTR_*`.
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const MAX: u16 = 12;
}

/// `IPVS_DEST_ATTR_*`.
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
    pub const MAX: u16 = 15;
}

/// `IPVS_DAEMON_ATTR_*`.
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
    pub const MAX: u16 = 8;
}

/// `IPVS_STATS_ATTR_*` (the same numbers in `STATS` and `STATS64`; 11 is padding).
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
}

/// `IPVS_INFO_ATTR_*`.
pub mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
    pub const MAX: u16 = 2;
}

/// One request to the IPVS family. Every command of the family has a variant.
#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    GetInfo,
    NewService(&'a Service),
    /// Replaces the service's settings; only the flag bits in `flags_mask` are changed.
    SetService {
        service: &'a Service,
        flags_mask: u32,
    },
    DelService(&'a ServiceKey),
    GetService(&'a ServiceKey),
    DumpServices,
    NewDest(&'a ServiceKey, &'a Destination),
    SetDest(&'a ServiceKey, &'a Destination),
    DelDest(&'a ServiceKey, DestKey),
    DumpDests(&'a ServiceKey),
    /// Zeroes one service's counters, or all of them.
    Zero(Option<&'a ServiceKey>),
    Flush,
    SetTimeouts(&'a Timeouts),
    GetTimeouts,
    NewDaemon(&'a Daemon),
    DelDaemon(DaemonRole),
    DumpDaemons,
}

impl Request<'_> {
    fn command(&self) -> u8 {
        match self {
            Request::GetInfo => cmd::GET_INFO,
            Request::NewService(_) => cmd::NEW_SERVICE,
            Request::SetService { .. } => cmd::SET_SERVICE,
            Request::DelService(_) => cmd::DEL_SERVICE,
            Request::GetService(_) | Request::DumpServices => cmd::GET_SERVICE,
            Request::NewDest(..) => cmd::NEW_DEST,
            Request::SetDest(..) => cmd::SET_DEST,
            Request::DelDest(..) => cmd::DEL_DEST,
            Request::DumpDests(_) => cmd::GET_DEST,
            Request::Zero(_) => cmd::ZERO,
            Request::Flush => cmd::FLUSH,
            Request::SetTimeouts(_) => cmd::SET_CONFIG,
            Request::GetTimeouts => cmd::GET_CONFIG,
            Request::NewDaemon(_) => cmd::NEW_DAEMON,
            Request::DelDaemon(_) => cmd::DEL_DAEMON,
            Request::DumpDaemons => cmd::GET_DAEMON,
        }
    }

    pub fn is_dump(&self) -> bool {
        matches!(
            self,
            Request::DumpServices | Request::DumpDests(_) | Request::DumpDaemons
        )
    }

    /// Appends the request as one netlink message for the family `family`.
    pub fn encode(&self, buf: &mut Vec<u8>, family: u16, seq: u32) {
        let flags = NLM_F_REQUEST | NLM_F_ACK | if self.is_dump() { NLM_F_DUMP } else { 0 };
        let mut w =
            MessageWriter::begin(buf, family, flags, seq, self.command(), IPVS_GENL_VERSION);
        match *self {
            Request::GetInfo
            | Request::DumpServices
            | Request::Flush
            | Request::GetTimeouts
            | Request::DumpDaemons
            | Request::Zero(None) => {}
            Request::NewService(service) => put_service(&mut w, service, u32::MAX),
            Request::SetService {
                service,
                flags_mask,
            } => put_service(&mut w, service, flags_mask),
            Request::DelService(key)
            | Request::GetService(key)
            | Request::DumpDests(key)
            | Request::Zero(Some(key)) => put_service_key_nest(&mut w, key),
            Request::NewDest(key, dest) | Request::SetDest(key, dest) => {
                put_service_key_nest(&mut w, key);
                put_dest(&mut w, dest);
            }
            Request::DelDest(key, dest) => {
                put_service_key_nest(&mut w, key);
                let nest = w.begin_nest(cmd_attr::DEST);
                put_dest_key(&mut w, &dest);
                w.end_nest(nest);
            }
            Request::SetTimeouts(t) => {
                w.put_u32(cmd_attr::TIMEOUT_TCP, t.tcp);
                w.put_u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin);
                w.put_u32(cmd_attr::TIMEOUT_UDP, t.udp);
            }
            Request::NewDaemon(d) => put_daemon(&mut w, d),
            Request::DelDaemon(role) => {
                let nest = w.begin_nest(cmd_attr::DAEMON);
                w.put_u32(daemon_attr::STATE, role.number());
                w.end_nest(nest);
            }
        }
        w.finish();
    }
}

/// The 16-byte `union nf_inet_addr` image of an address (IPv4 in the first four bytes).
fn inet_addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b = a.octets(),
    }
    b
}

fn put_service_key(w: &mut MessageWriter<'_>, key: &ServiceKey) {
    w.put_u16(svc_attr::AF, key.family().number());
    match key {
        ServiceKey::Fwmark { mark, .. } => w.put_u32(svc_attr::FWMARK, *mark),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            w.put_u16(svc_attr::PROTOCOL, protocol.number());
            w.put(svc_attr::ADDR, &inet_addr_bytes(addr));
            w.put_be16(svc_attr::PORT, *port);
        }
    }
}

fn put_service_key_nest(w: &mut MessageWriter<'_>, key: &ServiceKey) {
    let nest = w.begin_nest(cmd_attr::SERVICE);
    put_service_key(w, key);
    w.end_nest(nest);
}

/// IPv4 masks travel in network order, IPv6 prefix lengths as plain numbers.
fn netmask_bytes(family: Family, netmask: u32) -> [u8; 4] {
    match family {
        Family::Inet => netmask.to_be_bytes(),
        Family::Inet6 => netmask.to_ne_bytes(),
    }
}

fn put_service(w: &mut MessageWriter<'_>, s: &Service, flags_mask: u32) {
    let nest = w.begin_nest(cmd_attr::SERVICE);
    put_service_key(w, &s.key);
    w.put_str(svc_attr::SCHED_NAME, &s.scheduler);
    if let Some(pe) = &s.pe_name {
        w.put_str(svc_attr::PE_NAME, pe);
    }
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&s.flags.0.to_ne_bytes());
    flags[4..].copy_from_slice(&flags_mask.to_ne_bytes());
    w.put(svc_attr::FLAGS, &flags);
    w.put_u32(svc_attr::TIMEOUT, s.timeout);
    w.put(svc_attr::NETMASK, &netmask_bytes(s.key.family(), s.netmask));
    w.end_nest(nest);
}

fn put_dest_key(w: &mut MessageWriter<'_>, d: &DestKey) {
    w.put_u16(dest_attr::ADDR_FAMILY, Family::of(&d.addr).number());
    w.put(dest_attr::ADDR, &inet_addr_bytes(&d.addr));
    w.put_be16(dest_attr::PORT, d.port);
}

fn put_dest(w: &mut MessageWriter<'_>, d: &Destination) {
    let nest = w.begin_nest(cmd_attr::DEST);
    put_dest_key(w, &d.key());
    w.put_u32(dest_attr::FWD_METHOD, d.forward.number());
    w.put_u32(dest_attr::WEIGHT, d.weight as u32);
    // Sent for every destination, as libipvs 1.31 does; kernels without tunnel types
    // ignore them and others use them only for tunnel forwarding.
    w.put_u8(dest_attr::TUN_TYPE, d.tunnel.kind.number());
    w.put_be16(dest_attr::TUN_PORT, d.tunnel.port);
    w.put_u16(dest_attr::TUN_FLAGS, d.tunnel.flags.0);
    w.put_u32(dest_attr::U_THRESH, d.upper_threshold);
    w.put_u32(dest_attr::L_THRESH, d.lower_threshold);
    w.end_nest(nest);
}

fn put_daemon(w: &mut MessageWriter<'_>, d: &Daemon) {
    let nest = w.begin_nest(cmd_attr::DAEMON);
    w.put_u32(daemon_attr::STATE, d.role.number());
    w.put_str(daemon_attr::MCAST_IFN, &d.ifname);
    w.put_u32(daemon_attr::SYNC_ID, d.sync_id);
    if d.sync_maxlen != 0 {
        w.put_u16(daemon_attr::SYNC_MAXLEN, d.sync_maxlen);
    }
    if d.mcast_port != 0 {
        w.put_u16(daemon_attr::MCAST_PORT, d.mcast_port);
    }
    if d.mcast_ttl != 0 {
        w.put_u8(daemon_attr::MCAST_TTL, d.mcast_ttl);
    }
    match d.mcast_group {
        Some(IpAddr::V4(g)) => w.put(daemon_attr::MCAST_GROUP, &g.octets()),
        Some(IpAddr::V6(g)) => w.put(daemon_attr::MCAST_GROUP6, &g.octets()),
        None => {}
    }
    w.end_nest(nest);
}

fn decode_addr(a: Attr<'_>, family: Family) -> Result<IpAddr, DecodeError> {
    match family {
        Family::Inet => {
            let b: [u8; 4] = a
                .payload
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    DecodeError(format!("address attribute of {} bytes", a.payload.len()))
                })?;
            Ok(IpAddr::V4(Ipv4Addr::from(b)))
        }
        Family::Inet6 => {
            let b: [u8; 16] = a
                .payload
                .get(..16)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    DecodeError(format!(
                        "IPv6 address attribute of {} bytes",
                        a.payload.len()
                    ))
                })?;
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

fn decode_family(a: Attr<'_>) -> Result<Family, DecodeError> {
    let n = a.u16()?;
    Family::from_number(n).ok_or_else(|| DecodeError(format!("unknown address family {n}")))
}

/// Decodes a `STATS` or `STATS64` nest; counters are 32 or 64 bits by their length.
pub fn decode_stats(nest: &[u8]) -> Result<Stats, DecodeError> {
    // One pass without a table, into the counters by number: a listing decodes one stats
    // nest a service.
    const _: () = assert!(stats_attr::CONNS == 1 && stats_attr::OUTBPS == 10);
    let mut counters = [0u64; stats_attr::OUTBPS as usize];
    for a in attrs(nest) {
        if let Some(counter) =
            (usize::from(a.kind).checked_sub(1)).and_then(|i| counters.get_mut(i))
        {
            *counter = a.counter()?;
        }
    }
    let [conns, inpkts, outpkts, inbytes, outbytes, cps, inpps, outpps, inbps, outbps] = counters;
    Ok(Stats {
        conns,
        inpkts,
        outpkts,
        inbytes,
        outbytes,
        cps,
        inpps,
        outpps,
        inbps,
        outbps,
    })
}

/// The 64-bit statistics if the kernel sent them (4.1+), else the 32-bit ones.
fn decode_either_stats(t: &AttrTable<'_>, stats64: u16, stats: u16) -> Result<Stats, DecodeError> {
    match t.get(stats64).or_else(|| t.get(stats)) {
        Some(a) => decode_stats(a.payload),
        None => Ok(Stats::default()),
    }
}

/// Finds the nest `kind` among a message's top-level attributes.
pub fn top_level_nest(top: &[u8], kind: u16) -> Result<&[u8], DecodeError> {
    // The last of that kind, as in an AttrTable, without building one for a single nest.
    let nest = attrs(top).filter(|a| a.kind == kind).last();
    nest.map(|a| a.payload)
        .ok_or_else(|| DecodeError("missing attribute nest".into()))
}

/// Decodes the service nest of a `GET_SERVICE` reply.
pub fn decode_service(nest: &[u8]) -> Result<ServiceEntry, DecodeError> {
    decode_service_ref(nest).map(ServiceEntry::from)
}

/// Decodes the service nest of a `GET_SERVICE` reply, its names borrowed from the nest.
pub fn decode_service_ref(nest: &[u8]) -> Result<ServiceEntryRef<'_>, DecodeError> {
    let t = AttrTable::parse(nest, svc_attr::MAX);
    let family = decode_family(t.require(svc_attr::AF, "IPVS_SVC_ATTR_AF")?)?;
    let key = match t.get(svc_attr::FWMARK) {
        Some(mark) if mark.u32()? != 0 => ServiceKey::Fwmark {
            family,
            mark: mark.u32()?,
        },
        _ => {
            let proto = t
                .require(svc_attr::PROTOCOL, "IPVS_SVC_ATTR_PROTOCOL")?
                .u16()?;
            ServiceKey::Addr {
                protocol: Protocol::from_number(proto)
                    .ok_or_else(|| DecodeError(format!("unknown protocol {proto}")))?,
                addr: decode_addr(t.require(svc_attr::ADDR, "IPVS_SVC_ATTR_ADDR")?, family)?,
                port: t.require(svc_attr::PORT, "IPVS_SVC_ATTR_PORT")?.be16()?,
            }
        }
    };
    let flags = match t.get(svc_attr::FLAGS) {
        Some(a) => a.u32()?,
        None => 0,
    };
    let netmask = match t.get(svc_attr::NETMASK) {
        Some(a) => match family {
            Family::Inet => u32::from_be_bytes(
                a.payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| DecodeError("short netmask".into()))?,
            ),
            Family::Inet6 => a.u32()?,
        },
        None => crate::model::host_netmask(family),
    };
    let pe_name = match t.get(svc_attr::PE_NAME) {
        Some(a) => Some(a.as_str()?).filter(|name| !name.is_empty()),
        None => None,
    };
    Ok(ServiceEntryRef {
        key,
        scheduler: match t.get(svc_attr::SCHED_NAME) {
            Some(a) => a.as_str()?,
            None => "",
        },
        flags: ServiceFlags(flags),
        timeout: t.get(svc_attr::TIMEOUT).map_or(Ok(0), |a| a.u32())?,
        netmask,
        pe_name,
        stats: decode_either_stats(&t, svc_attr::STATS64, svc_attr::STATS)?,
    })
}

/// Decodes the destination nest of a `GET_DEST` reply. Kernels before 3.18 send no
/// address family: the service's is used then.
pub fn decode_dest(nest: &[u8], service_family: Family) -> Result<DestEntry, DecodeError> {
    let t = AttrTable::parse(nest, dest_attr::MAX);
    let family = match t.get(dest_attr::ADDR_FAMILY) {
        Some(a) if a.u16()? != 0 => decode_family(a)?,
        _ => service_family,
    };
    let u32_or_0 = |kind| t.get(kind).map_or(Ok(0), |a: Attr<'_>| a.u32());
    let fwd = u32_or_0(dest_attr::FWD_METHOD)?;
    let tun_type = t.get(dest_attr::TUN_TYPE).map_or(Ok(0), |a| a.u8())?;
    Ok(DestEntry {
        dest: Destination {
            addr: decode_addr(t.require(dest_attr::ADDR, "IPVS_DEST_ATTR_ADDR")?, family)?,
            port: t.require(dest_attr::PORT, "IPVS_DEST_ATTR_PORT")?.be16()?,
            forward: Forward::from_conn_flags(fwd),
            weight: u32_or_0(dest_attr::WEIGHT)? as i32,
            upper_threshold: u32_or_0(dest_attr::U_THRESH)?,
            lower_threshold: u32_or_0(dest_attr::L_THRESH)?,
            tunnel: Tunnel {
                kind: TunnelType::from_number(tun_type),
                port: t.get(dest_attr::TUN_PORT).map_or(Ok(0), |a| a.be16())?,
                flags: TunnelFlags(t.get(dest_attr::TUN_FLAGS).map_or(Ok(0), |a| a.u16())?),
            },
        },
        active_conns: u32_or_0(dest_attr::ACTIVE_CONNS)?,
        inactive_conns: u32_or_0(dest_attr::INACT_CONNS)?,
        persistent_conns: u32_or_0(dest_attr::PERSIST_CONNS)?,
        stats: decode_either_stats(&t, dest_attr::STATS64, dest_attr::STATS)?,
    })
}

/// Decodes the daemon nest of a `GET_DAEMON` reply.
pub fn decode_daemon(nest: &[u8]) -> Result<Daemon, DecodeError> {
    let t = AttrTable::parse(nest, daemon_attr::MAX);
    let state = t
        .require(daemon_attr::STATE, "IPVS_DAEMON_ATTR_STATE")?
        .u32()?;
    let mcast_group = match (
        t.get(daemon_attr::MCAST_GROUP6),
        t.get(daemon_attr::MCAST_GROUP),
    ) {
        (Some(a), _) => Some(decode_addr(a, Family::Inet6)?),
        (None, Some(a)) => Some(decode_addr(a, Family::Inet)?),
        (None, None) => None,
    };
    Ok(Daemon {
        role: DaemonRole::from_number(state)
            .ok_or_else(|| DecodeError(format!("unknown daemon state {state}")))?,
        ifname: t
            .require(daemon_attr::MCAST_IFN, "IPVS_DAEMON_ATTR_MCAST_IFN")?
            .as_str()?
            .to_owned(),
        sync_id: t.get(daemon_attr::SYNC_ID).map_or(Ok(0), |a| a.u32())?,
        sync_maxlen: t.get(daemon_attr::SYNC_MAXLEN).map_or(Ok(0), |a| a.u16())?,
        mcast_group,
        mcast_port: t.get(daemon_attr::MCAST_PORT).map_or(Ok(0), |a| a.u16())?,
        mcast_ttl: t.get(daemon_attr::MCAST_TTL).map_or(Ok(0), |a| a.u8())?,
    })
}

/// Decodes a `GET_INFO` reply (its attributes are at the top level).
pub fn decode_info(attrs: &[u8]) -> Result<Info, DecodeError> {
    let t = AttrTable::parse(attrs, info_attr::MAX);
    Ok(Info {
        version: t
            .require(info_attr::VERSION, "IPVS_INFO_ATTR_VERSION")?
            .u32()?,
        conn_tab_size: t
            .require(info_attr::CONN_TAB_SIZE, "IPVS_INFO_ATTR_CONN_TAB_SIZE")?
            .u32()?,
    })
}

/// Decodes a `GET_CONFIG` reply; a protocol the kernel was built without reads as 0.
pub fn decode_timeouts(attrs: &[u8]) -> Result<Timeouts, DecodeError> {
    let t = AttrTable::parse(attrs, cmd_attr::MAX);
    let get = |kind| t.get(kind).map_or(Ok(0), |a: Attr<'_>| a.u32());
    Ok(Timeouts {
        tcp: get(cmd_attr::TIMEOUT_TCP)?,
        tcp_fin: get(cmd_attr::TIMEOUT_TCP_FIN)?,
        udp: get(cmd_attr::TIMEOUT_UDP)?,
    })
}

/// What a request does, for error messages: "adding service tcp://10.0.0.1:80".
impl std::fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::GetInfo => write!(f, "getting IPVS info"),
            Request::NewService(s) => write!(f, "adding service {}", s.key),
            Request::SetService { service, .. } => write!(f, "updating service {}", service.key),
            Request::DelService(k) => write!(f, "deleting service {k}"),
            Request::GetService(k) => write!(f, "getting service {k}"),
            Request::DumpServices => write!(f, "listing services"),
            Request::NewDest(k, d) => write!(f, "adding destination {} to {k}", d.key()),
            Request::SetDest(k, d) => write!(f, "updating destination {} of {k}", d.key()),
            Request::DelDest(k, d) => write!(f, "deleting destination {d} of {k}"),
            Request::DumpDests(k) => write!(f, "listing destinations of {k}"),
            Request::Zero(Some(k)) => write!(f, "zeroing counters of {k}"),
            Request::Zero(None) => write!(f, "zeroing all counters"),
            Request::Flush => write!(f, "flushing the table"),
            Request::SetTimeouts(_) => write!(f, "setting timeouts"),
            Request::GetTimeouts => write!(f, "getting timeouts"),
            Request::NewDaemon(d) => write!(f, "starting {} sync daemon on {}", d.role, d.ifname),
            Request::DelDaemon(r) => write!(f, "stopping {r} sync daemon"),
            Request::DumpDaemons => write!(f, "listing sync daemons"),
        }
    }
}
