//! libipvs's global state as one process-wide handle behind a lock that survives `fork()`:
//! the lock is held across the fork (pthread_atfork), so the child never inherits it
//! locked by a thread it does not have, and the handle reopens its socket in the child.

use std::cell::UnsafeCell;
use std::sync::Once;

use crate::capi::CError;
use crate::client::Handle;

struct DefaultHandle {
    lock: UnsafeCell<libc::pthread_mutex_t>,
    handle: UnsafeCell<Option<Handle>>,
}

// SAFETY: `handle` is only touched with `lock` held (see `with_default`).
unsafe impl Sync for DefaultHandle {}

static DEFAULT: DefaultHandle = DefaultHandle {
    lock: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
    handle: UnsafeCell::new(None),
};
static ATFORK: Once = Once::new();

extern "C" fn lock() {
    // SAFETY: a statically initialised mutex.
    unsafe { libc::pthread_mutex_lock(DEFAULT.lock.get()) };
}

extern "C" fn unlock() {
    // SAFETY: called by the thread that locked it (or the forked child's copy of it).
    unsafe { libc::pthread_mutex_unlock(DEFAULT.lock.get()) };
}

struct Unlock;

impl Drop for Unlock {
    fn drop(&mut self) {
        unlock();
    }
}

/// Runs `f` with the default handle slot, holding the lock.
fn with_slot<T>(f: impl FnOnce(&mut Option<Handle>) -> T) -> T {
    ATFORK.call_once(|| {
        // SAFETY: plain function pointers with static lifetime.
        unsafe { libc::pthread_atfork(Some(lock), Some(unlock), Some(unlock)) };
    });
    lock();
    let _unlock = Unlock;
    // SAFETY: the lock is held until `_unlock` drops.
    f(unsafe { &mut *DEFAULT.handle.get() })
}

/// (Re)opens the default handle in the caller's network namespace.
pub fn reopen() -> Result<crate::model::Info, CError> {
    with_slot(|slot| {
        *slot = None;
        let (handle, info) = Handle::open_with_info()?;
        *slot = Some(handle);
        Ok(info)
    })
}

/// Runs `f` on the default handle, opening it first if `ipvs_init` has not.
pub fn with_default<T>(f: impl FnOnce(&mut Handle) -> Result<T, CError>) -> Result<T, CError> {
    with_slot(|slot| {
        if slot.is_none() {
            *slot = Some(Handle::open()?);
        }
        f(slot.as_mut().expect("opened above"))
    })
}

/// Drops the default handle (its socket closes).
pub fn close() {
    with_slot(|slot| *slot = None);
}
