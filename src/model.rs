//! Plain data types for the IPVS table: services, destinations, statistics, timeouts and
//! the sync daemon. No I/O here; `wire` encodes these, `client` sends them.
//!
//! Ports and addresses are ordinary Rust values (host order, `IpAddr`); byte order is the
//! wire layer's business.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Address family of a service, destination or multicast group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    /// The `AF_*` number the kernel uses.
    pub fn number(self) -> u16 {
        match self {
            Family::Inet => libc::AF_INET as u16,
            Family::Inet6 => libc::AF_INET6 as u16,
        }
    }

    pub fn from_number(af: u16) -> Option<Family> {
        match af as i32 {
            libc::AF_INET => Some(Family::Inet),
            libc::AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// The all-zero address of this family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// Transport protocol of an address-based virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The `IPPROTO_*` number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => libc::IPPROTO_TCP as u16,
            Protocol::Udp => libc::IPPROTO_UDP as u16,
            Protocol::Sctp => libc::IPPROTO_SCTP as u16,
        }
    }

    pub fn from_number(proto: u16) -> Option<Protocol> {
        match proto as i32 {
            libc::IPPROTO_TCP => Some(Protocol::Tcp),
            libc::IPPROTO_UDP => Some(Protocol::Udp),
            libc::IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// The protocol a service address names: `tcp`, `udp` or `sctp`.
    pub fn from_name(name: &str) -> Option<Protocol> {
        [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceKey {
    /// `protocol://addr:port`; the family follows from the address.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// A firewall mark, per address family (the same mark may exist for IPv4 and IPv6).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    pub fn tcp(addr: IpAddr, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }

    pub fn udp(addr: IpAddr, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }

    pub fn fwmark(family: Family, mark: u32) -> ServiceKey {
        ServiceKey::Fwmark { family, mark }
    }

    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// ipvsctl's URL form: `tcp://10.0.0.1:80`, `udp://[2001:db8::1]:53`, `fwmark:7`
    /// (`fwmark6:7` for an IPv6 fwmark service).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                write!(f, "{}://{}", protocol.name(), SocketDisplay(*addr, *port))
            }
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => write!(f, "fwmark:{mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "fwmark6:{mark}"),
        }
    }
}

/// `addr:port` with IPv6 addresses in brackets.
pub(crate) struct SocketDisplay(pub IpAddr, pub u16);

impl fmt::Display for SocketDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    pub const PERSISTENT: ServiceFlags = ServiceFlags(0x0001);
    /// Kernel-internal "in the hash table"; reported back, ignored on writes.
    pub const HASHED: ServiceFlags = ServiceFlags(0x0002);
    pub const ONEPACKET: ServiceFlags = ServiceFlags(0x0004);
    pub const SCHED1: ServiceFlags = ServiceFlags(0x0008);
    pub const SCHED2: ServiceFlags = ServiceFlags(0x0010);
    pub const SCHED3: ServiceFlags = ServiceFlags(0x0020);
    pub const SH_FALLBACK: ServiceFlags = ServiceFlags::SCHED1;
    pub const SH_PORT: ServiceFlags = ServiceFlags::SCHED2;
    pub const MH_FALLBACK: ServiceFlags = ServiceFlags::SCHED1;
    pub const MH_PORT: ServiceFlags = ServiceFlags::SCHED2;

    pub fn contains(self, other: ServiceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags a caller controls, i.e. without `HASHED`.
    pub fn user(self) -> ServiceFlags {
        ServiceFlags(self.0 & !ServiceFlags::HASHED.0)
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = ServiceFlags;
    fn bitor(self, rhs: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 | rhs.0)
    }
}

/// A virtual service and its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wlc`, `mh`, ...), at most 15 bytes.
    pub scheduler: String,
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (meaningful with [`ServiceFlags::PERSISTENT`]).
    pub timeout: u32,
    /// Persistence granularity. IPv4: the mask as a number (`0xffff_ff00` is /24);
    /// IPv6: the prefix length (1..=128).
    pub netmask: u32,
    /// Persistence engine (`sip`), at most 16 bytes; `None` for none.
    pub pe_name: Option<String>,
}

impl Service {
    /// Whether the two have the same settings (the key aside, and the kernel's own
    /// `HASHED` flag).
    pub fn same_settings(&self, other: &Service) -> bool {
        self.same_settings_masked(other, u32::MAX)
    }

    /// [`Service::same_settings`], comparing only the flag bits in `flags_mask`.
    pub fn same_settings_masked(&self, other: &Service, flags_mask: u32) -> bool {
        let masked = |flags: ServiceFlags| flags.user().0 & flags_mask;
        self.scheduler == other.scheduler
            && masked(self.flags) == masked(other.flags)
            && self.timeout == other.timeout
            && self.netmask == other.netmask
            && self.pe_name == other.pe_name
    }

    /// A service with the defaults ipvsadm uses: no flags, no persistence, a host netmask.
    pub fn new(key: ServiceKey, scheduler: &str) -> Service {
        Service {
            key,
            scheduler: scheduler.to_owned(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: host_netmask(key.family()),
            pe_name: None,
        }
    }
}

/// The netmask that makes persistence per client address: /32 or /128.
pub fn host_netmask(family: Family) -> u32 {
    match family {
        Family::Inet => u32::MAX,
        Family::Inet6 => 128,
    }
}

/// How packets reach a real server (`IP_VS_CONN_F_*` forwarding bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forward {
    /// NAT (`-m`).
    Masq,
    /// The director itself.
    Local,
    /// IP-in-IP, GUE or GRE (`-i`).
    Tunnel,
    /// Direct routing, "gatewaying" (`-g`).
    Route,
    Bypass,
    /// A method this library does not know (5 to 7, from a newer kernel), kept as its
    /// number so that listings still show the rest.
    Unknown(u8),
}

impl Forward {
    pub const MASK: u32 = 0x0007;

    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
            Forward::Bypass => 4,
            Forward::Unknown(n) => n.into(),
        }
    }

    /// Decodes the forwarding bits of connection flags; other bits are ignored.
    pub fn from_conn_flags(flags: u32) -> Forward {
        match flags & Forward::MASK {
            0 => Forward::Masq,
            1 => Forward::Local,
            2 => Forward::Tunnel,
            3 => Forward::Route,
            4 => Forward::Bypass,
            n => Forward::Unknown(n as u8),
        }
    }
}

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelType {
    #[default]
    Ipip,
    Gue,
    Gre,
    /// A type this library does not know (from a newer kernel), kept as its number.
    Unknown(u8),
}

