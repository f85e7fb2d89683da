//! libipvs 1.31's C types and constants (`libipvs.h` and its `ip_vs.h`), which the
//! libipvs surface and the native API both use, with the x86_64 layouts asserted at
//! compile time, and their conversions to and from [`crate::model`].

#![allow(non_camel_case_types, non_upper_case_globals)]

use std::ffi::{c_char, c_int, c_uint};
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{
    Daemon, DaemonRole, DestEntry, DestKey, Destination, Family, Forward, Protocol, Service,
    ServiceEntry, ServiceEntryRef, ServiceFlags, ServiceKey, Stats, Timeouts, Tunnel, TunnelFlags,
    TunnelType,
};

pub const IPVSRS_IPVS_VERSION_CODE: c_uint = 0x010201;
pub const IPVSRS_SCHEDNAME_MAXLEN: usize = 16;
pub const IPVSRS_PENAME_MAXLEN: usize = 16;
pub const IPVSRS_IFNAME_MAXLEN: usize = 16;
pub const IPVSRS_PEDATA_MAXLEN: usize = 255;

pub const IPVSRS_SVC_F_PERSISTENT: c_uint = 0x0001;
pub const IPVSRS_SVC_F_HASHED: c_uint = 0x0002;
pub const IPVSRS_SVC_F_ONEPACKET: c_uint = 0x0004;
pub const IPVSRS_SVC_F_SCHED1: c_uint = 0x0008;
pub const IPVSRS_SVC_F_SCHED2: c_uint = 0x0010;
pub const IPVSRS_SVC_F_SCHED3: c_uint = 0x0020;
pub const IPVSRS_SVC_F_SCHED_SH_FALLBACK: c_uint = IPVSRS_SVC_F_SCHED1;
pub const IPVSRS_SVC_F_SCHED_SH_PORT: c_uint = IPVSRS_SVC_F_SCHED2;
pub const IPVSRS_SVC_F_SCHED_MH_FALLBACK: c_uint = IPVSRS_SVC_F_SCHED1;
pub const IPVSRS_SVC_F_SCHED_MH_PORT: c_uint = IPVSRS_SVC_F_SCHED2;

pub const IPVSRS_DEST_F_AVAILABLE: c_uint = 0x0001;
pub const IPVSRS_DEST_F_OVERLOAD: c_uint = 0x0002;

pub const IPVSRS_STATE_NONE: c_int = 0x0000;
pub const IPVSRS_STATE_MASTER: c_int = 0x0001;
pub const IPVSRS_STATE_BACKUP: c_int = 0x0002;

pub const IPVSRS_CONN_F_FWD_MASK: c_uint = 0x0007;
pub const IPVSRS_CONN_F_MASQ: c_uint = 0x0000;
pub const IPVSRS_CONN_F_LOCALNODE: c_uint = 0x0001;
pub const IPVSRS_CONN_F_TUNNEL: c_uint = 0x0002;
pub const IPVSRS_CONN_F_DROUTE: c_uint = 0x0003;
pub const IPVSRS_CONN_F_BYPASS: c_uint = 0x0004;
pub const IPVSRS_CONN_F_SYNC: c_uint = 0x0020;
pub const IPVSRS_CONN_F_HASHED: c_uint = 0x0040;
pub const IPVSRS_CONN_F_NOOUTPUT: c_uint = 0x0080;
pub const IPVSRS_CONN_F_INACTIVE: c_uint = 0x0100;
pub const IPVSRS_CONN_F_OUT_SEQ: c_uint = 0x0200;
pub const IPVSRS_CONN_F_IN_SEQ: c_uint = 0x0400;
pub const IPVSRS_CONN_F_SEQ_MASK: c_uint = 0x0600;
pub const IPVSRS_CONN_F_NO_CPORT: c_uint = 0x0800;
pub const IPVSRS_CONN_F_TEMPLATE: c_uint = 0x1000;
pub const IPVSRS_CONN_F_ONE_PACKET: c_uint = 0x2000;

