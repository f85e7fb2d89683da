//! libipvs's global state: one process-wide connection, lent to one call at a time. The
//! lock that survives `fork()` is held only to lend it and take it back, never across a
//! request, so a `fork()` on another thread during a long call (an apply) goes ahead at
//! once; the child opens a connection of its own (the handle reopens its socket there).

use crate::capi::handle::Connection;
use crate::capi::process_lock::ProcessLock;
use crate::capi::CError;
use crate::client::Handle;

/// The connection when no call has it, and whether one has.
struct Slot {
    connection: Option<Connection>,
    lent: bool,
}

static DEFAULT: ProcessLock<Slot> = ProcessLock::with_child_handler(
    Slot {
        connection: None,
        lent: false,
    },
    lock,
    unlock,
    child,
);

extern "C" fn lock() {
    DEFAULT.lock();
}

extern "C" fn unlock() {
    DEFAULT.unlock();
}

/// A connection lent at the fork stays with the parent's thread: the child opens its own.
extern "C" fn child() {
    DEFAULT.unlock_in_child(|slot| slot.lent = false);
}

/// The connection, lent to this call until dropped (then returned, also on a panic).
struct Loan {
    connection: Option<Connection>,
}

impl Loan {
    /// Waits for the connection to come back if another call has it.
    fn take() -> Loan {
        let connection = DEFAULT.with_when(
            |slot| !slot.lent,
            |slot| {
                slot.lent = true;
                slot.connection.take()
            },
        );
        Loan { connection }
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        let connection = self.connection.take();
        DEFAULT.with(|slot| {
            slot.connection = connection;
            slot.lent = false;
            DEFAULT.notify_all();
        });
    }
}

/// (Re)opens the default handle in the caller's network namespace and hands its info to
/// `store` while no other call can use the connection.
pub fn reopen(store: impl FnOnce(crate::model::Info)) -> Result<(), CError> {
    let mut loan = Loan::take();
    loan.connection = None;
    let (handle, info) = Handle::open_with_info()?;
    loan.connection = Some(handle.into());
    store(info);
    Ok(())
}

/// Runs `f` on the default handle, opening it first if `ipvs_init` has not.
pub fn with_default<T>(f: impl FnOnce(&mut Handle) -> Result<T, CError>) -> Result<T, CError> {
    with_connection(|c| f(&mut c.handle))
}

/// [`with_default`] with the connection's model cache too.
pub fn with_connection<T>(
    f: impl FnOnce(&mut Connection) -> Result<T, CError>,
) -> Result<T, CError> {
    let mut loan = Loan::take();
    let connection = match &mut loan.connection {
        Some(connection) => connection,
        empty => empty.insert(Handle::open()?.into()),
    };
    f(connection)
}

/// Drops the default handle (its socket closes).
pub fn close() {
    Loan::take().connection = None;
}
