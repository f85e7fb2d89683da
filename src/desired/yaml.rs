//! YAML models: text in, a validated and normalised [`DesiredTable`] out.
//!
//! The model is a superset of ipvsctl's (its models parse with the same meaning, except
//! where ipvsctl contradicts itself; see the defaults below):
//!
//! ```yaml
//! defaults:                 # all optional
//!   port: 80                # service/destination port when an address has none (1..65535)
//!   weight: 1               # destination weight when unset (0..65535); else 1
//!   sched: wrr              # scheduler when unset; else rr
//!   forward: nat            # destination forwarding when unset; else direct
//! timeouts: { tcp: 900, tcpfin: 120, udp: 300 }   # optional; 0 or unset leaves one alone
//! daemons:                  # optional; the sync daemons that should run
//!   - { role: master, interface: eth0, syncid: 1, maxlen: 1472, group: 224.0.0.81, port: 8848, ttl: 1 }
//! services:
//!   - address: tcp://10.1.2.3:80           # tcp:// udp:// sctp://, [IPv6], fwmark:N, fwmark6:N
//!     sched: rr
//!     flags: [sh-port, sh-fallback, mh-port, mh-fallback, flag-1, flag-2, flag-3, one-packet]
//!     persistence: { timeout: 300, netmask: 255.255.255.0, engine: sip }  # prefix: 64 for IPv6
//!     destinations:
//!       - address: 10.50.0.1:8080          # IP[:PORT], [IPv6]:PORT
//!         forward: nat                     # nat | direct | tunnel | local
//!         weight: 100
//!         thresholds: { upper: 1000, lower: 100 }
//!         tunnel: { type: gue, port: 6080, checksum: csum }
//!         state: active                    # active | maintenance | draining
//! ```
//!
//! Addresses may contain parameters (`${env.NAME}`, `${host.eth0}`, `${ports.web}`), see
//! [`Params`]. Every error is reported, each with the line and column of its YAML node.

pub mod emit;
mod locate;
mod params;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;

use serde_yaml::Value;

pub use self::emit::to_yaml;
use self::locate::{locate, Step};
pub use self::params::{NoParams, ParamFileError, ParamSource, Params};
use super::names::{CHECKSUMS, ENGINES, FLAGS, FORWARDS, ROLES, SCHEDULERS, STATES, TUNNEL_TYPES};
use super::{DesiredDest, DesiredService, DesiredTable, DestState};
use crate::model::{
    Daemon, DestAddress, Destination, Family, Forward, Protocol, Service, ServiceAddress,
    ServiceFlags, ServiceKey, Timeouts, Tunnel, TunnelFlags, TunnelType,
};

/// One problem in a model, at the YAML node it concerns (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ModelError {
    pub line: usize,
    pub column: usize,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Every problem found in a model, in text order. A model with any is not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelErrors(pub Vec<ModelError>);

impl fmt::Display for ModelErrors {
    /// One error a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            error.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelErrors {}

/// Parses and validates a model. `params` resolves `${...}` in addresses (pass
/// [`NoParams`] to allow none). Either the whole table or every error found.
pub fn parse(text: &str, params: &dyn ParamSource) -> Result<DesiredTable, ModelErrors> {
    let document: Value = serde_yaml::from_str(text).map_err(syntax_error)?;
    let mut checker = Checker {
        text,
        params,
        problems: Vec::new(),
    };
    let table = checker.table(&Node {
        value: &document,
        path: Vec::new(),
    });
    if checker.problems.is_empty() {
        return Ok(table);
    }
    let mut errors: Vec<ModelError> = checker
        .problems
        .into_iter()
        .map(|(path, message)| {
            let (line, column) = locate(text, &path);
            ModelError {
                line,
                column,
                message,
            }
        })
        .collect();
    errors.sort_by_key(|error| (error.line, error.column));
    Err(ModelErrors(errors))
}

fn syntax_error(error: serde_yaml::Error) -> ModelErrors {
    let (line, column) = error
        .location()
        .map_or((1, 1), |at| (at.line(), at.column()));
    // The message repeats the position ("... at line 3 column 5"); it is in the fields.
    let text = error.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text);
    ModelErrors(vec![ModelError {
        line,
        column,
        message: format!("YAML syntax: {message}"),
    }])
}