pub const IPVSRS_CONN_F_TUNNEL_TYPE_IPIP: c_uint = 0;
pub const IPVSRS_CONN_F_TUNNEL_TYPE_GUE: c_uint = 1;
pub const IPVSRS_CONN_F_TUNNEL_TYPE_GRE: c_uint = 2;
pub const IPVSRS_CONN_F_TUNNEL_TYPE_MAX: c_uint = 3;
pub const IPVSRS_TUNNEL_ENCAP_FLAG_NOCSUM: c_uint = 0;
pub const IPVSRS_TUNNEL_ENCAP_FLAG_CSUM: c_uint = 1 << 0;
pub const IPVSRS_TUNNEL_ENCAP_FLAG_REMCSUM: c_uint = 1 << 1;

/// `struct in_addr` from `<netinet/in.h>` (the header says so through a rename).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct in_addr {
    pub s_addr: u32,
}

/// `struct in6_addr` from `<netinet/in.h>`.
#[repr(C, align(4))]
#[derive(Clone, Copy)]
pub struct in6_addr {
    pub s6_addr: [u8; 16],
}

/// An IPv4 or IPv6 address in network byte order; IPv4 lives in the first four bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ipvsrs_inet_addr {
    pub all: [u32; 4],
    pub ip: u32,
    pub ip6: [u32; 4],
    pub r#in: in_addr,
    pub in6: in6_addr,
}

/// Counters with 32-bit packet and connection counts and rates (wrap around).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_stats_user {
    pub conns: u32,
    pub inpkts: u32,
    pub outpkts: u32,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u32,
    pub inpps: u32,
    pub outpps: u32,
    pub inbps: u32,
    pub outbps: u32,
}

/// All counters and rate estimates, 64-bit.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_stats64 {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// `ipvs_info`'s type: version code, connection table size, number of services.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_getinfo {
    pub version: c_uint,
    pub size: c_uint,
    pub num_services: c_uint,
}

/// A virtual service as written (`ipvsrs_service_user`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_service_user {
    /// `IPPROTO_TCP`, `IPPROTO_UDP` or `IPPROTO_SCTP`; unused for fwmark services.
    pub protocol: u16,
    /// Internal to libipvs's sockopt path; ignored.
    pub __addr_v4: u32,
    /// Virtual port, network byte order.
    pub port: u16,
    /// Firewall mark; non-zero makes this a fwmark service.
    pub fwmark: u32,
    pub sched_name: [c_char; IPVSRS_SCHEDNAME_MAXLEN],
    /// `IPVSRS_SVC_F_*`.
    pub flags: c_uint,
    /// Persistence timeout, seconds.
    pub timeout: c_uint,
    /// IPv4: persistence netmask in network byte order; IPv6: prefix length.
    pub netmask: u32,
    /// `AF_INET` or `AF_INET6`.
    pub af: u16,
    pub addr: ipvsrs_inet_addr,
    pub pe_name: [c_char; 17], // IPVSRS_PENAME_MAXLEN + 1
}

/// A destination (real server) as written (`ipvsrs_dest_user`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_dest_user {
    /// Internal to libipvs's sockopt path; ignored.
    pub __addr_v4: u32,
    /// Real port, network byte order.
    pub port: u16,
    /// Forwarding method in the low three bits (`IPVSRS_CONN_F_FWD_MASK`).
    pub conn_flags: c_uint,
    pub weight: c_int,
    pub u_threshold: u32,
    pub l_threshold: u32,
    /// Address family of the destination; 0 means the service's.
    pub af: u16,
    pub addr: ipvsrs_inet_addr,
    /// `IPVSRS_CONN_F_TUNNEL_TYPE_*`.
    pub tun_type: u16,
    /// GUE port, network byte order.
    pub tun_port: u16,
    /// `IPVSRS_TUNNEL_ENCAP_FLAG_*`.
    pub tun_flags: u16,
}

