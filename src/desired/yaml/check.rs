//! The model's schema, checked as the parser's nodes stream by: each mapping is read into
//! a small typed record (its values resolved, their positions kept where a later check
//! needs them), cross-checked when it ends, and finished with the model's defaults once
//! the whole document is read (a model may write `defaults` after `services`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::sync::Mutex;

use super::params::{self, ParamSource};
use super::reader::{Fatal, Item, Kind, Mark, Node, Reader, Resolved};
use super::split::{Piece, Split};
use super::Limits;
use crate::desired::names::{
    Flag, CHECKSUMS, ENGINES, FLAGS, FORWARDS, ROLES, SCHEDULERS, STATES, TUNNEL_TYPES,
};
use crate::desired::{DesiredDest, DesiredService, DesiredTable, DestState, ScopeRule};
use crate::model::{
    Daemon, DestAddress, Destination, Family, Forward, Protocol, Service, ServiceAddress,
    ServiceFlags, ServiceKey, Timeouts, Tunnel, TunnelFlags, TunnelType,
};
use crate::workers;

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
/// How much of a long value a message quotes.
const SHOWN_CHARS: usize = 60;

const PORT: RangeInclusive<u64> = 1..=65535;
const WEIGHT: RangeInclusive<u64> = 0..=65535;
const U32: RangeInclusive<u64> = 0..=u32::MAX as u64;
/// Connection timeouts the kernel takes at any HZ: it refuses more than INT_MAX / HZ
/// seconds, and HZ is at most 1000.
const CONNECTION_TIMEOUT: RangeInclusive<u64> = 0..=i32::MAX as u64 / 1000;
/// Persistence timeouts every kernel keeps: it stores timeout * HZ in 32 bits, which
/// wraps above 49 days at HZ 1000; ipvsadm's limit, 31 days, fits.
const PERSISTENCE_TIMEOUT: RangeInclusive<u64> = 1..=31 * 24 * 3600;

type Step<T> = Result<T, Fatal>;

/// Reads the document and checks it: the table, or every problem found (position and
/// message), or the one fatal error (syntax or limit) that stopped the reading.
pub(super) fn check(
    mut reader: Reader<'_>,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
) -> Result<Result<DesiredTable, Vec<(Mark, String)>>, Fatal> {
    let mut walker = Walker {
        reader: &mut reader,
        params,
        scope,
        problems: Vec::new(),
    };
    let table = walker.document()?;
    let problems = walker.problems;
    reader.finish()?;
    Ok(match problems.is_empty() {
        true => Ok(table),
        false => Err(problems),
    })
}

/// [`check`] of a model cut by [`split`](super::split): the head first, then the pieces
/// at once, one a thread. The table, or `None` when any part has a problem of any kind
/// or the head is not what the cut expects (the caller then reads the whole text with
/// [`check`], which gives every message in its usual form).
pub(super) fn check_split(
    split: &Split<'_>,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
    limits: &Limits,
) -> Option<DesiredTable> {
    let pieces: Vec<&Piece<'_>> = split.pieces.iter().collect();
    let read_piece = |index: usize| read_services(pieces[index], params, limits);
    let others = |index: usize| read_piece(index + 1);
    let (others, first) = workers::in_parallel(pieces.len() - 1, &others, || read_piece(0));
    let mut records = first?;
    for piece in others {
        records.extend(piece?);
    }
    finish_split(split.head, params, scope, limits, records)
}

/// Reads the head of a cut model, then finishes `records`, its services in order, with
/// its defaults: the table, or `None` on any problem (as [`check_split`]).
fn finish_split(
    head: &str,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
    limits: &Limits,
    records: Vec<ServiceRecord>,
) -> Option<DesiredTable> {
    let mut reader = Reader::new(head, limits);
    let mut head = Walker {
        reader: &mut reader,
        params,
        scope,
        problems: Vec::new(),
    };
    let sections = head.sections().ok()?;
    // The cut put the head's last line, `services:`, as the key of the list that follows.
    let empty_list = matches!(&sections.services, Some(records) if records.is_empty());
    if !empty_list || !head.problems.is_empty() {
        return None;
    }
    head.reader.finish().ok()?;
    let mut table = sections.table;
    table.services = head.finish_services(records, &sections.defaults);
    head.problems.is_empty().then_some(table)
}

/// A piece's list is one level less deep than in the model (under its top mapping).
fn piece_limits(limits: &Limits) -> Option<Limits> {
    Some(Limits {
        max_depth: limits.max_depth.checked_sub(1)?,
        ..limits.clone()
    })
}

/// The services of a piece of a cut model, or `None` on any problem.
fn read_services(
    piece: &Piece<'_>,
    params: &dyn ParamSource,
    limits: &Limits,
) -> Option<Vec<ServiceRecord>> {
    let limits = piece_limits(limits)?;
    let mut reader = Reader::new(piece.text, &limits).starting_at_line(piece.first_line);
    let mut walker = Walker {
        reader: &mut reader,
        params,
        scope: &[],
        problems: Vec::new(),
    };
    let list = walker.reader.document().ok()??;
    let records = walker.services(list).ok()?;
    let clean = walker.problems.is_empty();
    (reader.finish().is_ok() && clean).then_some(records)
}

