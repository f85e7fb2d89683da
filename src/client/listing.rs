//! Exact service listings while tables change.
//!
//! IPVS keeps one service table for all namespaces and resumes a dump by position in it,
//! counting every namespace's services, without `NLM_F_DUMP_INTR`. Services added or
//! deleted in any namespace between the parts of a dump shift that position: the dump
//! repeats some of ours or skips some. A dump of one part was written in one go, under the
//! kernel's lock, so it is exact. For a longer one, the old sockopt interface lists the
//! IPv4 services at one instant: the ones the dump skipped are asked for one by one and
//! the ones deleted since are dropped, so every IPv4 service that exists throughout the
//! listing is in it once, whatever any namespace does meanwhile. IPv6 services have no
//! such list: for them the dump is repeated until one finds no service the others missed.
//!
//! A destination dump resumes by position in its own service's list, so only changes to
//! that service can make it skip: [`Handle::dests`] needs none of this.

use std::collections::hash_map::Entry;

use foldhash::fast::FixedState;

use super::{Handle, Result};
use crate::model::{Family, ServiceEntry, ServiceEntryRef, ServiceKey};
use crate::wire::ipvs::{self, cmd_attr};
use crate::wire::Request;

/// Attempts at an IPv4 list that did not fill the room it was given.
const LIST_ATTEMPTS: usize = 8;
/// Dumps at most, for the services the sockopt interface cannot list.
const MAX_REPEATS: usize = 8;
/// Dumps in a row that must find no service the others missed.
const QUIET_DUMPS: usize = 2;

// A fast hash with a fixed seed, for keys that come from the kernel's own table (whose
// hash, unseeded, is as easy to crowd). A random seed would touch a global that
// foldhash initialises with relaxed atomics, which helgrind reports in the churn test.
type HashMap<K, V> = std::collections::HashMap<K, V, FixedState>;
type HashSet<T> = std::collections::HashSet<T, FixedState>;

/// A form a listed service can be kept in: anything made from a decoded entry.
pub trait ServiceForm: for<'a> From<ServiceEntryRef<'a>> {}

impl<E: for<'a> From<ServiceEntryRef<'a>>> ServiceForm for E {}

/// What a listing fills as it decodes: a `Vec`, or a block C frees, so that a quiet
/// table's entries are written once, where they are returned.
pub trait ServiceList: Sized {
    type Entry: ServiceForm;
    fn with_room(room: usize) -> Self;
    fn push(&mut self, entry: Self::Entry);
    /// The entries pushed; an error if any could not be kept (a list that could not grow),
    /// never a short list.
    fn into_vec(self) -> Result<Vec<Self::Entry>>;
    fn from_vec(entries: Vec<Self::Entry>) -> Self {
        let mut list = Self::with_room(entries.len());
        for entry in entries {
            list.push(entry);
        }
        list
    }
}

impl<E: ServiceForm> ServiceList for Vec<E> {
    type Entry = E;
    fn with_room(room: usize) -> Vec<E> {
        Vec::with_capacity(room)
    }
    fn push(&mut self, entry: E) {
        Vec::push(self, entry);
    }
    fn into_vec(self) -> Result<Vec<E>> {
        Ok(self)
    }
    fn from_vec(entries: Vec<E>) -> Vec<E> {
        entries
    }
}

impl Handle {
    /// Every service of the namespace, each once, in the kernel's order (any that a dump
    /// skipped last). Exact for IPv4 services whatever changes meanwhile: every one that
    /// exists throughout the call is listed, and none deleted before the call ends is
    /// (the sockopt interface's list, which needs CAP_NET_RAW). For IPv6 services, and
    /// without that interface, dumps are repeated until two in a row find no service the
    /// others missed. A table that fits in one dump part costs one dump; a quiet IPv4
    /// table, one dump and the sockopt interface's list.
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>> {
        self.services_as()
    }

    /// [`Handle::services`], each kept in the form `E` as it is decoded, so a form that
    /// copies the names into arrays of its own (the C entries) allocates none.
    pub fn services_as<E: ServiceForm>(&mut self) -> Result<Vec<E>> {
        self.services_into()
    }

    /// [`Handle::services`] into the list `L`.
    pub fn services_into<L: ServiceList>(&mut self) -> Result<L> {
        // Room for the IPv4 services at least: growing the list would copy it.
        let count = self.socket.service_count();
        let (dump, datagrams) = self.dump_services::<L>(count.unwrap_or(0))?;
        if datagrams == 1 {
            return Ok(dump.entries);
        }
        let ipv4 = count.and_then(|count| self.ipv4_services_now(count));
        // A quiet IPv4 table: the dump has the services of the list, each once, as both
        // walk the kernel's table in the same order. No IPv6 service needs more dumps.
        if ipv4.as_ref() == Some(&dump.keys) {
            return Ok(dump.entries);
        }
        let mut listing = Listing::of(dump.keys, dump.entries.into_vec()?);
        if let Some(ipv4) = &ipv4 {
            self.complete_ipv4(&mut listing, ipv4)?;
        }
        let by_dumps = |key: &ServiceKey| ipv4.is_none() || key.family() == Family::Inet6;
        if listing.keys.iter().any(by_dumps) {
            self.complete_by_dumps(&mut listing, by_dumps)?;
        }
        Ok(L::from_vec(listing.entries))
    }