/// ipvsctl's default scheduler.
const DEFAULT_SCHEDULER: &str = "rr";
/// ipvsctl documents `direct` as the default (and ipvsadm's default is gatewaying too);
/// its code fails instead, which we don't copy.
const DEFAULT_FORWARD: Forward = Forward::Route;
/// ipvsadm's default. ipvsctl creates 0 but compares as 1; we take 1 for unset, and an
/// explicit 0 stays 0.
const DEFAULT_WEIGHT: i32 = 1;
/// ipvsadm's default persistence timeout.
const DEFAULT_PERSISTENCE_TIMEOUT: u64 = 300;
/// The kernel's limit for interface names, less the NUL.
const IFNAME_MAX: usize = 15;

const PORT: RangeInclusive<u64> = 1..=65535;
const WEIGHT: RangeInclusive<u64> = 0..=65535;
const U32: RangeInclusive<u64> = 0..=u32::MAX as u64;

/// A YAML node and the path that leads to it from the root.
struct Node<'v> {
    value: &'v Value,
    path: Vec<Step>,
}

impl<'v> Node<'v> {
    /// The value under `key`, if this node is a mapping that has it.
    fn field(&self, key: &str) -> Option<Node<'v>> {
        let value = self.value.get(key)?;
        Some(self.child(Step::Value(key.to_owned()), value))
    }

    fn child(&self, step: Step, value: &'v Value) -> Node<'v> {
        let mut path = self.path.clone();
        path.push(step);
        Node { value, path }
    }

    fn key_path(&self, key: &str) -> Vec<Step> {
        let mut path = self.path.clone();
        path.push(Step::Key(key.to_owned()));
        path
    }
}

/// How a value looks in a message.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

