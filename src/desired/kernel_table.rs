//! A snapshot of the kernel's table, the side of a diff that the model is compared with.

use crate::client::{Handle, Result};
use crate::model::{Daemon, DestEntry, Service, Timeouts};

/// The kernel's table: each service with its destinations, as listed, the connection
/// timeouts and the running sync daemons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelTable {
    pub services: Vec<(Service, Vec<DestEntry>)>,
    pub timeouts: Timeouts,
    pub daemons: Vec<Daemon>,
}

impl KernelTable {
    /// Reads every service (each once, see [`Handle::services`]) and its destinations'
    /// settings (see [`Handle::dest_settings_of`]: their statistics are zero), the
    /// timeouts and the sync daemons. This assumes no other writer changes this
    /// namespace's table meanwhile.
    pub fn read(handle: &mut Handle) -> Result<KernelTable> {
        let services = (handle.services_with_dest_settings()?.into_iter())
            .map(|(entry, dests)| (entry.service, dests))
            .collect();
        Ok(KernelTable {
            services,
            timeouts: handle.timeouts()?,
            daemons: handle.daemons()?,
        })
    }
}