/// A service read from its own text: its record, and each parameter its reading looked
/// up, with the value it got (`None`: unknown), so that a later reading of the same text
/// can tell whether it would read the same.
#[derive(Clone)]
pub(super) struct ReadService {
    pub(super) record: ServiceRecord,
    pub(super) lookups: Vec<(String, Option<String>)>,
}

impl ReadService {
    /// Whether each parameter it used still has the value it had.
    pub(super) fn resolves_alike(&self, params: &dyn ParamSource) -> bool {
        (self.lookups.iter()).all(|(name, value)| params.lookup(name) == *value)
    }
}

/// Counts the lookups a reading makes, and the values they got.
struct Recorder<'p> {
    params: &'p dyn ParamSource,
    seen: Mutex<Vec<(String, Option<String>)>>,
}

impl ParamSource for Recorder<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        let value = self.params.lookup(name);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.push((name.to_owned(), value.clone()));
        value
    }
}

impl Recorder<'_> {
    fn count(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Reads the services of a piece, each with the lookups made while reading it.
fn read_services_noting_lookups(
    piece: &Piece<'_>,
    params: &dyn ParamSource,
    limits: &Limits,
) -> Option<Vec<ReadService>> {
    let limits = piece_limits(limits)?;
    let recorder = Recorder {
        params,
        seen: Mutex::new(Vec::new()),
    };
    let mut reader = Reader::new(piece.text, &limits).starting_at_line(piece.first_line);
    let mut walker = Walker {
        reader: &mut reader,
        params: &recorder,
        scope: &[],
        problems: Vec::new(),
    };
    let list = walker.reader.document().ok()??;
    let mut read = Vec::new();
    let ok = walker.items(list, "services", |w, item| {
        let before = recorder.count();
        if let Some(record) = w.service(item)? {
            read.push((record, before..recorder.count()));
        }
        Ok(())
    });
    let clean = ok.is_ok() && walker.problems.is_empty() && reader.finish().is_ok();
    let seen = recorder
        .seen
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let services = read.into_iter().map(|(record, range)| {
        let distinct: BTreeMap<&String, &Option<String>> = seen[range]
            .iter()
            .map(|(name, value)| (name, value))
            .collect();
        let lookups = distinct
            .into_iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        ReadService { record, lookups }
    });
    clean.then(|| services.collect())
}

/// [`check_split`] of a model cut at every service (`items`, one piece each), where
/// `known` has, for some of them, the reading of the same text from before: those are
/// taken as they are, the others read (runs of them as one piece, spread over threads
/// when they are many). The table, and each service's reading in order; `None` on any
/// problem (as [`check_split`]). The caller checked that each known reading
/// [resolves alike](ReadService::resolves_alike).
pub(super) fn check_items(
    text: &str,
    items: &Split<'_>,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
    limits: &Limits,
    mut known: Vec<Option<ReadService>>,
) -> Option<(DesiredTable, Vec<ReadService>)> {
    let pieces = &items.pieces;
    // Runs of consecutive services to read, each as one piece: (first item, count).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let target = run_bytes(items, &known);
    for index in (0..pieces.len()).filter(|&index| known[index].is_none()) {
        match runs.last_mut() {
            Some((first, count))
                if *first + *count == index && pieces[index].at - pieces[*first].at < target =>
            {
                *count += 1
            }
            _ => runs.push((index, 1)),
        }
    }
    let read_run = |&(first, count): &(usize, usize)| {
        let last = &pieces[first + count - 1];
        let piece = Piece {
            text: &text[pieces[first].at..last.at + last.text.len()],
            at: pieces[first].at,
            first_line: pieces[first].first_line,
        };
        let read = read_services_noting_lookups(&piece, params, limits)?;
        (read.len() == count).then_some(read)
    };
    // Worker w reads runs w, w + workers, ...
    let workers = runs.len().min(processors()).max(1);
    let each = |worker: usize| -> Option<Vec<Vec<ReadService>>> {
        (worker..runs.len())
            .step_by(workers)
            .map(|run| read_run(&runs[run]))
            .collect()
    };
    let (others, mine) = workers::in_parallel(workers - 1, &|w| each(w + 1), || each(0));
    let mut per_worker = Vec::with_capacity(workers);
    for read in std::iter::once(mine).chain(others) {
        per_worker.push(read?.into_iter());
    }
    for (run, &(first, _)) in runs.iter().enumerate() {
        let read = per_worker[run % workers].next()?;
        for (offset, reading) in read.into_iter().enumerate() {
            known[first + offset] = Some(reading);
        }
    }
    let readings: Vec<ReadService> = known.into_iter().collect::<Option<_>>()?;
    let records = readings.iter().map(|r| r.record.clone()).collect();
    let table = finish_split(items.head, params, scope, limits, records)?;
    Some((table, readings))
}

/// How many bytes of services one run reads at most: the unknown services' share of a
/// processor, and at least `split::MIN_PIECE_BYTES`.
fn run_bytes(items: &Split<'_>, known: &[Option<ReadService>]) -> usize {
    let unknown: usize = (items.pieces.iter().zip(known))
        .filter(|(_, reading)| reading.is_none())
        .map(|(piece, _)| piece.text.len())
        .sum();
    (unknown / processors()).max(super::split::MIN_PIECE_BYTES)
}

fn processors() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(super::split::MAX_PIECES))
}

