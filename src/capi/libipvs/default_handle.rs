//! libipvs's global state as one process-wide handle behind a lock that survives `fork()`
//! (the handle reopens its socket in the child).

use crate::capi::handle::Connection;
use crate::capi::process_lock::ProcessLock;
use crate::capi::CError;
use crate::client::Handle;

static DEFAULT: ProcessLock<Option<Connection>> = ProcessLock::new(None, lock, unlock);

extern "C" fn lock() {
    DEFAULT.lock();
}

extern "C" fn unlock() {
    DEFAULT.unlock();
}

/// (Re)opens the default handle in the caller's network namespace and hands its info to
/// `store`, with the lock still held.
pub fn reopen(store: impl FnOnce(crate::model::Info)) -> Result<(), CError> {
    DEFAULT.with(|slot| {
        *slot = None;
        let (handle, info) = Handle::open_with_info()?;
        *slot = Some(handle.into());
        store(info);
        Ok(())
    })
}

/// Runs `f` on the default handle, opening it first if `ipvs_init` has not.
pub fn with_default<T>(f: impl FnOnce(&mut Handle) -> Result<T, CError>) -> Result<T, CError> {
    with_connection(|c| f(&mut c.handle))
}

/// [`with_default`] with the connection's model cache too.
pub fn with_connection<T>(
    f: impl FnOnce(&mut Connection) -> Result<T, CError>,
) -> Result<T, CError> {
    DEFAULT.with(|slot| {
        if slot.is_none() {
            *slot = Some(Handle::open()?.into());
        }
        f(slot.as_mut().expect("opened above"))
    })
}

/// Drops the default handle (its socket closes).
pub fn close() {
    DEFAULT.with(|slot| *slot = None);
}