    /// How many IPv4 services the namespace has, asked through IPVS's sockopt interface
    /// (which counts no IPv6 service); `None` where that cannot be asked, as without
    /// CAP_NET_RAW.
    pub fn service_count(&self) -> Option<usize> {
        self.socket.service_count()
    }

    /// The keys of all IPv4 services at one instant, room made for `count` (read before
    /// the dump) and some growth. The kernel fills at most the room it is given, so a list
    /// that fills it may have been cut: then asked again with a count read anew.
    fn ipv4_services_now(&self, mut count: usize) -> Option<Vec<ServiceKey>> {
        for attempt in 0..LIST_ATTEMPTS {
            if attempt > 0 {
                count = self.socket.service_count()?;
            }
            let room = count + count / 8 + 16;
            let keys = self.socket.ipv4_service_keys(room)?;
            if keys.len() < room {
                return Some(keys);
            }
        }
        None
    }

    /// Makes the IPv4 part of `listing` the services of `ipv4`, a list of all of them at
    /// one instant after the dump: those the dump skipped are fetched, those deleted
    /// since dropped.
    fn complete_ipv4<E: ServiceForm>(
        &mut self,
        listing: &mut Listing<E>,
        ipv4: &[ServiceKey],
    ) -> Result<()> {
        let mut skipped = Vec::new();
        let mut found = 0;
        for key in ipv4 {
            if listing.contains(key) {
                found += 1;
            } else {
                skipped.push(key);
            }
        }
        // On a quiet table every listed IPv4 service is in the list: no set to build.
        let is_ipv4 = |key: &&ServiceKey| key.family() == Family::Inet;
        if listing.keys.iter().filter(is_ipv4).count() != found {
            let now: HashSet<&ServiceKey> = ipv4.iter().collect();
            listing.retain(|key| key.family() != Family::Inet || now.contains(key));
        }
        for key in skipped {
            // None: deleted since the list.
            if let Some(entry) = self.find_service_as(key)? {
                listing.add(*key, entry);
            }
        }
        Ok(())
    }

    /// Dumps again, adding the services `by_dumps` selects that earlier dumps missed,
    /// until [`QUIET_DUMPS`] in a row add none.
    fn complete_by_dumps<E: ServiceForm>(
        &mut self,
        listing: &mut Listing<E>,
        by_dumps: impl Fn(&ServiceKey) -> bool,
    ) -> Result<()> {
        let mut quiet = 0;
        for _ in 0..MAX_REPEATS {
            let before = listing.len();
            let dump: Dump<Vec<E>> = self.dump_services(listing.len())?.0;
            for (key, entry) in dump.keys.into_iter().zip(dump.entries) {
                if by_dumps(&key) {
                    listing.add(key, entry);
                }
            }
            quiet = if listing.len() == before {
                quiet + 1
            } else {
                0
            };
            if quiet == QUIET_DUMPS {
                break;
            }
        }
        Ok(())
    }

    /// One dump of the services, with any repeats, and how many datagrams it took (one:
    /// no repeat); room made for `expected` of them.
    fn dump_services<L: ServiceList>(&mut self, expected: usize) -> Result<(Dump<L>, usize)> {
        let mut dump = Dump {
            keys: Vec::with_capacity(expected),
            entries: L::with_room(expected),
        };
        let datagrams = self.dump(Request::DumpServices, |_, attrs| {
            let nest = ipvs::top_level_nest(attrs, cmd_attr::SERVICE)?;
            let entry = ipvs::decode_service_ref(nest)?;
            dump.keys.push(entry.key);
            dump.entries.push(entry.into());
            Ok(())
        })?;
        Ok((dump, datagrams))
    }
}

/// The services of one dump and their keys, in the same order, repeats and all.
struct Dump<L> {
    keys: Vec<ServiceKey>,
    entries: L,
}

/// Services, each once, in the order added, with their keys.
struct Listing<E> {
    keys: Vec<ServiceKey>,
    entries: Vec<E>,
    index: HashMap<ServiceKey, usize>,
}

impl<E> Listing<E> {
    fn new() -> Listing<E> {
        Listing {
            keys: Vec::new(),
            entries: Vec::new(),
            index: HashMap::default(),
        }
    }

    /// From one dump's keys and entries, its repeats dropped.
    fn of(keys: Vec<ServiceKey>, entries: Vec<E>) -> Listing<E> {
        let mut index = HashMap::with_capacity_and_hasher(keys.len(), Default::default());
        let unique = (keys.iter().enumerate()).all(|(at, key)| index.insert(*key, at).is_none());
        if unique {
            return Listing {
                keys,
                entries,
                index,
            };
        }
        let mut listing = Listing::new();
        for (key, entry) in keys.into_iter().zip(entries) {
            listing.add(key, entry);
        }
        listing
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn contains(&self, key: &ServiceKey) -> bool {
        self.index.contains_key(key)
    }

    /// Adds `entry` unless its service is listed already.
    fn add(&mut self, key: ServiceKey, entry: E) {
        if let Entry::Vacant(slot) = self.index.entry(key) {
            slot.insert(self.entries.len());
            self.keys.push(key);
            self.entries.push(entry);
        }
    }

    fn retain(&mut self, keep: impl Fn(&ServiceKey) -> bool) {
        if self.keys.iter().all(&keep) {
            return;
        }
        let old = std::mem::replace(self, Listing::new());
        for (key, entry) in old.keys.into_iter().zip(old.entries) {
            if keep(&key) {
                self.add(key, entry);
            }
        }
    }
}
