//! A lock for the library's process-wide state that survives `fork()`: it is held across
//! the fork (pthread_atfork), so a child never inherits it locked by a thread it does not
//! have. The process's locks are never held together, so their order at a fork is free.

use std::cell::UnsafeCell;
use std::sync::Once;

pub(crate) struct ProcessLock<T> {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    value: UnsafeCell<T>,
    /// Functions that lock and unlock this same static, for pthread_atfork (which takes
    /// plain functions, so each static names its own).
    fork_handlers: (extern "C" fn(), extern "C" fn()),
    atfork: Once,
}

// SAFETY: `value` is only touched with `mutex` held (see `with`).
unsafe impl<T: Send> Sync for ProcessLock<T> {}

impl<T> ProcessLock<T> {
    pub const fn new(value: T, lock: extern "C" fn(), unlock: extern "C" fn()) -> ProcessLock<T> {
        ProcessLock {
            mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            value: UnsafeCell::new(value),
            fork_handlers: (lock, unlock),
            atfork: Once::new(),
        }
    }

    /// Runs `f` on the value with the lock held.
    pub fn with<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.atfork.call_once(|| {
            let (lock, unlock) = self.fork_handlers;
            // SAFETY: plain function pointers with static lifetime.
            unsafe { libc::pthread_atfork(Some(lock), Some(unlock), Some(unlock)) };
        });
        self.lock();
        let _unlock = Unlock(self);
        // SAFETY: the lock is held until `_unlock` drops.
        f(unsafe { &mut *self.value.get() })
    }

    pub fn lock(&self) {
        // SAFETY: a statically initialised mutex.
        unsafe { libc::pthread_mutex_lock(self.mutex.get()) };
    }

    pub fn unlock(&self) {
        // SAFETY: called by the thread that locked it (or the forked child's copy of it).
        unsafe { libc::pthread_mutex_unlock(self.mutex.get()) };
    }
}

struct Unlock<'a, T>(&'a ProcessLock<T>);

impl<T> Drop for Unlock<'_, T> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}