fn names<T>(choices: &[(&'static str, T)]) -> String {
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

fn range_text(range: &RangeInclusive<u64>) -> String {
    format!("{}..{}", range.start(), range.end())
}

/// Model-wide fallbacks; `None` where the model sets none.
#[derive(Default)]
struct Defaults {
    port: Option<u16>,
    weight: Option<i32>,
    scheduler: Option<&'static str>,
    forward: Option<Forward>,
}

/// What destinations need to know about their service.
struct ServiceContext {
    /// `None` when the service address is invalid: family checks are skipped.
    family: Option<Family>,
    port: u16,
}

struct Persistence {
    timeout: u32,
    netmask: Option<u32>,
    engine: Option<String>,
}

/// Walks the document, collecting problems (path, message) and building the table.
struct Checker<'p> {
    /// The model text, to name where a duplicate was first defined.
    text: &'p str,
    params: &'p dyn ParamSource,
    problems: Vec<(Vec<Step>, String)>,
}

impl Checker<'_> {
    fn fail(&mut self, path: &[Step], message: String) {
        self.problems.push((path.to_vec(), message));
    }

    /// Keeps the first of the items that share a key (the identity after normalising,
    /// so `:0080` equals `:80`) and reports the others, pointing at their addresses.
    fn unique<T, K>(
        &mut self,
        items: Vec<(&Node, T)>,
        key_of: impl Fn(&T) -> K,
        what: &str,
    ) -> Vec<T>
    where
        K: Eq + std::hash::Hash + fmt::Display,
    {
        let anchor = |item: &Node| {
            let field = item.field("address").or_else(|| item.field("role"));
            field.map_or(item.path.clone(), |node| node.path)
        };
        let mut first_seen: HashMap<K, Vec<Step>> = HashMap::new();
        let mut kept = Vec::new();
        for (item, value) in items {
            let key = key_of(&value);
            if let Some(first) = first_seen.get(&key) {
                let (line, column) = locate(self.text, first);
                let message =
                    format!("{what} {key} is already defined at line {line}, column {column}");
                self.fail(&anchor(item), message);
                continue;
            }
            first_seen.insert(key, anchor(item));
            kept.push(value);
        }
        kept
    }

    /// Checks that `node` is a mapping (or empty) with only `allowed` keys; false if it
    /// is not a mapping at all.
    fn section(&mut self, node: &Node, what: &str, allowed: &[&str]) -> bool {
        let map = match node.value {
            Value::Null => return true,
            Value::Mapping(map) => map,
            other => {
                self.fail(
                    &node.path,
                    format!("{what} must be a mapping, found {}", shown(other)),
                );
                return false;
            }
        };
        for key in map.keys() {
            match key.as_str() {
                Some(name) if allowed.contains(&name) => {}
                Some(name) => self.fail(
                    &node.key_path(name),
                    format!(
                        "unknown key \"{name}\" in {what}; allowed: {}",
                        allowed.join(", ")
                    ),
                ),
                None => self.fail(
                    &node.path,
                    format!("{what} has a key that is not a name: {}", shown(key)),
                ),
            }
        }
        true
    }

    fn required<'v>(&mut self, node: &Node<'v>, key: &str, owner: &str) -> Option<Node<'v>> {
        let field = node.field(key);
        if field.is_none() {
            self.fail(&node.path, format!("{owner} needs \"{key}\""));
        }
        field
    }

    /// The items of a list; an empty value is an empty list.
    fn list<'v>(&mut self, node: &Node<'v>, what: &str) -> Vec<Node<'v>> {
        match node.value {
            Value::Null => Vec::new(),
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| node.child(Step::Index(index), item))
                .collect(),
            other => {
                self.fail(
                    &node.path,
                    format!("{what} must be a list, found {}", shown(other)),
                );
                Vec::new()
            }
        }
    }

    fn text<'v>(&mut self, node: &Node<'v>, what: &str) -> Option<&'v str> {
        let text = node.value.as_str();
        if text.is_none() {
            self.fail(
                &node.path,
                format!("{what} must be text, found {}", shown(node.value)),
            );
        }
        text
    }

    fn number(&mut self, node: &Node, what: &str, range: RangeInclusive<u64>) -> Option<u64> {
        let message = match (node.value.as_u64(), node.value.as_i64()) {
            (Some(n), _) if range.contains(&n) => return Some(n),
            (Some(n), _) => format!("{what} {n} is not in {}", range_text(&range)),
            (None, Some(n)) => format!("{what} {n} is not in {}", range_text(&range)),
            (None, None) => format!(
                "{what} must be a whole number in {}, found {}",
                range_text(&range),
                shown(node.value)
            ),
        };
        self.fail(&node.path, message);
        None
    }

    fn one_of<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        choices: &[(&'static str, T)],
    ) -> Option<(&'static str, T)> {
        let found = node
            .value
            .as_str()
            .and_then(|text| choices.iter().find(|(name, _)| *name == text));
        if found.is_none() {
            let message = format!(
                "{what} {} is not one of {}",
                shown(node.value),
                names(choices)
            );
            self.fail(&node.path, message);
        }
        found.copied()
    }

    /// An optional field that must be one of `choices`.
    fn field_choice<T: Copy>(
        &mut self,
        parent: &Node,
        key: &str,
        what: &str,
        choices: &[(&'static str, T)],
    ) -> Option<(&'static str, T)> {
        let node = parent.field(key)?;
        self.one_of(&node, what, choices)
    }

    /// An optional numeric field; `None` when unset (or invalid, which is reported).
    fn field_number(
        &mut self,
        parent: &Node,
        key: &str,
        what: &str,
        range: RangeInclusive<u64>,
    ) -> Option<u64> {
        let node = parent.field(key)?;
        self.number(&node, what, range)
    }

    /// An address string with its parameters resolved.
    fn address(&mut self, node: &Node) -> Option<String> {
        let text = self.text(node, "an address")?;
        match params::substitute(text, self.params) {
            Ok(resolved) => Some(resolved),
            Err(message) => {
                self.fail(&node.path, format!("address \"{text}\": {message}"));
                None
            }
        }
    }

    fn table(&mut self, root: &Node) -> DesiredTable {
        if root.value.is_null() {
            // An empty file is more likely a mistake than a request to wipe the table.
            self.fail(
                &root.path,
                "the model is empty; write {} for an empty table".to_owned(),
            );
            return DesiredTable::default();
        }
        if !self.section(
            root,
            "the model",
            &["defaults", "timeouts", "daemons", "services"],
        ) {
            return DesiredTable::default();
        }
        let defaults = root
            .field("defaults")
            .map(|node| self.defaults(&node))
            .unwrap_or_default();
        DesiredTable {
            timeouts: root.field("timeouts").map(|node| self.timeouts(&node)),
            daemons: root.field("daemons").map(|node| self.daemons(&node)),
            services: root
                .field("services")
                .map(|node| self.services(&node, &defaults))
                .unwrap_or_default(),
        }
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        self.section(node, "defaults", &["port", "weight", "sched", "forward"]);
        Defaults {
            port: self
                .field_number(node, "port", "port", PORT)
                .map(|p| p as u16),
            weight: self
                .field_number(node, "weight", "weight", WEIGHT)
                .map(|w| w as i32),
            scheduler: self
                .field_choice(node, "sched", "scheduler", SCHEDULERS)
                .map(|(name, _)| name),
            forward: self
                .field_choice(node, "forward", "forward", FORWARDS)
                .map(|(_, f)| f),
        }
    }

    fn timeouts(&mut self, node: &Node) -> Timeouts {
        self.section(node, "timeouts", &["tcp", "tcpfin", "udp"]);
        let mut seconds = |key: &str| {
            self.field_number(node, key, &format!("timeout {key}"), U32)
                .unwrap_or(0) as u32
        };
        Timeouts {
            tcp: seconds("tcp"),
            tcp_fin: seconds("tcpfin"),
            udp: seconds("udp"),
        }
    }

    fn daemons(&mut self, node: &Node) -> Vec<Daemon> {
        let items = self.list(node, "daemons");
        let daemons = items
            .iter()
            .filter_map(|item| Some((item, self.daemon(item)?)))
            .collect();
        // The kernel runs at most one master and one backup.
        self.unique(daemons, |daemon| daemon.role, "a daemon with role")
    }

    fn daemon(&mut self, node: &Node) -> Option<Daemon> {
        const KEYS: &[&str] = &[
            "role",
            "interface",
            "syncid",
            "maxlen",
            "group",
            "port",
            "ttl",
        ];
        self.section(node, "a daemon", KEYS);
        let role = self
            .required(node, "role", "a daemon")
            .and_then(|n| self.one_of(&n, "role", ROLES));
        let interface = self
            .required(node, "interface", "a daemon")
            .and_then(|n| self.interface_name(&n));
        let sync_id = self
            .field_number(node, "syncid", "syncid", 0..=255)
            .unwrap_or(0) as u32;
        let sync_maxlen = self
            .field_number(node, "maxlen", "maxlen", WEIGHT)
            .unwrap_or(0) as u16;
        let mcast_group = node.field("group").and_then(|n| self.ip(&n, "group"));
        let mcast_port = self.field_number(node, "port", "port", PORT).unwrap_or(0) as u16;
        let mcast_ttl = self.field_number(node, "ttl", "ttl", 1..=255).unwrap_or(0) as u8;
        let mut daemon = Daemon::new(role?.1, interface?, sync_id);
        daemon.sync_maxlen = sync_maxlen;
        daemon.mcast_group = mcast_group;
        daemon.mcast_port = mcast_port;
        daemon.mcast_ttl = mcast_ttl;
        Some(daemon)
    }

    fn interface_name<'v>(&mut self, node: &Node<'v>) -> Option<&'v str> {
        let name = self.text(node, "interface")?;
        if name.is_empty() || name.len() > IFNAME_MAX {
            self.fail(
                &node.path,
                format!("interface \"{name}\" must have 1..{IFNAME_MAX} bytes"),
            );
            return None;
        }
        Some(name)
    }

    fn ip(&mut self, node: &Node, what: &str) -> Option<IpAddr> {
        let text = self.text(node, what)?;
        let addr = text.parse().ok();
        if addr.is_none() {
            self.fail(
                &node.path,
                format!("{what} \"{text}\" is not an IPv4 or IPv6 address"),
            );
        }
        addr
    }

    fn services(&mut self, node: &Node, defaults: &Defaults) -> Vec<DesiredService> {
        let items = self.list(node, "services");
        let services = items
            .iter()
            .filter_map(|item| Some((item, self.service(item, defaults)?)))
            .collect();
        self.unique(services, |service| service.service.key, "service")
    }

    fn service(&mut self, node: &Node, defaults: &Defaults) -> Option<DesiredService> {
        const KEYS: &[&str] = &["address", "sched", "flags", "persistence", "destinations"];
        if !self.section(node, "a service", KEYS) {
            return None;
        }
        let persistence_node = node.field("persistence");
        let key = self
            .required(node, "address", "a service")
            .and_then(|address| self.service_key(&address, defaults, persistence_node.is_some()));
        let family = key.map(|key| key.family());
        let scheduler = self
            .field_choice(node, "sched", "scheduler", SCHEDULERS)
            .map(|(name, _)| name)
            .or(defaults.scheduler)
            .unwrap_or(DEFAULT_SCHEDULER);
        let protocol = match key {
            Some(ServiceKey::Addr { protocol, .. }) => Some(protocol),
            _ => None,
        };
        let flags = node
            .field("flags")
            .map(|flags| self.flags(&flags, scheduler, protocol))
            .unwrap_or_default();
        let persistence = persistence_node.map(|node| self.persistence(&node, family));
        let context = ServiceContext {
            family,
            port: match key {
                Some(ServiceKey::Addr { port, .. }) => port,
                _ => 0,
            },
        };
        let dests = node
            .field("destinations")
            .map(|dests| self.destinations(&dests, &context, defaults))
            .unwrap_or_default();

        let mut service = Service::new(key?, scheduler);
        service.flags = flags;
        if let Some(persistence) = persistence {
            service.flags = service.flags | ServiceFlags::PERSISTENT;
            service.timeout = persistence.timeout;
            service.netmask = persistence.netmask.unwrap_or(service.netmask);
            service.pe_name = persistence.engine;
        }
        Some(DesiredService { service, dests })
    }

    fn service_key(
        &mut self,
        node: &Node,
        defaults: &Defaults,
        persistent: bool,
    ) -> Option<ServiceKey> {
        let text = self.address(node)?;
        let parsed = text.parse().and_then(|address| match address {
            ServiceAddress::Fwmark(family, mark) => Ok(ServiceKey::fwmark(family, mark)),
            ServiceAddress::Ip {
                protocol,
                addr,
                port,
            } => {
                let port = port
                    .or(defaults.port)
                    .ok_or("it has no port and there is no defaults.port")?;
                if port == 0 && !persistent {
                    return Err("port 0 (all ports) needs persistence".to_owned());
                }
                Ok(ServiceKey::Addr {
                    protocol,
                    addr,
                    port,
                })
            }
        });
        parsed
            .map_err(|reason| {
                self.fail(&node.path, format!("service address \"{text}\": {reason}"))
            })
            .ok()
    }

    fn flags(&mut self, node: &Node, scheduler: &str, protocol: Option<Protocol>) -> ServiceFlags {
        let mut flags = ServiceFlags::default();
        for item in self.list(node, "flags") {
            let Some((name, flag)) = self.one_of(&item, "flag", FLAGS) else {
                continue;
            };
            if flag.scheduler.is_some_and(|needed| needed != scheduler) {
                let needed = flag.scheduler.unwrap_or_default();
                self.fail(
                    &item.path,
                    format!("flag {name} needs scheduler {needed}, not {scheduler}"),
                );
            }
            if flag.bits == ServiceFlags::ONEPACKET && protocol.is_some_and(|p| p != Protocol::Udp)
            {
                self.fail(&item.path, format!("flag {name} is for udp services only"));
            }
            flags = flags | flag.bits;
        }
        flags
    }

    fn persistence(&mut self, node: &Node, family: Option<Family>) -> Persistence {
        self.section(
            node,
            "persistence",
            &["timeout", "netmask", "prefix", "engine"],
        );
        let timeout = self
            .field_number(node, "timeout", "persistence timeout", 1..=u32::MAX as u64)
            .unwrap_or(DEFAULT_PERSISTENCE_TIMEOUT) as u32;
        let netmask = node.field("netmask").and_then(|mask| {
            if family == Some(Family::Inet6) {
                self.fail(
                    &mask.path,
                    "netmask is for IPv4 services; use prefix: 1..128 for IPv6".to_owned(),
                );
                return None;
            }
            self.ipv4_netmask(&mask)
        });
        let prefix = node.field("prefix").and_then(|prefix| {
            if family == Some(Family::Inet) {
                self.fail(
                    &prefix.path,
                    "prefix is for IPv6 services; use netmask (like 255.255.255.0) for IPv4"
                        .to_owned(),
                );
                return None;
            }
            self.number(&prefix, "prefix", 1..=128).map(|p| p as u32)
        });
        let engine = self.field_choice(node, "engine", "persistence engine", ENGINES);
        Persistence {
            timeout,
            netmask: netmask.or(prefix),
            engine: engine.map(|(name, _)| name.to_owned()),
        }
    }

    /// Any IPv4 mask, as the kernel and ipvsadm take it: persistence groups the clients
    /// whose addresses agree in its one bits, contiguous or not.
    fn ipv4_netmask(&mut self, node: &Node) -> Option<u32> {
        let text = self.text(node, "netmask")?;
        let mask = text.parse::<Ipv4Addr>().ok().map(u32::from);
        if mask.is_none() {
            self.fail(
                &node.path,
                format!("netmask \"{text}\" is not an IPv4 netmask like 255.255.255.0"),
            );
        }
        mask
    }

    fn destinations(
        &mut self,
        node: &Node,
        service: &ServiceContext,
        defaults: &Defaults,
    ) -> Vec<DesiredDest> {
        let items = self.list(node, "destinations");
        let dests = items
            .iter()
            .filter_map(|item| Some((item, self.destination(item, service, defaults)?)))
            .collect();
        self.unique(dests, |dest| dest.dest.key(), "destination")
    }

    fn destination(
        &mut self,
        node: &Node,
        service: &ServiceContext,
        defaults: &Defaults,
    ) -> Option<DesiredDest> {
        const KEYS: &[&str] = &[
            "address",
            "forward",
            "weight",
            "thresholds",
            "tunnel",
            "state",
        ];
        if !self.section(node, "a destination", KEYS) {
            return None;
        }
        let address_node = self.required(node, "address", "a destination");
        let address = address_node.as_ref().and_then(|address| {
            let text = self.address(address)?;
            text.parse::<DestAddress>()
                .map_err(|reason| {
                    self.fail(
                        &address.path,
                        format!("destination address \"{text}\": {reason}"),
                    )
                })
                .ok()
        });
        // Unset, or Some(None) when written but invalid (already reported).
        let written_forward = node
            .field("forward")
            .map(|n| self.one_of(&n, "forward", FORWARDS).map(|(_, f)| f));
        let forward = written_forward
            .flatten()
            .or(defaults.forward)
            .unwrap_or(DEFAULT_FORWARD);
        let known_forward = (written_forward != Some(None)).then_some(forward);
        let weight = self
            .field_number(node, "weight", "weight", WEIGHT)
            .map(|w| w as i32)
            .or(defaults.weight)
            .unwrap_or(DEFAULT_WEIGHT);
        let (upper, lower) = node
            .field("thresholds")
            .map_or((0, 0), |t| self.thresholds(&t));
        let tunnel = node
            .field("tunnel")
            .map(|t| self.tunnel(&t, known_forward))
            .unwrap_or_default();
        let state = self
            .field_choice(node, "state", "state", STATES)
            .map_or(DestState::Active, |(_, s)| s);

        let DestAddress { addr, port } = address?;
        if let (Some(family), Some(address_node)) = (service.family, &address_node) {
            // The kernel mixes families only through a tunnel.
            if Family::of(&addr) != family && forward != Forward::Tunnel {
                let (dest_family, service_family) = match family {
                    Family::Inet => ("IPv6", "IPv4"),
                    Family::Inet6 => ("IPv4", "IPv6"),
                };
                self.fail(
                    &address_node.path,
                    format!("{dest_family} destination {addr} under an {service_family} service needs forward: tunnel"),
                );
            }
        }
        let mut dest = Destination::new(
            addr,
            port.or(defaults.port).unwrap_or(service.port),
            forward,
        );
        dest.weight = weight;
        dest.upper_threshold = upper;
        dest.lower_threshold = lower;
        dest.tunnel = tunnel;
        Some(DesiredDest { dest, state })
    }

    /// (upper, lower) connection thresholds; 0 is "none".
    fn thresholds(&mut self, node: &Node) -> (u32, u32) {
        self.section(node, "thresholds", &["upper", "lower"]);
        let upper = self
            .field_number(node, "upper", "upper threshold", U32)
            .unwrap_or(0) as u32;
        let lower = self
            .field_number(node, "lower", "lower threshold", U32)
            .unwrap_or(0) as u32;
        if lower > upper {
            let path = node.field("lower").map_or(node.path.clone(), |n| n.path);
            self.fail(
                &path,
                format!("lower threshold {lower} is above the upper threshold {upper}"),
            );
        }
        (upper, lower)
    }

    /// `forward` is `None` when the destination's own forward is invalid: no cascade then.
    fn tunnel(&mut self, node: &Node, forward: Option<Forward>) -> Tunnel {
        self.section(node, "tunnel", &["type", "port", "checksum"]);
        let kind = self
            .field_choice(node, "type", "tunnel type", TUNNEL_TYPES)
            .map_or(TunnelType::Ipip, |(_, k)| k);
        let port = self
            .field_number(node, "port", "tunnel port", PORT)
            .map(|p| p as u16);
        let flags = self
            .field_choice(node, "checksum", "checksum", CHECKSUMS)
            .map_or(TunnelFlags::NOCSUM, |(_, f)| f);
        if forward.is_some_and(|forward| forward != Forward::Tunnel) {
            self.fail(
                &node.path,
                "tunnel settings need forward: tunnel".to_owned(),
            );
        }
        match (kind, port) {
            (TunnelType::Gue, None) if node.field("port").is_none() => {
                self.fail(
                    &node.path,
                    "tunnel type gue needs a port (1..65535)".to_owned(),
                );
            }
            (TunnelType::Ipip | TunnelType::Gre, Some(_)) => {
                let path = node.field("port").map_or(node.path.clone(), |n| n.path);
                self.fail(&path, "a tunnel port is for type gue only".to_owned());
            }
            _ => {}
        }
        Tunnel {
            kind,
            port: port.unwrap_or(0),
            flags,
        }
    }
}