impl TunnelType {
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
            TunnelType::Unknown(n) => n,
        }
    }

    pub fn from_number(n: u8) -> TunnelType {
        match n {
            0 => TunnelType::Ipip,
            1 => TunnelType::Gue,
            2 => TunnelType::Gre,
            n => TunnelType::Unknown(n),
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`): 0 is "nocsum".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TunnelFlags(pub u16);

impl TunnelFlags {
    pub const NOCSUM: TunnelFlags = TunnelFlags(0);
    pub const CSUM: TunnelFlags = TunnelFlags(1 << 0);
    pub const REMCSUM: TunnelFlags = TunnelFlags(1 << 1);
}

/// Tunnel settings of a destination; used by the kernel only with [`Forward::Tunnel`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelType,
    /// GUE destination port (required for GUE).
    pub port: u16,
    pub flags: TunnelFlags,
}

/// A real server of a service, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    /// Scheduling weight; 0 quiesces the server. The kernel rejects negative values (ERANGE).
    pub weight: i32,
    /// Upper connection threshold, 0 for none.
    pub upper_threshold: u32,
    /// Lower connection threshold; must not exceed the upper one.
    pub lower_threshold: u32,
    pub tunnel: Tunnel,
}

impl Destination {
    /// A destination with ipvsadm's defaults: weight 1, no thresholds.
    pub fn new(addr: IpAddr, port: u16, forward: Forward) -> Destination {
        Destination {
            addr,
            port,
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel: Tunnel::default(),
        }
    }

    /// The destination as the kernel compares it: tunnel settings only count for tunnel
    /// forwarding.
    pub fn normalised(&self) -> Destination {
        match self.forward {
            Forward::Tunnel => self.clone(),
            _ => Destination {
                tunnel: Tunnel::default(),
                ..self.clone()
            },
        }
    }

    /// The destination's identity within its service.
    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// What identifies a destination within a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

// Listings and the diff hash every key of a table. Two writes a key, the address and
// the rest, cost a fraction of the derived hash's one write a field and tag.
impl Hash for ServiceKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (addr, rest) = match *self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (addr, u64::from(port) | (protocol as u64) << 16),
            ServiceKey::Fwmark { family, mark } => (
                IpAddr::from([0; 4]),
                u64::from(mark) | (family as u64 + 1) << 40,
            ),
        };
        state.write_u128(address_bits(addr));
        state.write_u64(rest | u64::from(addr.is_ipv6()) << 48);
    }
}

impl Hash for DestKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(address_bits(self.addr));
        state.write_u32(u32::from(self.port) | u32::from(self.addr.is_ipv6()) << 16);
    }
}

fn address_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SocketDisplay(self.addr, self.port).fmt(f)
    }
}

/// The kernel's counters and rate estimates for a service or destination, all 64-bit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    /// Connections per second (kernel estimate).
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    /// Bytes per second in.
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
}

/// A [`ServiceEntry`] whose names are borrowed, as a reply is decoded: a listing keeps it
/// in its caller's form, so a form that copies the names into arrays of its own (the C
/// entries) allocates none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceEntryRef<'a> {
    pub key: ServiceKey,
    pub scheduler: &'a str,
    pub flags: ServiceFlags,
    pub timeout: u32,
    pub netmask: u32,
    pub pe_name: Option<&'a str>,
    pub stats: Stats,
}

impl From<ServiceEntryRef<'_>> for ServiceEntry {
    fn from(e: ServiceEntryRef<'_>) -> ServiceEntry {
        ServiceEntry {
            service: Service {
                key: e.key,
                scheduler: e.scheduler.to_owned(),
                flags: e.flags,
                timeout: e.timeout,
                netmask: e.netmask,
                pe_name: e.pe_name.map(str::to_owned),
            },
            stats: e.stats,
        }
    }
}

impl<'a> From<&'a ServiceEntry> for ServiceEntryRef<'a> {
    fn from(e: &'a ServiceEntry) -> ServiceEntryRef<'a> {
        let s = &e.service;
        ServiceEntryRef {
            key: s.key,
            scheduler: &s.scheduler,
            flags: s.flags,
            timeout: s.timeout,
            netmask: s.netmask,
            pe_name: s.pe_name.as_deref(),
            stats: e.stats,
        }
    }
}

/// A destination as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestEntry {
    pub dest: Destination,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

/// Connection timeouts in seconds. On write, 0 leaves a value unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// `IPVS_CMD_GET_INFO`: the IPVS version code and the connection hash table size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

/// Role of a connection-sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaemonRole {
    Master,
    Backup,
}

impl DaemonRole {
    pub fn number(self) -> u32 {
        match self {
            DaemonRole::Master => 1,
            DaemonRole::Backup => 2,
        }
    }

    pub fn from_number(n: u32) -> Option<DaemonRole> {
        match n {
            1 => Some(DaemonRole::Master),
            2 => Some(DaemonRole::Backup),
            _ => None,
        }
    }
}

impl fmt::Display for DaemonRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DaemonRole::Master => "master",
            DaemonRole::Backup => "backup",
        })
    }
}

/// A connection-sync daemon. Zero/`None` fields take the kernel's defaults on start
/// (group 224.0.0.81, port 8848, TTL 1, a length derived from the interface MTU).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daemon {
    pub role: DaemonRole,
    /// Multicast interface name, at most 15 bytes.
    pub ifname: String,
    pub sync_id: u32,
    pub sync_maxlen: u16,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

impl Daemon {
    pub fn new(role: DaemonRole, ifname: &str, sync_id: u32) -> Daemon {
        Daemon {
            role,
            ifname: ifname.to_owned(),
            sync_id,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
        }
    }
}

// The address grammar, one for every front end: models, command-line options, scopes.

/// A service address as written, its port possibly left to a default:
/// `tcp://IP[:PORT]`, `udp://...`, `sctp://...` (IPv6 as `[IP]`), `fwmark:N`, `fwmark6:N`.
/// A trailing `/` or blank is tolerated, as ipvsctl does (`tcp://10.0.0.1:80/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceAddress {
    Ip {
        protocol: Protocol,
        addr: IpAddr,
        port: Option<u16>,
    },
    Fwmark(Family, u32),
}

impl std::str::FromStr for ServiceAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<ServiceAddress, String> {
        let text = text.trim_end_matches(['/', ' ']);
        if let Some(mark) = text.strip_prefix("fwmark6:") {
            return Ok(ServiceAddress::Fwmark(Family::Inet6, parse_fwmark(mark)?));
        }
        if let Some(mark) = text.strip_prefix("fwmark:") {
            return Ok(ServiceAddress::Fwmark(Family::Inet, parse_fwmark(mark)?));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(
                "expected PROTOCOL://IP[:PORT] (tcp, udp, sctp; IPv6 as [IP]), fwmark:N or fwmark6:N"
                    .to_owned(),
            );
        };
        let protocol = parse_protocol(scheme)?;
        let DestAddress { addr, port } = rest.parse()?;
        Ok(ServiceAddress::Ip {
            protocol,
            addr,
            port,
        })
    }
}

