//! A lock for the library's process-wide state that survives `fork()`: it is held across
//! the fork (pthread_atfork), so a child never inherits it locked by a thread it does not
//! have. The process's locks are never held together, so their order at a fork is free.
//! A fork waits for the lock, so it is held only for bookkeeping, never across a request.

use std::cell::UnsafeCell;
use std::sync::Once;

pub(crate) struct ProcessLock<T> {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// Broadcast by [`ProcessLock::notify_all`] when the value changed; waited on by
    /// [`ProcessLock::with_when`].
    changed: UnsafeCell<libc::pthread_cond_t>,
    value: UnsafeCell<T>,
    /// Functions that lock, unlock (in the parent) and unlock (in the child) this same
    /// static, for pthread_atfork (which takes plain functions, so each static names its
    /// own).
    fork_handlers: (extern "C" fn(), extern "C" fn(), extern "C" fn()),
    atfork: Once,
}

// SAFETY: `value` is only touched with `mutex` held (see `with`).
unsafe impl<T: Send> Sync for ProcessLock<T> {}

impl<T> ProcessLock<T> {
    /// A lock whose forked child only unlocks it.
    pub const fn new(value: T, lock: extern "C" fn(), unlock: extern "C" fn()) -> ProcessLock<T> {
        ProcessLock::with_child_handler(value, lock, unlock, unlock)
    }

    /// A lock whose forked child runs `child`, which must end with
    /// [`ProcessLock::unlock_in_child`].
    pub const fn with_child_handler(
        value: T,
        lock: extern "C" fn(),
        unlock: extern "C" fn(),
        child: extern "C" fn(),
    ) -> ProcessLock<T> {
        ProcessLock {
            mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            changed: UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER),
            value: UnsafeCell::new(value),
            fork_handlers: (lock, unlock, child),
            atfork: Once::new(),
        }
    }

    /// Runs `f` on the value with the lock held.
    pub fn with<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.with_when(|_| true, f)
    }

    /// Runs `f` on the value with the lock held, once `ready` holds for it (waiting for a
    /// [`ProcessLock::notify_all`] while it does not).
    pub fn with_when<R>(
        &'static self,
        ready: impl Fn(&T) -> bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        self.atfork.call_once(|| {
            let (lock, unlock, child) = self.fork_handlers;
            // SAFETY: plain function pointers with static lifetime.
            unsafe { libc::pthread_atfork(Some(lock), Some(unlock), Some(child)) };
        });
        self.lock();
        let _unlock = Unlock(self);
        // SAFETY: the lock is held (the wait gives it up and takes it again).
        while !ready(unsafe { &*self.value.get() }) {
            unsafe { libc::pthread_cond_wait(self.changed.get(), self.mutex.get()) };
        }
        // SAFETY: the lock is held until `_unlock` drops.
        f(unsafe { &mut *self.value.get() })
    }

    /// Wakes every thread waiting in [`ProcessLock::with_when`]; called with the lock held.
    pub fn notify_all(&self) {
        // SAFETY: a statically initialised condition variable.
        unsafe { libc::pthread_cond_broadcast(self.changed.get()) };
    }

    pub fn lock(&self) {
        // SAFETY: a statically initialised mutex.
        unsafe { libc::pthread_mutex_lock(self.mutex.get()) };
    }

    pub fn unlock(&self) {
        // SAFETY: called by the thread that locked it.
        unsafe { libc::pthread_mutex_unlock(self.mutex.get()) };
    }

    /// In a forked child, with the lock the fork took still held: `repair` fixes what the
    /// parent's other threads (absent here) left, the condition variable starts anew (its
    /// waiters are not here either), and the lock is released.
    pub fn unlock_in_child(&self, repair: impl FnOnce(&mut T)) {
        // SAFETY: the only thread of the child holds the lock.
        unsafe {
            repair(&mut *self.value.get());
            self.changed.get().write(libc::PTHREAD_COND_INITIALIZER);
        }
        self.unlock();
    }
}

struct Unlock<'a, T>(&'a ProcessLock<T>);

impl<T> Drop for Unlock<'_, T> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}
