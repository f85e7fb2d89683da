//! Exact service listings while other namespaces change their tables.
//!
//! IPVS keeps one service table for all namespaces and resumes a dump by position in it,
//! counting every namespace's services, without `NLM_F_DUMP_INTR`. Services added or
//! deleted in any namespace while a dump of several parts runs shift that position: the
//! dump repeats some of ours or skips some. Repeats are plain to see. A skip shows against
//! the namespace's service count, which only the old sockopt interface reports; the same
//! interface lists the IPv4 services in one answer, so the ones a dump skipped are asked
//! for one by one. IPv6 services have no such list: for them the dump is repeated and the
//! union kept. On a quiet table a listing is one dump and two counts.
//!
//! A destination dump resumes by position in its own service's list, so only changes to
//! that service can make it skip: [`Handle::dests`] needs none of this.

use std::collections::{HashMap, HashSet};

use super::{Handle, Result};
use crate::model::{Family, ServiceEntry, ServiceKey};
use crate::wire::ipvs::{self, cmd_attr};
use crate::wire::Request;

/// Rounds of dump and count before [`Handle::services`] settles for the last round's
/// listing (only while this namespace's own table keeps changing).
const MAX_ROUNDS: usize = 8;
/// Dumps a round repeats at most for services the sockopt interface cannot list.
const MAX_REPEATS: usize = 8;
/// Without a count: dumps in a row that must find no service the others missed.
const QUIET_DUMPS: usize = 2;

impl Handle {
    /// Every service of the namespace, each once, in the kernel's order (any that a dump
    /// skipped last), while other namespaces change their tables as they like. While
    /// this namespace's own table changes, no listing is exact; the last is returned.
    /// Without the sockopt interface (it needs CAP_NET_RAW) dumps are repeated until two
    /// in a row find no service the others missed.
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>> {
        let mut last = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let Some(count) = self.socket.service_count() else {
                return self.services_without_count();
            };
            let dump = self.dump_services()?;
            last = match dump.len() == count {
                true => dump,
                false => {
                    let mut listing = Listing::of(dump);
                    self.complete(&mut listing, count)?;
                    listing.entries
                }
            };
            // Counted again: a different count means our own table changed meanwhile.
            if last.len() == count && self.socket.service_count() == Some(count) {
                break;
            }
        }
        Ok(last)
    }

    /// How many services the namespace has, asked through IPVS's sockopt interface (what
    /// [`Handle::services`] checks its dumps against); `None` where that cannot be asked,
    /// as without CAP_NET_RAW.
    pub fn service_count(&self) -> Option<usize> {
        self.socket.service_count()
    }

    /// Brings a dump that disagrees with `count` in line: the IPv4 services from the
    /// sockopt interface's list (fetching the ones the dump skipped, dropping the ones
    /// deleted since), then more dumps for the rest.
    fn complete(&mut self, listing: &mut Listing, count: usize) -> Result<()> {
        let ipv4 = self.socket.ipv4_service_keys(count);
        if let Some(ipv4) = &ipv4 {
            let ipv4: HashSet<&ServiceKey> = ipv4.iter().collect();
            listing.retain(|key| key.family() != Family::Inet || ipv4.contains(key));
            for key in ipv4 {
                if listing.contains(key) {
                    continue;
                }
                // None: deleted since the list.
                if let Some(entry) = self.find_service(key)? {
                    listing.add(entry);
                }
            }
        }
        let listed_by_sockopt = |key: &ServiceKey| ipv4.is_some() && key.family() == Family::Inet;
        for _ in 0..MAX_REPEATS {
            if listing.len() >= count {
                break;
            }
            for entry in self.dump_services()? {
                let key = entry.service.key;
                if !listed_by_sockopt(&key) && !listing.contains(&key) {
                    listing.add(entry);
                }
            }
        }
        Ok(())
    }

    fn services_without_count(&mut self) -> Result<Vec<ServiceEntry>> {
        let mut listing = Listing::of(self.dump_services()?);
        let mut quiet = 0;
        for _ in 0..MAX_ROUNDS {
            let before = listing.len();
            for entry in self.dump_services()? {
                if !listing.contains(&entry.service.key) {
                    listing.add(entry);
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
        Ok(listing.entries)
    }

    /// One dump of the services, repeats dropped.
    fn dump_services(&mut self) -> Result<Vec<ServiceEntry>> {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        self.request(Request::DumpServices, |_, attrs| {
            let entry = ipvs::decode_service(ipvs::top_level_nest(attrs, cmd_attr::SERVICE)?)?;
            if seen.insert(entry.service.key) {
                all.push(entry);
            }
            Ok(())
        })?;
        Ok(all)
    }
}

/// Services, each once, in the order added.
#[derive(Default)]
struct Listing {
    entries: Vec<ServiceEntry>,
    index: HashMap<ServiceKey, usize>,
}

impl Listing {
    /// From one dump (already without repeats).
    fn of(entries: Vec<ServiceEntry>) -> Listing {
        Listing {
            index: HashMap::new(),
            entries,
        }
        .reindexed()
    }

    fn reindexed(mut self) -> Listing {
        self.index = (self.entries.iter().enumerate())
            .map(|(at, entry)| (entry.service.key, at))
            .collect();
        self
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn contains(&self, key: &ServiceKey) -> bool {
        self.index.contains_key(key)
    }

    fn add(&mut self, entry: ServiceEntry) {
        self.index.insert(entry.service.key, self.entries.len());
        self.entries.push(entry);
    }

    fn retain(&mut self, keep: impl Fn(&ServiceKey) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|entry| keep(&entry.service.key));
        if self.entries.len() != before {
            *self = Listing::of(std::mem::take(&mut self.entries));
        }
    }
}