/// A service as the kernel reports it (`ipvsrs_service_entry`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_service_entry {
    /// 0 for fwmark services.
    pub protocol: u16,
    pub __addr_v4: u32,
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: [c_char; IPVSRS_SCHEDNAME_MAXLEN],
    /// Includes the kernel's `IPVSRS_SVC_F_HASHED`.
    pub flags: c_uint,
    pub timeout: c_uint,
    pub netmask: u32,
    /// Always 0 (netlink has no such attribute), as in libipvs.
    pub num_dests: c_uint,
    /// `stats64` truncated to the 32-bit fields.
    pub stats: ipvsrs_stats_user,
    pub af: u16,
    pub addr: ipvsrs_inet_addr,
    pub pe_name: [c_char; 17], // IPVSRS_PENAME_MAXLEN + 1
    pub stats64: ipvsrs_stats64,
}

/// A destination as the kernel reports it (`ipvsrs_dest_entry`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_dest_entry {
    pub __addr_v4: u32,
    pub port: u16,
    /// The forwarding method only.
    pub conn_flags: c_uint,
    pub weight: c_int,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub activeconns: u32,
    pub inactconns: u32,
    pub persistconns: u32,
    /// `stats64` truncated to the 32-bit fields.
    pub stats: ipvsrs_stats_user,
    pub af: u16,
    pub addr: ipvsrs_inet_addr,
    pub stats64: ipvsrs_stats64,
    pub tun_type: u16,
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// The result of `ipvs_get_services`: one `malloc` block, freed with `free()`.
#[repr(C)]
pub struct ipvsrs_get_services {
    pub num_services: c_uint,
    pub entrytable: [ipvsrs_service_entry; 0],
}

/// The result of `ipvs_get_dests`: one `malloc` block, freed with `free()`.
#[repr(C)]
pub struct ipvsrs_get_dests {
    pub protocol: u16,
    pub __addr_v4: u32,
    pub port: u16,
    pub fwmark: u32,
    pub num_dests: c_uint,
    pub af: u16,
    pub addr: ipvsrs_inet_addr,
    pub entrytable: [ipvsrs_dest_entry; 0],
}

/// Connection timeouts in seconds (`ipvsrs_timeout_user`); 0 on write leaves one unchanged.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_timeout_user {
    pub tcp_timeout: c_int,
    pub tcp_fin_timeout: c_int,
    pub udp_timeout: c_int,
}

/// A connection-sync daemon (`ipvsrs_daemon_user`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ipvsrs_daemon_user {
    /// `IPVSRS_STATE_MASTER` or `IPVSRS_STATE_BACKUP`; 0 in an unused slot.
    pub state: c_int,
    pub mcast_ifn: [c_char; IPVSRS_IFNAME_MAXLEN],
    pub syncid: c_int,
    /// Maximum sync message payload; 0 for the kernel's default.
    pub sync_maxlen: c_int,
    /// Multicast port, host byte order; 0 for the default 8848.
    pub mcast_port: u16,
    /// Multicast TTL; 0 for the default 1.
    pub mcast_ttl: u16,
    /// Family of `mcast_group`; `AF_UNSPEC` for the default group.
    pub mcast_af: u16,
    pub mcast_group: ipvsrs_inet_addr,
}

pub type ipvsrs_service_cmp =
    Option<unsafe extern "C" fn(*mut ipvsrs_service_entry, *mut ipvsrs_service_entry) -> c_int>;
pub type ipvsrs_dest_cmp =
    Option<unsafe extern "C" fn(*mut ipvsrs_dest_entry, *mut ipvsrs_dest_entry) -> c_int>;