impl std::str::FromStr for ServiceKey {
    type Err = String;

    /// A [`ServiceAddress`] with its port: `tcp://10.0.0.1:80`, `fwmark:7`.
    fn from_str(text: &str) -> Result<ServiceKey, String> {
        match text.parse()? {
            ServiceAddress::Fwmark(family, mark) => Ok(ServiceKey::fwmark(family, mark)),
            ServiceAddress::Ip {
                protocol,
                addr,
                port: Some(port),
            } => Ok(ServiceKey::Addr {
                protocol,
                addr,
                port,
            }),
            ServiceAddress::Ip { port: None, .. } => Err("it has no port".to_owned()),
        }
    }
}

/// A destination address as written, its port possibly left to a default:
/// `IPv4[:PORT]`, `[IPv6][:PORT]` or a bare IPv6 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestAddress {
    pub addr: IpAddr,
    pub port: Option<u16>,
}

impl std::str::FromStr for DestAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<DestAddress, String> {
        let (addr, port) = split_endpoint(text)?;
        Ok(DestAddress {
            addr,
            port: port.map(parse_port).transpose()?,
        })
    }
}

impl std::str::FromStr for DestKey {
    type Err = String;

    /// A [`DestAddress`] with its port: `10.0.0.2:80`, `[2001:db8::2]:80`.
    fn from_str(text: &str) -> Result<DestKey, String> {
        match text.parse()? {
            DestAddress {
                addr,
                port: Some(port),
            } => Ok(DestKey { addr, port }),
            DestAddress { port: None, .. } => Err("it has no port".to_owned()),
        }
    }
}

