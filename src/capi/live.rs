//! The C objects this library gave out and that are not yet freed: handles, iterators and
//! changesets. Every call checks the object it is given against this list before touching
//! it, so the mistakes C callers make (a handle used after `ipvsrs_close`, an iterator
//! freed twice, an iterator passed where a handle goes) fail with `EBADF` instead of
//! reading freed memory. A new object that happens to get a freed one's address cannot
//! be told from it.
//!
//! Iterators and changesets are used by one thread at a time, so their owner (C) frees
//! them. A handle is shared between threads, and one may close it while others are
//! inside calls on it: each call takes its own reference to the handle from this list
//! (`get_shared`), the close only removes the handle from the list (`take_shared`: later
//! calls fail with `EBADF`), and the handle is freed when the last reference goes.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::process_lock::ProcessLock;
use super::CError;

/// A C object type: its name in error messages and the call that makes it.
pub(crate) trait Live {
    const NAME: &'static str;
    const MADE_BY: &'static str;
}

/// How a live object is owned.
enum Owner {
    /// C, through the pointer `give` made with `Box::into_raw`.
    C,
    /// This list, through the reference kept here, and each call using the object.
    Shared(Arc<dyn Any + Send + Sync>),
}

/// The live objects by address and type name.
static LIVE: ProcessLock<BTreeMap<(usize, &'static str), Owner>> =
    ProcessLock::new(BTreeMap::new(), lock, unlock);

extern "C" fn lock() {
    LIVE.lock();
}

extern "C" fn unlock() {
    LIVE.unlock();
}

/// Moves `object` to the heap and records it; C owns the pointer until `take` returns it.
pub(crate) fn give<T: Live>(object: T) -> *mut T {
    let p = Box::into_raw(Box::new(object));
    LIVE.with(|live| live.insert((p as usize, T::NAME), Owner::C));
    p
}

/// Moves `object` to the heap, shared, and records it; it stays live until `take_shared`.
pub(crate) fn give_shared<T: Live + Send + Sync + 'static>(object: T) -> *mut T {
    let shared = Arc::new(object);
    let p = Arc::as_ptr(&shared).cast_mut();
    LIVE.with(|live| live.insert((p as usize, T::NAME), Owner::Shared(shared)));
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
/// No other thread may free the object (`take`) while the reference is in use: the C
/// contract of iterators and changesets, used by one thread at a time.
pub(crate) unsafe fn get<'a, T: Live>(p: *const T) -> Result<&'a T, CError> {
    if p.is_null() {
        return Err(CError::null(T::NAME));
    }
    if !LIVE.with(|live| matches!(live.get(&(p as usize, T::NAME)), Some(Owner::C))) {
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
    let key = (p as usize, T::NAME);
    let taken = LIVE.with(|live| match live.get(&key) {
        Some(Owner::C) => live.remove(&key).is_some(),
        _ => false,
    });
    if !taken {
        return Err(not_live(p));
    }
    // SAFETY: recorded by `give` (from Box::into_raw) and now removed, so this is the
    // only owner.
    Ok(Some(unsafe { Box::from_raw(p) }))
}

/// A reference to the shared object at `p`, which keeps it in memory until dropped even
/// if `take_shared` removes it meanwhile; NULL is `EINVAL`, anything not live `EBADF`.
pub(crate) fn get_shared<T: Live + Send + Sync + 'static>(p: *const T) -> Result<Arc<T>, CError> {
    if p.is_null() {
        return Err(CError::null(T::NAME));
    }
    // Cloned under the lock, so no `take_shared` can drop the last reference in between.
    let shared = LIVE.with(|live| match live.get(&(p as usize, T::NAME)) {
        Some(Owner::Shared(shared)) => Some(Arc::clone(shared)),
        _ => None,
    });
    shared
        .and_then(|shared| shared.downcast::<T>().ok())
        .ok_or_else(|| not_live(p))
}

/// Removes the shared object at `p` from the live objects (NULL: nothing to do), so later
/// calls fail with `EBADF`; it is freed once the calls using it have dropped their
/// references. A pointer that is not live is `EBADF`.
pub(crate) fn take_shared<T: Live + Send + Sync + 'static>(p: *mut T) -> Result<(), CError> {
    if p.is_null() {
        return Ok(());
    }
    let key = (p as usize, T::NAME);
    let taken = LIVE.with(|live| match live.get(&key) {
        Some(Owner::Shared(_)) => live.remove(&key),
        _ => None,
    });
    // Dropped outside the lock: if no call holds the object, this frees it (a handle
    // closes its sockets) without keeping other threads from the list meanwhile.
    taken.map(drop).ok_or_else(|| not_live(p))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Barrier;

    use super::*;

    /// Counts its drops in the static it is made with (one per test: tests run at once).
    struct Counted(&'static AtomicUsize);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    impl Live for Counted {
        const NAME: &'static str = "counted object";
        const MADE_BY: &'static str = "the test";
    }

    #[test]
    fn a_shared_object_taken_while_in_use_is_freed_when_its_last_user_is_done() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let p = give_shared(Counted(&DROPS));
        let in_use = get_shared(p).unwrap();
        take_shared(p).unwrap();
        assert_eq!(DROPS.load(SeqCst), 0, "freed while a call used it");
        assert_eq!(get_shared(p).err().unwrap().errno, libc::EBADF);
        assert_eq!(take_shared(p).unwrap_err().errno, libc::EBADF);
        drop(in_use);
        assert_eq!(DROPS.load(SeqCst), 1);
    }

    #[test]
    fn a_shared_object_not_in_use_is_freed_when_taken() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let p = give_shared(Counted(&DROPS));
        drop(get_shared(p).unwrap());
        assert_eq!(DROPS.load(SeqCst), 0);
        take_shared(p).unwrap();
        assert_eq!(DROPS.load(SeqCst), 1);
        assert_eq!(
            get_shared::<Counted>(std::ptr::null()).err().unwrap().errno,
            libc::EINVAL
        );
        take_shared::<Counted>(std::ptr::null_mut()).unwrap();
    }

    #[test]
    fn an_object_is_used_only_the_way_it_was_given() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let owned_by_c = give(Counted(&DROPS));
        assert_eq!(get_shared(owned_by_c).err().unwrap().errno, libc::EBADF);
        assert_eq!(take_shared(owned_by_c).unwrap_err().errno, libc::EBADF);
        let shared = give_shared(Counted(&DROPS));
        // SAFETY: refused before the pointer is read.
        assert_eq!(unsafe { get(shared) }.err().unwrap().errno, libc::EBADF);
        assert_eq!(take(shared).err().unwrap().errno, libc::EBADF);
        assert_eq!(DROPS.load(SeqCst), 0);
        drop(take(owned_by_c).unwrap());
        take_shared(shared).unwrap();
        assert_eq!(DROPS.load(SeqCst), 2);
    }

    /// Threads use the object until the take makes it `EBADF`: whichever reference goes
    /// last, the object is freed once, and only then.
    #[test]
    fn threads_using_a_shared_object_while_it_is_taken_free_it_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        const USERS: usize = 4;
        for round in 1..=200 {
            let p = give_shared(Counted(&DROPS)) as usize;
            let started = Barrier::new(USERS + 1);
            std::thread::scope(|s| {
                for _ in 0..USERS {
                    s.spawn(|| {
                        started.wait();
                        while let Ok(in_use) = get_shared(p as *const Counted) {
                            assert_eq!(in_use.0.load(SeqCst), round - 1);
                        }
                    });
                }
                started.wait();
                take_shared(p as *mut Counted).unwrap();
            });
            assert_eq!(DROPS.load(SeqCst), round);
        }
    }
}