#[cfg(target_arch = "x86_64")]
const _: () = {
    // Sizes and offsets of libipvs 1.31 on x86_64 (as tests/c/layout.c asserts them from C).
    assert!(size_of::<ipvsrs_inet_addr>() == 16 && std::mem::align_of::<ipvsrs_inet_addr>() == 4);
    assert!(size_of::<ipvsrs_stats_user>() == 56 && offset_of!(ipvsrs_stats_user, inbytes) == 16);
    assert!(offset_of!(ipvsrs_stats_user, cps) == 32);
    assert!(size_of::<ipvsrs_stats64>() == 80);
    assert!(size_of::<ipvsrs_service_user>() == 84);
    assert!(offset_of!(ipvsrs_service_user, port) == 8);
    assert!(offset_of!(ipvsrs_service_user, sched_name) == 16);
    assert!(offset_of!(ipvsrs_service_user, netmask) == 40);
    assert!(offset_of!(ipvsrs_service_user, af) == 44);
    assert!(offset_of!(ipvsrs_service_user, addr) == 48);
    assert!(offset_of!(ipvsrs_service_user, pe_name) == 64);
    assert!(size_of::<ipvsrs_dest_user>() == 52);
    assert!(offset_of!(ipvsrs_dest_user, conn_flags) == 8);
    assert!(offset_of!(ipvsrs_dest_user, af) == 24);
    assert!(offset_of!(ipvsrs_dest_user, addr) == 28);
    assert!(offset_of!(ipvsrs_dest_user, tun_type) == 44);
    assert!(offset_of!(ipvsrs_dest_user, tun_flags) == 48);
    assert!(size_of::<ipvsrs_service_entry>() == 224);
    assert!(offset_of!(ipvsrs_service_entry, num_dests) == 44);
    assert!(offset_of!(ipvsrs_service_entry, stats) == 48);
    assert!(offset_of!(ipvsrs_service_entry, af) == 104);
    assert!(offset_of!(ipvsrs_service_entry, addr) == 108);
    assert!(offset_of!(ipvsrs_service_entry, pe_name) == 124);
    assert!(offset_of!(ipvsrs_service_entry, stats64) == 144);
    assert!(size_of::<ipvsrs_dest_entry>() == 208);
    assert!(offset_of!(ipvsrs_dest_entry, activeconns) == 24);
    assert!(offset_of!(ipvsrs_dest_entry, stats) == 40);
    assert!(offset_of!(ipvsrs_dest_entry, af) == 96);
    assert!(offset_of!(ipvsrs_dest_entry, addr) == 100);
    assert!(offset_of!(ipvsrs_dest_entry, stats64) == 120);
    assert!(offset_of!(ipvsrs_dest_entry, tun_type) == 200);
    assert!(offset_of!(ipvsrs_dest_entry, tun_flags) == 204);
    assert!(size_of::<ipvsrs_get_services>() == 8);
    assert!(offset_of!(ipvsrs_get_services, entrytable) == 8);
    assert!(size_of::<ipvsrs_get_dests>() == 40);
    assert!(offset_of!(ipvsrs_get_dests, num_dests) == 16);
    assert!(offset_of!(ipvsrs_get_dests, af) == 20);
    assert!(offset_of!(ipvsrs_get_dests, addr) == 24);
    assert!(offset_of!(ipvsrs_get_dests, entrytable) == 40);
    assert!(size_of::<ipvsrs_timeout_user>() == 12);
    assert!(size_of::<ipvsrs_daemon_user>() == 52);
    assert!(offset_of!(ipvsrs_daemon_user, syncid) == 20);
    assert!(offset_of!(ipvsrs_daemon_user, mcast_port) == 28);
    assert!(offset_of!(ipvsrs_daemon_user, mcast_af) == 32);
    assert!(offset_of!(ipvsrs_daemon_user, mcast_group) == 36);
    assert!(size_of::<ipvsrs_getinfo>() == 12);
};

/// Why a C struct cannot become a model value; reported as errno `EINVAL` or
/// `EAFNOSUPPORT` with this text as the detail.
#[derive(Debug)]
pub struct Unrepresentable {
    pub errno: c_int,
    pub detail: String,
}

