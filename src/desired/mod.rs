//! Desired state: a table the operator declares (YAML), compared with the kernel's, and
//! the minimal changes that make the kernel match, applied all-or-nothing.
//!
//! One concern a file: [`yaml`] reads models, `kernel_table.rs` reads the kernel's side
//! ([`KernelTable`]), `scope.rs` says which services a model owns ([`ScopeRule`]),
//! `change.rs` names the steps ([`Change`], [`Action`]), `diff.rs` computes them
//! ([`diff`]) and `apply.rs` makes them or undoes them all ([`apply`]). `converge.rs` is
//! the pipeline every front end runs ([`converge`]), with the rule for parameter sources
//! ([`ParamSources`]); `lock.rs` lets one converger at a time work on a namespace
//! ([`ConvergeLock`]).

mod apply;
mod change;
mod converge;
mod diff;
mod kernel_table;
mod lock;
mod names;
mod scope;
pub mod yaml;

pub use self::apply::{apply, take_current_weights, ApplyRefused, ApplyReport, RollbackFailure};
pub use self::change::{Action, Change};
pub use self::converge::{
    converge, converge_cached, ConvergeError, ConvergeOptions, Converged, ModelSource, ParamSources,
};
pub use self::diff::{diff, DiffOptions};
pub use self::kernel_table::KernelTable;
pub use self::lock::{ConvergeLock, LockError, LOCK_NAME};
pub use self::scope::ScopeRule;

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
