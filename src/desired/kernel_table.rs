//! A snapshot of the kernel's table, the side of a diff that the model is compared with.

use std::collections::HashSet;

use crate::client::{Error, Handle, Result};
use crate::model::{Daemon, DestEntry, Service, Timeouts};
use crate::wire::Request;

/// The kernel's table: each service with its destinations, as listed, the connection
/// timeouts and the running sync daemons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelTable {
    pub services: Vec<(Service, Vec<DestEntry>)>,
    pub timeouts: Timeouts,
    pub daemons: Vec<Daemon>,
}

/// How many service dumps `KernelTable::read` takes at most.
const MAX_DUMPS: usize = 12;

impl KernelTable {
    /// Reads every service and its destinations, the timeouts and the sync daemons.
    ///
    /// The kernel resumes a service dump by a position that counts the services of every
    /// namespace, so while any namespace changes its table a dump can skip some of ours
    /// (and a diff would then try to add them again, or leave one it should delete). A
    /// skip is a matter of timing, so services are dumped until two dumps in a row find
    /// none not seen before (one such dump was seen to miss a service under the parallel
    /// kernel tests' churn). This assumes no other writer changes this namespace's table
    /// meanwhile.
    pub fn read(handle: &mut Handle) -> Result<KernelTable> {
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        let mut dumps_finding_nothing_new = 0;
        for dump in 1..=MAX_DUMPS {
            let before = entries.len();
            for entry in handle.services()? {
                if seen.insert(entry.service.key) {
                    entries.push(entry);
                }
            }
            if dump >= 2 && entries.len() == before {
                dumps_finding_nothing_new += 1;
            } else {
                dumps_finding_nothing_new = 0;
            }
            if dumps_finding_nothing_new == 2 {
                let mut services = Vec::with_capacity(entries.len());
                for entry in entries {
                    let dests = handle.dests(&entry.service.key)?;
                    services.push((entry.service, dests));
                }
                return Ok(KernelTable {
                    services,
                    timeouts: handle.timeouts()?,
                    daemons: handle.daemons()?,
                });
            }
        }
        Err(Error::Malformed {
            context: Request::DumpServices.to_string(),
            detail: format!("each of {MAX_DUMPS} dumps found services the others had missed"),
        })
    }
}