fn invalid(detail: String) -> Unrepresentable {
    Unrepresentable {
        errno: libc::EINVAL,
        detail,
    }
}

fn family(af: u16) -> Result<Family, Unrepresentable> {
    Family::from_number(af).ok_or_else(|| Unrepresentable {
        errno: libc::EAFNOSUPPORT,
        detail: format!("address family {af} is neither AF_INET nor AF_INET6"),
    })
}

/// The zero address, as every zeroed C struct holds it.
impl Default for ipvsrs_inet_addr {
    fn default() -> ipvsrs_inet_addr {
        ipvsrs_inet_addr { all: [0; 4] }
    }
}

impl ipvsrs_inet_addr {
    pub fn to_ip(&self, family: Family) -> IpAddr {
        // SAFETY: every member is plain bytes covering the same 16 bytes.
        let bytes: [u8; 16] = unsafe { std::mem::transmute(self.all) };
        match family {
            Family::Inet => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::from(bytes)),
        }
    }

    pub fn from_ip(addr: IpAddr) -> ipvsrs_inet_addr {
        let mut bytes = [0u8; 16];
        match addr {
            IpAddr::V4(a) => bytes[..4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => bytes = a.octets(),
        }
        // SAFETY: 16 bytes to four u32 words, any bit pattern is valid.
        ipvsrs_inet_addr {
            all: unsafe { std::mem::transmute::<[u8; 16], [u32; 4]>(bytes) },
        }
    }

    fn v4_word(addr: IpAddr) -> u32 {
        match addr {
            IpAddr::V4(a) => u32::from_ne_bytes(a.octets()),
            IpAddr::V6(_) => 0,
        }
    }
}

/// Reads a fixed C string buffer up to its NUL. A buffer without one is refused: the
/// kernel takes these names NUL-terminated within the buffer, and reading on would leave it.
pub fn c_buf_to_string(buf: &[c_char], what: &str) -> Result<String, Unrepresentable> {
    let len = buf.iter().position(|&c| c == 0).ok_or_else(|| {
        invalid(format!(
            "the {what} has no terminating NUL within its {} bytes",
            buf.len()
        ))
    })?;
    let bytes: Vec<u8> = buf[..len].iter().map(|&c| c as u8).collect();
    String::from_utf8(bytes).map_err(|_| invalid(format!("the {what} is not UTF-8")))
}

/// Copies `s` (text, or bytes that need not be UTF-8) into a fixed C buffer,
/// NUL-terminated, cut to fit.
pub fn string_to_c_buf(s: impl AsRef<[u8]>, buf: &mut [c_char]) {
    let s = s.as_ref();
    let len = s.len().min(buf.len() - 1);
    let (text, rest) = buf.split_at_mut(len);
    for (dst, &b) in text.iter_mut().zip(&s[..len]) {
        *dst = b as c_char;
    }
    rest.fill(0);
}

fn netmask_to_model(family: Family, netmask: u32) -> u32 {
    match family {
        Family::Inet => u32::from_be(netmask),
        Family::Inet6 => netmask,
    }
}

fn netmask_to_c(family: Family, netmask: u32) -> u32 {
    match family {
        Family::Inet => netmask.to_be(),
        Family::Inet6 => netmask,
    }
}

impl ipvsrs_service_user {
    /// The service's identity: `af` plus `fwmark`, or `af`, `protocol`, `addr`, `port`.
    pub fn key(&self) -> Result<ServiceKey, Unrepresentable> {
        service_key(self.af, self.fwmark, self.protocol, &self.addr, self.port)
    }

    pub fn to_model(&self) -> Result<Service, Unrepresentable> {
        let key = self.key()?;
        let pe = c_buf_to_string(&self.pe_name, "persistence engine name")?;
        Ok(Service {
            key,
            scheduler: c_buf_to_string(&self.sched_name, "scheduler name")?,
            flags: ServiceFlags(self.flags),
            timeout: self.timeout,
            netmask: netmask_to_model(key.family(), self.netmask),
            pe_name: (!pe.is_empty()).then_some(pe),
        })
    }
}