/// The address of `IPv4[:PORT]`, `[IPv6][:PORT]` or a bare IPv6 address, and the text
/// after its port's colon, unparsed (a port, or a scope's port range).
pub(crate) fn split_endpoint(text: &str) -> Result<(IpAddr, Option<&str>), String> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']').ok_or("\"[\" without \"]\"")?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("{} is not an IPv6 address", piece(ip)))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected \":PORT\" after \"]\"")?,
            ),
        };
        return Ok((IpAddr::V6(ip), port));
    }
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok((addr, None));
    }
    let (ip, port) = text.rsplit_once(':').unwrap_or((text, ""));
    let ip: Ipv4Addr = ip.parse().map_err(|_| {
        format!(
            "{} is not an IP address (IPv4, or IPv6 in brackets)",
            piece(ip)
        )
    })?;
    Ok((IpAddr::V4(ip), Some(port)))
}

pub(crate) fn parse_protocol(name: &str) -> Result<Protocol, String> {
    Protocol::from_name(name)
        .ok_or_else(|| format!("protocol {} is not one of tcp, udp, sctp", piece(name)))
}

pub(crate) fn parse_fwmark(text: &str) -> Result<u32, String> {
    decimal(text)
        .and_then(|mark| u32::try_from(mark).ok())
        .filter(|mark| *mark != 0)
        .ok_or_else(|| format!("fwmark {} is not a number in 1..{}", piece(text), u32::MAX))
}

pub(crate) fn parse_port(text: &str) -> Result<u16, String> {
    decimal(text)
        .and_then(|port| u16::try_from(port).ok())
        .ok_or_else(|| format!("port {} is not a number in 0..65535", piece(text)))
}

/// A piece of an address, quoted for a message; a long one is cut (the message's caller
/// quotes the whole address already).
fn piece(text: &str) -> String {
    const SHOWN_CHARS: usize = 40;
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("\"{}...\"", &text[..cut]),
        None => format!("\"{text}\""),
    }
}

/// Digits only (no sign, no blanks); leading zeros are fine (`0080` is 80).
pub(crate) fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// One entry of the kernel's connection table (what `ipvsadm -Lnc` shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// What the client reached: protocol, virtual address and port. For a persistence
    /// template of a firewall-mark service, that service's mark.
    pub target: ServiceKey,
    /// The client. A template holds the client's network (the service's persistence
    /// netmask applied) and port 0.
    pub client: SocketAddr,
    /// The real server.
    pub real: SocketAddr,
    /// A persistence template: the kernel's record of which real server a client sticks
    /// to while the persistence timeout runs, not a connection that carries packets.
    pub template: bool,
    /// The state as the kernel names it: `ESTABLISHED`, `SYN_RECV`, `TIME_WAIT` ... for
    /// TCP and SCTP, `UDP` for UDP, `NONE` or `ASSURED` for templates.
    pub state: String,
    /// Time left until the entry expires, whole seconds.
    pub expires: std::time::Duration,
    /// How packets reach the real server: the forwarding method of that destination in
    /// the table when the connections were read; `None` when the table no longer has it,
    /// or when firewall-mark services give it more than one.
    pub forward: Option<Forward>,
    /// The persistence engine's name and its data for this entry (`sip` and the Call-ID).
    /// The data is the bytes the kernel printed, which need not be UTF-8 (a Call-ID is
    /// what the client sent).
    pub engine: Option<(String, Vec<u8>)>,
}