/// How a value looks in a message; long text is cut.
fn shown(node: &Node) -> String {
    if let Some(tag) = &node.tag {
        return format!("a value tagged {tag}");
    }
    match &node.kind {
        Kind::Seq => "a list".to_owned(),
        Kind::Map => "a mapping".to_owned(),
        Kind::Scalar(scalar) => match scalar.resolve() {
            Resolved::Null => "nothing".to_owned(),
            Resolved::Bool(b) => b.to_string(),
            Resolved::Int(_) | Resolved::Float => scalar.text.to_string(),
            Resolved::Str(s) => quoted(s),
        },
    }
}

fn quoted(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("\"{}...\" ({} bytes)", &text[..cut], text.len()),
        None => format!("\"{text}\""),
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

/// A service as written, before the defaults.
#[derive(Clone)]
pub(super) struct ServiceRecord {
    /// The mapping.
    at: Mark,
    /// The address (`None` when missing or invalid, already reported), where it is, and
    /// its text with parameters resolved.
    address: Option<(ServiceAddress, Mark, String)>,
    scheduler: Option<&'static str>,
    flags: Vec<(&'static str, Flag, Mark)>,
    persistence: Option<Persistence>,
    dests: Vec<DestRecord>,
}

#[derive(Clone)]
struct Persistence {
    timeout: u32,
    netmask: Option<(u32, Mark)>,
    prefix: Option<(u32, Mark)>,
    engine: Option<&'static str>,
}

/// A destination as written, before the defaults.
#[derive(Clone)]
struct DestRecord {
    at: Mark,
    address: Option<(DestAddress, Mark)>,
    /// `None` when unset; `Some(None)` when written but invalid (already reported).
    forward: Option<Option<Forward>>,
    weight: Option<i32>,
    thresholds: (u32, u32),
    /// The tunnel settings and where they are.
    tunnel: Option<(Tunnel, Mark)>,
    state: DestState,
}

/// A model's top level as read, before the services are finished.
struct Sections {
    table: DesiredTable,
    defaults: Defaults,
    /// `None` when the model has no `services`.
    services: Option<Vec<ServiceRecord>>,
}

/// What destinations need to know about their service.
struct ServiceContext {
    /// `None` when the service address is invalid: family checks are skipped.
    family: Option<Family>,
    port: u16,
}

struct Walker<'r, 't, 'p> {
    reader: &'r mut Reader<'t>,
    params: &'p dyn ParamSource,
    /// The services the model may have (see [`ScopeRule`]); empty: any.
    scope: &'p [ScopeRule],
    problems: Vec<(Mark, String)>,
}

impl<'t> Walker<'_, 't, '_> {
    fn fail(&mut self, at: Mark, message: String) {
        self.problems.push((at, message));
    }

    /// The next node where one must come (a mapping's value).
    fn node(&mut self) -> Step<Node<'t>> {
        match self.reader.next()? {
            Item::Node(node) => Ok(node),
            Item::End => Err(Fatal {
                at: Mark::START,
                message: "YAML syntax: a mapping key without its value".to_owned(),
            }),
        }
    }

    /// Reads past whatever is left of `node`.
    fn skip(&mut self, node: &Node) -> Step<()> {
        match node.is_collection() {
            true => self.reader.skip_rest(),
            false => Ok(()),
        }
    }

    /// Reads the entries of a mapping, giving each allowed key's value to `each`, which
    /// must read all of it; reports and skips unknown and repeated keys. An empty value
    /// counts as an empty mapping. False, reported, when `node` is no mapping at all.
    fn entries(
        &mut self,
        node: Node<'t>,
        what: &str,
        allowed: &[&'static str],
        mut each: impl FnMut(&mut Self, &'static str, Node<'t>) -> Step<()>,
    ) -> Step<bool> {
        if node.is_null() {
            return Ok(true);
        }
        if !matches!(node.kind, Kind::Map) || node.tag.is_some() {
            self.fail(
                node.at,
                format!("{what} must be a mapping, found {}", shown(&node)),
            );
            self.skip(&node)?;
            return Ok(false);
        }
        let mut seen: Vec<&'static str> = Vec::new();
        loop {
            let key = match self.reader.next()? {
                Item::End => return Ok(true),
                Item::Node(key) => key,
            };
            self.skip(&key)?;
            let value = self.node()?;
            let name = match &key.kind {
                Kind::Scalar(scalar) if key.tag.is_none() => scalar.as_str(),
                _ => None,
            };
            let Some(name) = name else {
                self.fail(
                    key.at,
                    format!("{what} has a key that is not a name: {}", shown(&key)),
                );
                self.skip(&value)?;
                continue;
            };
            match allowed.iter().find(|field| **field == name) {
                Some(field) if seen.contains(field) => {
                    self.fail(key.at, format!("\"{name}\" is given twice in {what}"));
                    self.skip(&value)?;
                }
                Some(field) => {
                    seen.push(field);
                    each(self, field, value)?;
                }
                None => {
                    let message = format!(
                        "unknown key {} in {what}; allowed: {}",
                        quoted(name),
                        allowed.join(", ")
                    );
                    self.fail(key.at, message);
                    self.skip(&value)?;
                }
            }
        }
    }

    /// Reads the items of a list, giving each to `each`, which must read all of it. An
    /// empty value counts as an empty list.
    fn items(
        &mut self,
        node: Node<'t>,
        what: &str,
        mut each: impl FnMut(&mut Self, Node<'t>) -> Step<()>,
    ) -> Step<()> {
        if node.is_null() {
            return Ok(());
        }
        if !matches!(node.kind, Kind::Seq) || node.tag.is_some() {
            self.fail(
                node.at,
                format!("{what} must be a list, found {}", shown(&node)),
            );
            return self.skip(&node);
        }
        while let Item::Node(item) = self.reader.next()? {
            each(self, item)?;
        }
        Ok(())
    }

    /// A text value; reported (and `None`) when it is anything else.
    fn text(&mut self, node: &Node<'t>, what: &str) -> Step<Option<Cow<'t, str>>> {
        if let (Kind::Scalar(scalar), None) = (&node.kind, &node.tag) {
            if scalar.as_str().is_some() {
                return Ok(Some(scalar.text.clone()));
            }
        }
        self.fail(
            node.at,
            format!("{what} must be text, found {}", shown(node)),
        );
        self.skip(node)?;
        Ok(None)
    }

    fn number(&mut self, node: &Node, what: &str, range: RangeInclusive<u64>) -> Step<Option<u64>> {
        let value = match (&node.kind, &node.tag) {
            (Kind::Scalar(scalar), None) => match scalar.resolve() {
                Resolved::Int(n) => Some(n),
                _ => None,
            },
            _ => None,
        };
        let message = match value {
            Some(n) => match u64::try_from(n) {
                Ok(n) if range.contains(&n) => return Ok(Some(n)),
                _ => format!("{what} {} is not in {}", shown(node), range_text(&range)),
            },
            None => format!(
                "{what} must be a whole number in {}, found {}",
                range_text(&range),
                shown(node)
            ),
        };
        self.fail(node.at, message);
        self.skip(node)?;
        Ok(None)
    }

    fn one_of<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        choices: &[(&'static str, T)],
    ) -> Step<Option<(&'static str, T)>> {
        let found = match (&node.kind, &node.tag) {
            (Kind::Scalar(scalar), None) => scalar
                .as_str()
                .and_then(|text| choices.iter().find(|(name, _)| *name == text)),
            _ => None,
        };
        if found.is_none() {
            let message = format!("{what} {} is not one of {}", shown(node), names(choices));
            self.fail(node.at, message);
            self.skip(node)?;
        }
        Ok(found.copied())
    }

    /// An address with its parameters resolved.
    fn address(&mut self, node: &Node<'t>) -> Step<Option<Cow<'t, str>>> {
        let Some(text) = self.text(node, "an address")? else {
            return Ok(None);
        };
        let resolved = match &text {
            Cow::Borrowed(text) => params::substitute(text, self.params),
            Cow::Owned(text) => {
                params::substitute(text, self.params).map(|s| Cow::Owned(s.into_owned()))
            }
        };
        match resolved {
            Ok(resolved) => Ok(Some(resolved)),
            Err(message) => {
                self.fail(node.at, format!("address {}: {message}", quoted(&text)));
                Ok(None)
            }
        }
    }

    /// Keeps the first of the items that share a key (the identity after normalising,
    /// so `:0080` equals `:80`) and reports the others at `at`.
    fn unique<T, K>(
        &mut self,
        items: Vec<(Mark, T)>,
        key_of: impl Fn(&T) -> K,
        what: &str,
    ) -> Vec<T>
    where
        K: Eq + std::hash::Hash + fmt::Display,
    {
        let mut first_seen: HashMap<K, Mark> = HashMap::with_capacity(items.len());
        let mut kept = Vec::with_capacity(items.len());
        for (at, value) in items {
            let key = key_of(&value);
            if let Some(first) = first_seen.get(&key) {
                let message = format!(
                    "{what} {key} is already defined at line {}, column {}",
                    first.line, first.column
                );
                self.fail(at, message);
                continue;
            }
            first_seen.insert(key, at);
            kept.push(value);
        }
        kept
    }

    fn document(&mut self) -> Step<DesiredTable> {
        let sections = self.sections()?;
        let mut table = sections.table;
        let services = sections.services.unwrap_or_default();
        table.services = self.finish_services(services, &sections.defaults);
        Ok(table)
    }

    /// The model's top level, its services not yet finished.
    fn sections(&mut self) -> Step<Sections> {
        let mut sections = Sections {
            table: DesiredTable::default(),
            defaults: Defaults::default(),
            services: None,
        };
        let Some(root) = self.reader.document()? else {
            // An empty file is more likely a mistake than a request to wipe the table.
            self.fail(
                Mark::START,
                "the model is empty; write {} for an empty table".to_owned(),
            );
            return Ok(sections);
        };
        if root.is_null() {
            self.fail(
                root.at,
                "the model is empty; write {} for an empty table".to_owned(),
            );
            return Ok(sections);
        }
        const KEYS: &[&str] = &["defaults", "timeouts", "daemons", "services"];
        self.entries(root, "the model", KEYS, |w, key, value| {
            match key {
                "defaults" => sections.defaults = w.defaults(value)?,
                "timeouts" => sections.table.timeouts = Some(w.timeouts(value)?),
                "daemons" => sections.table.daemons = Some(w.daemons(value)?),
                _ => sections.services = Some(w.services(value)?),
            }
            Ok(())
        })?;
        Ok(sections)
    }

    fn defaults(&mut self, node: Node<'t>) -> Step<Defaults> {
        let mut defaults = Defaults::default();
        const KEYS: &[&str] = &["port", "weight", "sched", "forward"];
        self.entries(node, "defaults", KEYS, |w, key, value| {
            match key {
                "port" => defaults.port = w.number(&value, "port", PORT)?.map(|p| p as u16),
                "weight" => defaults.weight = w.number(&value, "weight", WEIGHT)?.map(|n| n as i32),
                "sched" => {
                    defaults.scheduler = w
                        .one_of(&value, "scheduler", SCHEDULERS)?
                        .map(|(name, _)| name)
                }
                _ => defaults.forward = w.one_of(&value, "forward", FORWARDS)?.map(|(_, f)| f),
            }
            Ok(())
        })?;
        Ok(defaults)
    }

    fn timeouts(&mut self, node: Node<'t>) -> Step<Timeouts> {
        let mut timeouts = Timeouts::default();
        self.entries(
            node,
            "timeouts",
            &["tcp", "tcpfin", "udp"],
            |w, key, value| {
                let seconds = w
                    .number(&value, &format!("timeout {key}"), CONNECTION_TIMEOUT)?
                    .unwrap_or(0) as u32;
                match key {
                    "tcp" => timeouts.tcp = seconds,
                    "tcpfin" => timeouts.tcp_fin = seconds,
                    _ => timeouts.udp = seconds,
                }
                Ok(())
            },
        )?;
        Ok(timeouts)
    }

    fn daemons(&mut self, node: Node<'t>) -> Step<Vec<Daemon>> {
        let mut daemons = Vec::new();
        self.items(node, "daemons", |w, item| {
            let at = item.at;
            if let Some((daemon, role_at)) = w.daemon(item)? {
                daemons.push((role_at.unwrap_or(at), daemon));
            }
            Ok(())
        })?;
        // The kernel runs at most one master and one backup.
        Ok(self.unique(daemons, |daemon| daemon.role, "a daemon with role"))
    }

    /// A daemon and where its role is written.
    fn daemon(&mut self, node: Node<'t>) -> Step<Option<(Daemon, Option<Mark>)>> {
        const KEYS: &[&str] = &[
            "role",
            "interface",
            "syncid",
            "maxlen",
            "group",
            "port",
            "ttl",
        ];
        let at = node.at;
        let (mut role, mut role_at, mut interface) = (None, None, None);
        let mut daemon = Daemon::new(crate::model::DaemonRole::Master, "", 0);
        let mut role_given = false;
        let mut interface_given = false;
        let is_map = self.entries(node, "a daemon", KEYS, |w, key, value| {
            match key {
                "role" => {
                    role_given = true;
                    role_at = Some(value.at);
                    role = w.one_of(&value, "role", ROLES)?.map(|(_, r)| r);
                }
                "interface" => {
                    interface_given = true;
                    interface = w.interface_name(&value)?;
                }
                "syncid" => {
                    daemon.sync_id = w.number(&value, "syncid", 0..=255)?.unwrap_or(0) as u32
                }
                "maxlen" => {
                    daemon.sync_maxlen = w.number(&value, "maxlen", WEIGHT)?.unwrap_or(0) as u16
                }
                "group" => daemon.mcast_group = w.ip(&value, "group")?,
                "port" => daemon.mcast_port = w.number(&value, "port", PORT)?.unwrap_or(0) as u16,
                _ => daemon.mcast_ttl = w.number(&value, "ttl", 1..=255)?.unwrap_or(0) as u8,
            }
            Ok(())
        })?;
        if !is_map {
            return Ok(None);
        }
        for (given, key) in [(role_given, "role"), (interface_given, "interface")] {
            if !given {
                self.fail(at, format!("a daemon needs \"{key}\""));
            }
        }
        let (Some(role), Some(interface)) = (role, interface) else {
            return Ok(None);
        };
        daemon.role = role;
        daemon.ifname = interface;
        Ok(Some((daemon, role_at)))
    }

    fn interface_name(&mut self, node: &Node<'t>) -> Step<Option<String>> {
        let Some(name) = self.text(node, "interface")? else {
            return Ok(None);
        };
        if name.is_empty() || name.len() > IFNAME_MAX {
            self.fail(
                node.at,
                format!(
                    "interface {} must have 1..{IFNAME_MAX} bytes",
                    quoted(&name)
                ),
            );
            return Ok(None);
        }
        Ok(Some(name.into_owned()))
    }

    fn ip(&mut self, node: &Node<'t>, what: &str) -> Step<Option<IpAddr>> {
        let Some(text) = self.text(node, what)? else {
            return Ok(None);
        };
        let addr = text.parse().ok();
        if addr.is_none() {
            self.fail(
                node.at,
                format!("{what} {} is not an IPv4 or IPv6 address", quoted(&text)),
            );
        }
        Ok(addr)
    }

    fn services(&mut self, node: Node<'t>) -> Step<Vec<ServiceRecord>> {
        let mut services = Vec::new();
        self.items(node, "services", |w, item| {
            if let Some(service) = w.service(item)? {
                services.push(service);
            }
            Ok(())
        })?;
        Ok(services)
    }

    fn service(&mut self, node: Node<'t>) -> Step<Option<ServiceRecord>> {
        const KEYS: &[&str] = &["address", "sched", "flags", "persistence", "destinations"];
        let mut record = ServiceRecord {
            at: node.at,
            address: None,
            scheduler: None,
            flags: Vec::new(),
            persistence: None,
            dests: Vec::new(),
        };
        let mut address_given = false;
        let is_map = self.entries(node, "a service", KEYS, |w, key, value| {
            match key {
                "address" => {
                    address_given = true;
                    record.address = w.service_address(&value)?;
                }
                "sched" => {
                    record.scheduler = w
                        .one_of(&value, "scheduler", SCHEDULERS)?
                        .map(|(name, _)| name)
                }
                "flags" => record.flags = w.flags(value)?,
                "persistence" => record.persistence = Some(w.persistence(value)?),
                _ => record.dests = w.destinations(value)?,
            }
            Ok(())
        })?;
        if !is_map {
            return Ok(None);
        }
        if !address_given {
            self.fail(record.at, "a service needs \"address\"".to_owned());
        }
        Ok(Some(record))
    }

    fn service_address(&mut self, node: &Node<'t>) -> Step<Option<(ServiceAddress, Mark, String)>> {
        let Some(text) = self.address(node)? else {
            return Ok(None);
        };
        match text.parse::<ServiceAddress>() {
            Ok(address) => Ok(Some((address, node.at, text.into_owned()))),
            Err(reason) => {
                self.fail(
                    node.at,
                    format!("service address {}: {reason}", quoted(&text)),
                );
                Ok(None)
            }
        }
    }

    fn flags(&mut self, node: Node<'t>) -> Step<Vec<(&'static str, Flag, Mark)>> {
        let mut flags = Vec::new();
        self.items(node, "flags", |w, item| {
            if let Some((name, flag)) = w.one_of(&item, "flag", FLAGS)? {
                flags.push((name, flag, item.at));
            }
            Ok(())
        })?;
        Ok(flags)
    }

    fn persistence(&mut self, node: Node<'t>) -> Step<Persistence> {
        let mut persistence = Persistence {
            timeout: DEFAULT_PERSISTENCE_TIMEOUT as u32,
            netmask: None,
            prefix: None,
            engine: None,
        };
        const KEYS: &[&str] = &["timeout", "netmask", "prefix", "engine"];
        self.entries(node, "persistence", KEYS, |w, key, value| {
            match key {
                "timeout" => {
                    let range = PERSISTENCE_TIMEOUT;
                    if let Some(timeout) = w.number(&value, "persistence timeout", range)? {
                        persistence.timeout = timeout as u32;
                    }
                }
                "netmask" => persistence.netmask = w.ipv4_netmask(&value)?.map(|m| (m, value.at)),
                "prefix" => {
                    persistence.prefix = w
                        .number(&value, "prefix", 1..=128)?
                        .map(|p| (p as u32, value.at))
                }
                _ => {
                    persistence.engine = w
                        .one_of(&value, "persistence engine", ENGINES)?
                        .map(|(name, _)| name)
                }
            }
            Ok(())
        })?;
        Ok(persistence)
    }

    /// Any IPv4 mask, as the kernel and ipvsadm take it: persistence groups the clients
    /// whose addresses agree in its one bits, contiguous or not.
    fn ipv4_netmask(&mut self, node: &Node<'t>) -> Step<Option<u32>> {
        let Some(text) = self.text(node, "netmask")? else {
            return Ok(None);
        };
        let mask = text.parse::<Ipv4Addr>().ok().map(u32::from);
        if mask.is_none() {
            self.fail(
                node.at,
                format!(
                    "netmask {} is not an IPv4 netmask like 255.255.255.0",
                    quoted(&text)
                ),
            );
        }
        Ok(mask)
    }

    fn destinations(&mut self, node: Node<'t>) -> Step<Vec<DestRecord>> {
        let mut dests = Vec::new();
        self.items(node, "destinations", |w, item| {
            if let Some(dest) = w.destination(item)? {
                dests.push(dest);
            }
            Ok(())
        })?;
        Ok(dests)
    }

    fn destination(&mut self, node: Node<'t>) -> Step<Option<DestRecord>> {
        const KEYS: &[&str] = &[
            "address",
            "forward",
            "weight",
            "thresholds",
            "tunnel",
            "state",
        ];
        let mut record = DestRecord {
            at: node.at,
            address: None,
            forward: None,
            weight: None,
            thresholds: (0, 0),
            tunnel: None,
            state: DestState::Active,
        };
        let mut address_given = false;
        let is_map = self.entries(node, "a destination", KEYS, |w, key, value| {
            match key {
                "address" => {
                    address_given = true;
                    record.address = w.dest_address(&value)?;
                }
                "forward" => {
                    record.forward = Some(w.one_of(&value, "forward", FORWARDS)?.map(|(_, f)| f))
                }
                "weight" => record.weight = w.number(&value, "weight", WEIGHT)?.map(|n| n as i32),
                "thresholds" => record.thresholds = w.thresholds(value)?,
                "tunnel" => {
                    let at = value.at;
                    record.tunnel = Some((w.tunnel(value)?, at));
                }
                _ => {
                    if let Some((_, state)) = w.one_of(&value, "state", STATES)? {
                        record.state = state;
                    }
                }
            }
            Ok(())
        })?;
        if !is_map {
            return Ok(None);
        }
        if !address_given {
            self.fail(record.at, "a destination needs \"address\"".to_owned());
        }
        Ok(Some(record))
    }

    fn dest_address(&mut self, node: &Node<'t>) -> Step<Option<(DestAddress, Mark)>> {
        let Some(text) = self.address(node)? else {
            return Ok(None);
        };
        match text.parse::<DestAddress>() {
            Ok(address) => Ok(Some((address, node.at))),
            Err(reason) => {
                self.fail(
                    node.at,
                    format!("destination address {}: {reason}", quoted(&text)),
                );
                Ok(None)
            }
        }
    }

    /// (upper, lower) connection thresholds; 0 is "none".
    fn thresholds(&mut self, node: Node<'t>) -> Step<(u32, u32)> {
        let (mut upper, mut lower, mut lower_at) = (0, 0, node.at);
        self.entries(node, "thresholds", &["upper", "lower"], |w, key, value| {
            match key {
                "upper" => upper = w.number(&value, "upper threshold", U32)?.unwrap_or(0) as u32,
                _ => {
                    lower_at = value.at;
                    lower = w.number(&value, "lower threshold", U32)?.unwrap_or(0) as u32;
                }
            }
            Ok(())
        })?;
        if lower > upper {
            self.fail(
                lower_at,
                format!("lower threshold {lower} is above the upper threshold {upper}"),
            );
        }
        Ok((upper, lower))
    }

    fn tunnel(&mut self, node: Node<'t>) -> Step<Tunnel> {
        let at = node.at;
        let mut tunnel = Tunnel {
            kind: TunnelType::Ipip,
            port: 0,
            flags: TunnelFlags::NOCSUM,
        };
        let mut port_at = None;
        self.entries(
            node,
            "tunnel",
            &["type", "port", "checksum"],
            |w, key, value| {
                match key {
                    "type" => {
                        if let Some((_, kind)) = w.one_of(&value, "tunnel type", TUNNEL_TYPES)? {
                            tunnel.kind = kind;
                        }
                    }
                    "port" => {
                        port_at = Some(value.at);
                        tunnel.port = w.number(&value, "tunnel port", PORT)?.unwrap_or(0) as u16;
                    }
                    _ => {
                        if let Some((_, flags)) = w.one_of(&value, "checksum", CHECKSUMS)? {
                            tunnel.flags = flags;
                        }
                    }
                }
                Ok(())
            },
        )?;
        match (tunnel.kind, port_at) {
            (TunnelType::Gue, None) => {
                self.fail(at, "tunnel type gue needs a port (1..65535)".to_owned())
            }
            (TunnelType::Ipip | TunnelType::Gre, Some(port_at)) => {
                self.fail(port_at, "a tunnel port is for type gue only".to_owned())
            }
            _ => {}
        }
        Ok(tunnel)
    }

    /// The services with the defaults applied, checked where the defaults matter, and
    /// each key once.
    fn finish_services(
        &mut self,
        records: Vec<ServiceRecord>,
        defaults: &Defaults,
    ) -> Vec<DesiredService> {
        let mut services = Vec::with_capacity(records.len());
        for record in records {
            let at = record.address.as_ref().map_or(record.at, |(_, at, _)| *at);
            let Some(service) = self.finish_service(record, defaults) else {
                continue;
            };
            let key = service.service.key;
            if !self.scope.is_empty() && !self.scope.iter().any(|rule| rule.covers(&key)) {
                let message = format!(
                    "service {key} is outside the scope the model owns (--scope): it would \
                     change a service that belongs to others"
                );
                self.fail(at, message);
                continue;
            }
            services.push((at, service));
        }
        self.unique(services, |service| service.service.key, "service")
    }

    fn finish_service(
        &mut self,
        record: ServiceRecord,
        defaults: &Defaults,
    ) -> Option<DesiredService> {
        let persistent = record.persistence.is_some();
        let key = record.address.and_then(|(address, at, text)| {
            let key = match address {
                ServiceAddress::Fwmark(family, mark) => Ok(ServiceKey::fwmark(family, mark)),
                ServiceAddress::Ip {
                    protocol,
                    addr,
                    port,
                } => match port.or(defaults.port) {
                    None => Err("it has no port and there is no defaults.port"),
                    Some(0) if !persistent => Err("port 0 (all ports) needs persistence"),
                    Some(port) => Ok(ServiceKey::Addr {
                        protocol,
                        addr,
                        port,
                    }),
                },
            };
            key.map_err(|reason| {
                self.fail(at, format!("service address {}: {reason}", quoted(&text)))
            })
            .ok()
        });
        let family = key.map(|key| key.family());
        let scheduler = record
            .scheduler
            .or(defaults.scheduler)
            .unwrap_or(DEFAULT_SCHEDULER);
        let protocol = match key {
            Some(ServiceKey::Addr { protocol, .. }) => Some(protocol),
            _ => None,
        };
        let mut flags = ServiceFlags::default();
        for (name, flag, at) in record.flags {
            if let Some(needed) = flag.scheduler.filter(|needed| *needed != scheduler) {
                self.fail(
                    at,
                    format!("flag {name} needs scheduler {needed}, not {scheduler}"),
                );
            }
            if flag.bits == ServiceFlags::ONEPACKET && protocol.is_some_and(|p| p != Protocol::Udp)
            {
                self.fail(at, format!("flag {name} is for udp services only"));
            }
            flags = flags | flag.bits;
        }
        let persistence = record
            .persistence
            .map(|p| self.finish_persistence(p, family));
        let context = ServiceContext {
            family,
            port: match key {
                Some(ServiceKey::Addr { port, .. }) => port,
                _ => 0,
            },
        };
        let dests = record
            .dests
            .into_iter()
            .filter_map(|d| {
                let at = d.address.as_ref().map_or(d.at, |(_, at)| *at);
                Some((at, self.finish_dest(d, &context, defaults)?))
            })
            .collect();
        let dests = self.unique(dests, |dest| dest.dest.key(), "destination");

        let mut service = Service::new(key?, scheduler);
        service.flags = flags;
        if let Some((timeout, netmask, engine)) = persistence {
            service.flags = service.flags | ServiceFlags::PERSISTENT;
            service.timeout = timeout;
            service.netmask = netmask.unwrap_or(service.netmask);
            service.pe_name = engine.map(str::to_owned);
        }
        Some(DesiredService { service, dests })
    }

    /// (timeout, netmask or prefix, engine), once the family is known.
    fn finish_persistence(
        &mut self,
        p: Persistence,
        family: Option<Family>,
    ) -> (u32, Option<u32>, Option<&'static str>) {
        let mut netmask = p.netmask.map(|(mask, _)| mask);
        let mut prefix = p.prefix.map(|(prefix, _)| prefix);
        if let (Some((_, at)), Some(Family::Inet6)) = (p.netmask, family) {
            self.fail(
                at,
                "netmask is for IPv4 services; use prefix: 1..128 for IPv6".to_owned(),
            );
            netmask = None;
        }
        if let (Some((_, at)), Some(Family::Inet)) = (p.prefix, family) {
            self.fail(
                at,
                "prefix is for IPv6 services; use netmask (like 255.255.255.0) for IPv4".to_owned(),
            );
            prefix = None;
        }
        (p.timeout, netmask.or(prefix), p.engine)
    }

    fn finish_dest(
        &mut self,
        record: DestRecord,
        service: &ServiceContext,
        defaults: &Defaults,
    ) -> Option<DesiredDest> {
        let forward = record
            .forward
            .flatten()
            .or(defaults.forward)
            .unwrap_or(DEFAULT_FORWARD);
        // An invalid forward (already reported) does not also fail the tunnel check.
        let forward_known = record.forward != Some(None);
        let (tunnel, tunnel_at) = record
            .tunnel
            .map_or((Tunnel::default(), None), |(t, at)| (t, Some(at)));
        if let Some(at) = tunnel_at.filter(|_| forward_known && forward != Forward::Tunnel) {
            self.fail(at, "tunnel settings need forward: tunnel".to_owned());
        }
        let (DestAddress { addr, port }, address_at) = record.address?;
        // The kernel mixes families only through a tunnel.
        if let Some(family) = service.family {
            if Family::of(&addr) != family && forward != Forward::Tunnel {
                let (dest_family, service_family) = match family {
                    Family::Inet => ("IPv6", "IPv4"),
                    Family::Inet6 => ("IPv4", "IPv6"),
                };
                self.fail(
                    address_at,
                    format!("{dest_family} destination {addr} under an {service_family} service needs forward: tunnel"),
                );
            }
        }
        let mut dest = Destination::new(
            addr,
            port.or(defaults.port).unwrap_or(service.port),
            forward,
        );
        dest.weight = record.weight.or(defaults.weight).unwrap_or(DEFAULT_WEIGHT);
        (dest.upper_threshold, dest.lower_threshold) = record.thresholds;
        dest.tunnel = tunnel;
        Some(DesiredDest {
            dest,
            state: record.state,
        })
    }
}