pub fn service_key(
    af: u16,
    fwmark: u32,
    protocol: u16,
    addr: &ipvsrs_inet_addr,
    port: u16,
) -> Result<ServiceKey, Unrepresentable> {
    let family = family(af)?;
    if fwmark != 0 {
        return Ok(ServiceKey::Fwmark {
            family,
            mark: fwmark,
        });
    }
    let protocol = Protocol::from_number(protocol)
        .ok_or_else(|| invalid(format!("protocol {protocol} is not TCP, UDP or SCTP")))?;
    Ok(ServiceKey::Addr {
        protocol,
        addr: addr.to_ip(family),
        port: u16::from_be(port),
    })
}

impl ipvsrs_dest_user {
    pub fn to_model(&self, service_family: Family) -> Result<Destination, Unrepresentable> {
        let family = if self.af == 0 {
            service_family
        } else {
            family(self.af)?
        };
        // Listings pass unknown values through; a write of one is refused, as the
        // library cannot say what it would do.
        let forward = match Forward::from_conn_flags(self.conn_flags) {
            Forward::Unknown(n) => {
                return Err(invalid(format!("forwarding method {n} is unknown")))
            }
            known => known,
        };
        let kind = match u8::try_from(self.tun_type).map(TunnelType::from_number) {
            Ok(TunnelType::Unknown(_)) | Err(_) => {
                return Err(invalid(format!("tunnel type {} is unknown", self.tun_type)))
            }
            Ok(known) => known,
        };
        Ok(Destination {
            addr: self.addr.to_ip(family),
            port: u16::from_be(self.port),
            forward,
            weight: self.weight,
            upper_threshold: self.u_threshold,
            lower_threshold: self.l_threshold,
            tunnel: Tunnel {
                kind,
                port: u16::from_be(self.tun_port),
                flags: TunnelFlags(self.tun_flags),
            },
        })
    }

    pub fn key(&self, service_family: Family) -> Result<DestKey, Unrepresentable> {
        let family = if self.af == 0 {
            service_family
        } else {
            family(self.af)?
        };
        Ok(DestKey {
            addr: self.addr.to_ip(family),
            port: u16::from_be(self.port),
        })
    }
}

impl From<&Stats> for ipvsrs_stats64 {
    fn from(s: &Stats) -> ipvsrs_stats64 {
        ipvsrs_stats64 {
            conns: s.conns,
            inpkts: s.inpkts,
            outpkts: s.outpkts,
            inbytes: s.inbytes,
            outbytes: s.outbytes,
            cps: s.cps,
            inpps: s.inpps,
            outpps: s.outpps,
            inbps: s.inbps,
            outbps: s.outbps,
        }
    }
}

impl From<&Stats> for ipvsrs_stats_user {
    /// The kernel's own 32-bit view: counts and rates truncated, bytes kept.
    fn from(s: &Stats) -> ipvsrs_stats_user {
        ipvsrs_stats_user {
            conns: s.conns as u32,
            inpkts: s.inpkts as u32,
            outpkts: s.outpkts as u32,
            inbytes: s.inbytes,
            outbytes: s.outbytes,
            cps: s.cps as u32,
            inpps: s.inpps as u32,
            outpps: s.outpps as u32,
            inbps: s.inbps as u32,
            outbps: s.outbps as u32,
        }
    }
}

/// The identity fields of a service key as libipvs lays them out.
struct KeyFields {
    protocol: u16,
    port: u16,
    fwmark: u32,
    af: u16,
    addr: ipvsrs_inet_addr,
}

