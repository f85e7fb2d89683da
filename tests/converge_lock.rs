//! The converge lock on the host's kernel (it needs no IPVS): one holder per network
//! namespace, a waiter told the holder's pid, the lock free as soon as its holder lets go
//! or is killed, and never kept by a forked child. Each test makes namespaces of its own
//! (as root), so none touches the lock of the namespace the tests run in.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvsrs::desired::{ConvergeLock, LockError, LOCK_NAME};

/// A new network namespace, kept alive by the returned file. A thread of its own moves
/// into it, so the tests' threads stay where they are.
fn new_netns() -> File {
    std::thread::spawn(|| {
        // SAFETY: unshare moves only this thread, which ends right after.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET) (the lock's host tests run as root): {}",
            std::io::Error::last_os_error()
        );
        File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap()
}

fn take(ns: &File, wait: Duration) -> Result<ConvergeLock, LockError> {
    ConvergeLock::acquire_in(Some(ns.as_fd()), wait)
}

#[test]
fn a_second_taker_waits_its_time_then_is_told_who_holds_the_lock() {
    let ns = new_netns();
    let _held = take(&ns, Duration::ZERO).expect("a free lock is taken at once");
    let wait = Duration::from_millis(300);
    let start = Instant::now();
    let error = take(&ns, wait).err().expect("a held lock is busy");
    let elapsed = start.elapsed();
    let pid = std::process::id();
    match &error {
        LockError::Busy { holder, waited } => {
            assert_eq!(*holder, Some(pid));
            assert!(
                *waited >= wait && elapsed >= wait,
                "gave up after {waited:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains(&format!("(pid {pid}, this process)")),
        "{text}"
    );
}

#[test]
fn each_namespace_has_its_own_lock() {
    let (blue, green) = (new_netns(), new_netns());
    let _blue = take(&blue, Duration::ZERO).unwrap();
    let _green = take(&green, Duration::ZERO).expect("another namespace's lock is free");
}

#[test]
fn a_waiter_gets_the_lock_once_the_holder_lets_go() {
    let ns = new_netns();
    let held = take(&ns, Duration::ZERO).unwrap();
    let (started, waiting) = std::sync::mpsc::channel();
    let waiter = std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            started.send(()).unwrap();
            let lock = take(&ns, Duration::from_secs(30));
            (lock, Instant::now())
        });
        waiting.recv().unwrap();
        let released = Instant::now();
        drop(held);
        let (lock, taken) = waiter.join().unwrap();
        assert!(taken >= released);
        lock
    });
    assert!(waiter.is_ok(), "{:?}", waiter.err());
    assert!(matches!(
        take(&ns, Duration::ZERO),
        Err(LockError::Busy { .. })
    ));
}

/// Another program may hold the lock by binding its name: here Python, killed with
/// SIGKILL, which frees it at once.
#[test]
fn a_killed_holder_leaves_the_lock_free() {
    use std::os::unix::process::CommandExt;
    let ns = new_netns();
    let hold = format!(
        "import socket, sys, time\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.bind(b'\\0{LOCK_NAME}')\n\
         s.listen(1)\n\
         print('held', flush=True)\n\
         time.sleep(600)\n"
    );
    let ns_fd = ns.try_clone().unwrap();
    let mut holder = Command::new("python3");
    holder.args(["-c", &hold]).stdout(Stdio::piped());
    // SAFETY: the child only calls setns (async-signal-safe) before exec.
    unsafe {
        holder.pre_exec(
            move || match libc::setns(ns_fd.as_raw_fd(), libc::CLONE_NEWNET) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            },
        );
    }
    let mut holder = holder.spawn().expect("run python3");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "held\n");

    match take(&ns, Duration::ZERO) {
        Err(LockError::Busy { holder: pid, .. }) => assert_eq!(pid, Some(holder.id())),
        other => panic!("expected busy, got {:?}", other.map(drop)),
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    take(&ns, Duration::ZERO).expect("the killed holder's lock is free at once");
}

/// A child forked while the lock is held closes its copy: the parent's release frees the
/// namespace although the child lives on.
#[test]
fn a_forked_child_does_not_keep_the_lock() {
    let ns = new_netns();
    let held = take(&ns, Duration::ZERO).unwrap();
    let mut pipe = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child only calls close, read and _exit, which are async-signal-safe.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // The child lives until the parent closes the pipe's write end.
        unsafe {
            libc::close(pipe[1]);
            let mut byte = 0u8;
            libc::read(pipe[0], &mut byte as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0);
        }
    }
    assert!(child > 0, "fork: {}", std::io::Error::last_os_error());
    // SAFETY: the parent's copy of the read end.
    unsafe { libc::close(pipe[0]) };
    drop(held);
    let taken = take(&ns, Duration::ZERO);
    // SAFETY: ends the child, then reaps it.
    unsafe {
        libc::close(pipe[1]);
        let mut status = 0;
        assert_eq!(libc::waitpid(child, &mut status, 0), child);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    taken.expect("the parent let go, and the living child holds no copy");
}
