//! The C objects this library gave out and that are not yet freed: handles, iterators and
//! changesets. Every call checks the object it is given against this list before touching
//! it, so the mistakes C callers make (a handle used after `ipvsrs_close`, an iterator
//! freed twice, an iterator passed where a handle goes) fail with `EBADF` instead of
//! reading freed memory. A new object that happens to get a freed one's address cannot
//! be told from it.

use std::collections::BTreeSet;

use super::process_lock::ProcessLock;
use super::CError;

/// A C object type: its name in error messages and the call that makes it.
pub(crate) trait Live {
    const NAME: &'static str;
    const MADE_BY: &'static str;
}

static LIVE: ProcessLock<BTreeSet<(usize, &'static str)>> =
    ProcessLock::new(BTreeSet::new(), lock, unlock);

extern "C" fn lock() {
    LIVE.lock();
}

extern "C" fn unlock() {
    LIVE.unlock();
}

/// Moves `object` to the heap and records it; C owns the pointer until `take` returns it.
pub(crate) fn give<T: Live>(object: T) -> *mut T {
    let p = Box::into_raw(Box::new(object));
    LIVE.with(|live| live.insert((p as usize, T::NAME)));
    p
}

fn not_live<T: Live>(p: *const T) -> CError {
    CError {
        errno: libc::EBADF,
        message: format!(
            "{p:?} is not a live {}: freed already, or not from {}",
            T::NAME,
            T::MADE_BY
        ),
    }
}

/// The object at `p`, if it is live; NULL is `EINVAL`, anything else not live `EBADF`.
///
/// # Safety
/// A live object may be used by one call at a time through `&mut` only where its type
/// says so (handles lock inside; iterators are not thread-safe per object).
pub(crate) unsafe fn get<'a, T: Live>(p: *const T) -> Result<&'a T, CError> {
    if p.is_null() {
        return Err(CError::null(T::NAME));
    }
    if !LIVE.with(|live| live.contains(&(p as usize, T::NAME))) {
        return Err(not_live(p));
    }
    // SAFETY: recorded by `give` and not yet taken back, so it points to a live T.
    Ok(unsafe { &*p })
}

/// As `get`, mutably.
///
/// # Safety
/// No other reference to the object may be in use (the C contract: not thread-safe per
/// iterator or changeset).
pub(crate) unsafe fn get_mut<'a, T: Live>(p: *mut T) -> Result<&'a mut T, CError> {
    // SAFETY: live, and exclusively used by the caller's contract.
    unsafe { get(p) }.map(|_| unsafe { &mut *p })
}

/// Takes back ownership of the object at `p` (NULL: `None`), so dropping it frees it; a
/// pointer that is not live is `EBADF` and nothing is freed.
pub(crate) fn take<T: Live>(p: *mut T) -> Result<Option<Box<T>>, CError> {
    if p.is_null() {
        return Ok(None);
    }
    if !LIVE.with(|live| live.remove(&(p as usize, T::NAME))) {
        return Err(not_live(p));
    }
    // SAFETY: recorded by `give` (from Box::into_raw) and now removed, so this is the
    // only owner.
    Ok(Some(unsafe { Box::from_raw(p) }))
}