fn key_fields(key: &ServiceKey) -> KeyFields {
    match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => KeyFields {
            protocol: protocol.number(),
            port: port.to_be(),
            fwmark: 0,
            af: Family::of(&addr).number(),
            addr: ipvsrs_inet_addr::from_ip(addr),
        },
        // As libipvs over netlink: protocol 0 and the zero address for fwmark services.
        ServiceKey::Fwmark { family, mark } => KeyFields {
            protocol: 0,
            port: 0,
            fwmark: mark,
            af: family.number(),
            addr: ipvsrs_inet_addr::default(),
        },
    }
}

impl From<ServiceEntryRef<'_>> for ipvsrs_service_entry {
    fn from(e: ServiceEntryRef<'_>) -> ipvsrs_service_entry {
        let k = key_fields(&e.key);
        let mut entry = ipvsrs_service_entry {
            protocol: k.protocol,
            __addr_v4: ipvsrs_inet_addr::v4_word(k.addr.to_ip(e.key.family())),
            port: k.port,
            fwmark: k.fwmark,
            sched_name: [0; IPVSRS_SCHEDNAME_MAXLEN],
            flags: e.flags.0,
            timeout: e.timeout,
            netmask: netmask_to_c(e.key.family(), e.netmask),
            num_dests: 0,
            stats: (&e.stats).into(),
            af: k.af,
            addr: k.addr,
            pe_name: [0; IPVSRS_PENAME_MAXLEN + 1],
            stats64: (&e.stats).into(),
        };
        string_to_c_buf(e.scheduler, &mut entry.sched_name);
        string_to_c_buf(e.pe_name.unwrap_or(""), &mut entry.pe_name);
        entry
    }
}

impl From<&ServiceEntry> for ipvsrs_service_entry {
    fn from(e: &ServiceEntry) -> ipvsrs_service_entry {
        ServiceEntryRef::from(e).into()
    }
}

impl ipvsrs_service_entry {
    pub fn key(&self) -> Result<ServiceKey, Unrepresentable> {
        service_key(self.af, self.fwmark, self.protocol, &self.addr, self.port)
    }
}

impl ipvsrs_get_dests {
    /// The header's copy of the service identity.
    pub fn header_for(key: &ServiceKey, count: usize) -> ipvsrs_get_dests {
        let k = key_fields(key);
        ipvsrs_get_dests {
            protocol: k.protocol,
            __addr_v4: ipvsrs_inet_addr::v4_word(k.addr.to_ip(key.family())),
            port: k.port,
            fwmark: k.fwmark,
            num_dests: count as c_uint,
            af: k.af,
            addr: k.addr,
            entrytable: [],
        }
    }
}

impl From<&DestEntry> for ipvsrs_dest_entry {
    fn from(e: &DestEntry) -> ipvsrs_dest_entry {
        let d = &e.dest;
        ipvsrs_dest_entry {
            __addr_v4: ipvsrs_inet_addr::v4_word(d.addr),
            port: d.port.to_be(),
            conn_flags: d.forward.number(),
            weight: d.weight,
            u_threshold: d.upper_threshold,
            l_threshold: d.lower_threshold,
            activeconns: e.active_conns,
            inactconns: e.inactive_conns,
            persistconns: e.persistent_conns,
            stats: (&e.stats).into(),
            af: Family::of(&d.addr).number(),
            addr: ipvsrs_inet_addr::from_ip(d.addr),
            stats64: (&e.stats).into(),
            tun_type: d.tunnel.kind.number() as u16,
            tun_port: d.tunnel.port.to_be(),
            tun_flags: d.tunnel.flags.0,
        }
    }
}

impl From<&Timeouts> for ipvsrs_timeout_user {
    fn from(t: &Timeouts) -> ipvsrs_timeout_user {
        ipvsrs_timeout_user {
            tcp_timeout: t.tcp as c_int,
            tcp_fin_timeout: t.tcp_fin as c_int,
            udp_timeout: t.udp as c_int,
        }
    }
}

