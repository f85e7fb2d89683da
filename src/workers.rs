//! Work spread over threads that live only as long as the call that starts them (daemons
//! fork, so no thread of the library may outlive a call).

use std::thread::{Builder, JoinHandle};

/// Runs `job(0)` .. `job(count - 1)`, each on a thread of its own, while `here` runs on
/// the caller's thread, and returns once every thread is joined: the jobs' results in
/// order, and `here`'s. A job whose thread cannot be started runs on the caller's thread
/// after `here`. A panic in a job continues on the caller's thread once all are joined.
///
/// Not `std::thread::scope`: on a thread that C created, it leaves a handle behind that
/// valgrind reports as lost.
pub(crate) fn in_parallel<T, R>(
    count: usize,
    job: &(impl Fn(usize) -> T + Sync),
    here: impl FnOnce() -> R,
) -> (Vec<T>, R)
where
    T: Send,
{
    let mut threads = Joined(Vec::with_capacity(count));
    for index in 0..count {
        let work = move || job(index);
        // SAFETY: the thread borrows `job` (and what it borrows), which outlive this
        // call: every thread is joined before it returns, and while it unwinds by
        // `threads`' drop.
        let spawned = unsafe {
            Builder::new()
                .name("ipvsrs-worker".into())
                .spawn_unchecked(work)
        };
        threads.0.push(spawned.ok());
    }
    let mine = here();
    let results = (0..count)
        .map(|index| match threads.0[index].take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => job(index),
        })
        .collect();
    (results, mine)
}

/// Threads joined when this is dropped, also while a panic unwinds.
struct Joined<T>(Vec<Option<JoinHandle<T>>>);

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        for thread in self.0.iter_mut().filter_map(Option::take) {
            // Unwinding already: a thread's own panic, if any, is dropped.
            let _ = thread.join();
        }
    }
}
