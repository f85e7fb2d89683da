//! Desired state: a table the operator declares (YAML), compared with the kernel's, and
//! the minimal changes that make the kernel match, applied all-or-nothing.

pub mod diff;
mod names;
pub mod yaml;

use crate::model::{Daemon, Destination, Service, Timeouts};

/// A whole desired table, validated and normalised: what the diff compares with the kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredTable {
    pub services: Vec<DesiredService>,
    /// Connection timeouts to set; `None` leaves the kernel's alone.
    pub timeouts: Option<Timeouts>,
    /// The sync daemons that should run; `None` leaves the kernel's alone.
    pub daemons: Option<Vec<Daemon>>,
}

/// A service and its destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredService {
    pub service: Service,
    pub dests: Vec<DesiredDest>,
}

/// A destination and its lifecycle state (after Cilium's backend states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDest {
    /// For `Maintenance` and `Draining` the weight here is the one to restore later; the
    /// kernel gets weight 0.
    pub dest: Destination,
    pub state: DestState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DestState {
    /// Receives new connections at its weight.
    #[default]
    Active,
    /// Kept in the kernel at weight 0.
    Maintenance,
    /// Weight 0, and removed by a later apply once it has no connections.
    Draining,
}