impl ipvsrs_timeout_user {
    pub fn to_model(&self) -> Result<Timeouts, Unrepresentable> {
        let secs = |v: c_int, name: &str| {
            u32::try_from(v).map_err(|_| invalid(format!("the {name} timeout {v} is negative")))
        };
        Ok(Timeouts {
            tcp: secs(self.tcp_timeout, "tcp")?,
            tcp_fin: secs(self.tcp_fin_timeout, "tcpfin")?,
            udp: secs(self.udp_timeout, "udp")?,
        })
    }
}

impl ipvsrs_daemon_user {
    pub fn role(&self) -> Result<DaemonRole, Unrepresentable> {
        u32::try_from(self.state)
            .ok()
            .and_then(DaemonRole::from_number)
            .ok_or_else(|| {
                invalid(format!(
                    "daemon state {} is neither master nor backup",
                    self.state
                ))
            })
    }

    pub fn to_model(&self) -> Result<Daemon, Unrepresentable> {
        let mcast_group = match self.mcast_af {
            0 => None,
            af => Some(self.mcast_group.to_ip(family(af)?)),
        };
        Ok(Daemon {
            role: self.role()?,
            ifname: c_buf_to_string(&self.mcast_ifn, "multicast interface name")?,
            sync_id: self.syncid as u32,
            sync_maxlen: u16::try_from(self.sync_maxlen).map_err(|_| {
                invalid(format!("sync_maxlen {} is out of range", self.sync_maxlen))
            })?,
            mcast_group,
            mcast_port: self.mcast_port,
            mcast_ttl: u8::try_from(self.mcast_ttl)
                .map_err(|_| invalid(format!("mcast_ttl {} is out of range", self.mcast_ttl)))?,
        })
    }
}

impl From<&Daemon> for ipvsrs_daemon_user {
    fn from(d: &Daemon) -> ipvsrs_daemon_user {
        let mut out = ipvsrs_daemon_user {
            state: d.role.number() as c_int,
            mcast_ifn: [0; IPVSRS_IFNAME_MAXLEN],
            syncid: d.sync_id as c_int,
            sync_maxlen: d.sync_maxlen as c_int,
            mcast_port: d.mcast_port,
            mcast_ttl: d.mcast_ttl as u16,
            mcast_af: d.mcast_group.map_or(0, |g| Family::of(&g).number()),
            mcast_group: d
                .mcast_group
                .map_or_else(ipvsrs_inet_addr::default, ipvsrs_inet_addr::from_ip),
        };
        string_to_c_buf(&d.ifname, &mut out.mcast_ifn);
        out
    }
}

impl From<&Service> for ipvsrs_service_user {
    fn from(s: &Service) -> ipvsrs_service_user {
        let k = key_fields(&s.key);
        let mut out = ipvsrs_service_user {
            protocol: k.protocol,
            __addr_v4: 0,
            port: k.port,
            fwmark: k.fwmark,
            sched_name: [0; IPVSRS_SCHEDNAME_MAXLEN],
            flags: s.flags.0,
            timeout: s.timeout,
            netmask: netmask_to_c(s.key.family(), s.netmask),
            af: k.af,
            addr: k.addr,
            pe_name: [0; IPVSRS_PENAME_MAXLEN + 1],
        };
        string_to_c_buf(&s.scheduler, &mut out.sched_name);
        string_to_c_buf(s.pe_name.as_deref().unwrap_or(""), &mut out.pe_name);
        out
    }
}

impl From<&Destination> for ipvsrs_dest_user {
    fn from(d: &Destination) -> ipvsrs_dest_user {
        ipvsrs_dest_user {
            __addr_v4: 0,
            port: d.port.to_be(),
            conn_flags: d.forward.number(),
            weight: d.weight,
            u_threshold: d.upper_threshold,
            l_threshold: d.lower_threshold,
            af: Family::of(&d.addr).number(),
            addr: ipvsrs_inet_addr::from_ip(d.addr),
            tun_type: d.tunnel.kind.number() as u16,
            tun_port: d.tunnel.port.to_be(),
            tun_flags: d.tunnel.flags.0,
        }
    }
}
