//! Handles and processes: a handle used by a forked child, a handle opened from a namespace
//! descriptor, and what a process without CAP_NET_ADMIN gets.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use ipvsrs::model::{Service, ServiceKey};
use ipvsrs::{Handle, Result};

use crate::support::{in_netns, sorted_keys, Netns};

fn key(port: u16) -> ServiceKey {
    ServiceKey::tcp("10.0.0.1".parse().unwrap(), port)
}

/// In a forked child: adds `service` with the parent's handle and checks that the table
/// then holds `expected`. The exit status says which step failed (0: none).
fn child_adds_service(h: &mut Handle, service: &Service, expected: &[ServiceKey]) -> ! {
    // No panics here: a forked child must not unwind into the test harness.
    let status = match h.add_service(service) {
        Err(_) => 1,
        Ok(()) if h.services().ok().map(sorted_keys).as_deref() != Some(expected) => 2,
        Ok(()) => 0,
    };
    // SAFETY: _exit skips the parent's atexit handlers and buffered output, as a fork should.
    unsafe { libc::_exit(status) }
}

fn wait_for_exit_status(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out-pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit normally: status {status:#x}"
    );
    libc::WEXITSTATUS(status)
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_forked_child_uses_the_handle_and_the_parent_keeps_working() {
    let ns = Netns::new();
    let mut h = ns.handle();
    h.add_service(&Service::new(key(1), "rr")).unwrap();
    let by_child = Service::new(key(2), "wlc");
    // SAFETY: the child only makes IPVS requests (glibc's malloc is fork-safe) and _exits.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", io::Error::last_os_error()),
        0 => child_adds_service(&mut h, &by_child, &[key(1), key(2)]),
        pid => assert_eq!(
            wait_for_exit_status(pid),
            0,
            "1: add failed, 2: wrong table"
        ),
    }
    assert_eq!(sorted_keys(h.services().unwrap()), [key(1), key(2)]);
    h.del_service(&key(2)).unwrap();
    assert_eq!(ns.saved(), "-A -t 10.0.0.1:1 -s rr\n");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_handle_opens_from_a_namespace_descriptor() {
    let ns = Netns::new();
    let netns = File::open(ns.path()).unwrap();
    let mut first = Handle::open_in_netns_fd(netns.as_fd()).unwrap();
    first.add_service(&Service::new(key(80), "rr")).unwrap();
    drop(first);
    assert_eq!(ns.saved(), "-A -t 10.0.0.1:80 -s rr\n");
    // The handle worked on a duplicate: the caller's descriptor still opens the namespace.
    let mut second = Handle::open_in_netns_fd(netns.as_fd()).unwrap();
    assert_eq!(sorted_keys(second.services().unwrap()), [key(80)]);
}

// --- Without CAP_NET_ADMIN. The test binary re-runs itself, as another user or without the
// capability, to run only `open_outcome_in_child`, which prints what the open gave; the
// parent tests assert on that line.

const CHILD_TEST: &str = "process::open_outcome_in_child";
/// Tells `open_outcome_in_child` that it is a child and how to open: `current` for
/// `Handle::open()`, otherwise the namespace path for `Handle::open_in_netns`.
const CHILD_ENV: &str = "IPVSRS_TEST_OPEN_CHILD";
const OUTCOME: &str = "open outcome: ";
const NOBODY: u32 = 65534;
const CAP_NET_ADMIN: libc::c_ulong = 12;

fn open_as_told(how: &str) -> Result<Handle> {
    match how {
        "current" => Handle::open(),
        path => Handle::open_in_netns(path),
    }
}

/// As a child: prints the outcome of opening as `IPVSRS_TEST_OPEN_CHILD` says. Run directly
/// (as root, in the test suite) it checks the privileged case: both ways open.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn open_outcome_in_child() {
    if let Ok(how) = std::env::var(CHILD_ENV) {
        match open_as_told(&how) {
            Ok(_) => println!("{OUTCOME}ok"),
            Err(e) => println!("{OUTCOME}errno {}: {e}", e.errno()),
        }
        return;
    }
    let ns = Netns::new();
    in_netns(&ns, || open_as_told("current")).expect("root opens its own namespace");
    open_as_told(ns.path().to_str().unwrap()).expect("root opens a namespace by path");
}

/// Runs `open_outcome_in_child` in a new process built by `command` and returns the outcome
/// line's text.
fn child_open_outcome(how: &str, mut command: Command) -> String {
    let out = command
        .args([
            "--ignored",
            "--exact",
            CHILD_TEST,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, how)
        .output()
        .expect("run the test binary as a child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child: {}\n{stdout}{stderr}",
        out.status
    );
    // libtest prints "test NAME ... " on the same line, before the outcome.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(OUTCOME).map(|(_, outcome)| outcome));
    line.unwrap_or_else(|| panic!("no outcome in the child's output:\n{stdout}"))
        .to_owned()
}

fn as_nobody() -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.uid(NOBODY).gid(NOBODY);
    c
}

fn assert_eperm(outcome: &str, mentions: &str) {
    let expected = format!("errno {}: ", libc::EPERM);
    assert!(outcome.starts_with(&expected), "{outcome}");
    assert!(
        outcome.contains(mentions),
        "{outcome:?} does not mention {mentions:?}"
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn an_unprivileged_user_gets_eperm_from_ipvs() {
    let ns = Netns::new();
    // Spawned from a thread inside the namespace, the child starts there and only talks
    // netlink, which IPVS refuses without CAP_NET_ADMIN.
    let outcome = in_netns(&ns, || child_open_outcome("current", as_nobody()));
    assert_eperm(&outcome, "CAP_NET_ADMIN");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn an_unprivileged_user_cannot_enter_a_namespace() {
    let ns = Netns::new();
    // setns needs CAP_SYS_ADMIN: the open fails before IPVS is asked.
    let outcome = child_open_outcome(ns.path().to_str().unwrap(), as_nobody());
    assert_eperm(&outcome, "entering the network namespace");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn root_without_cap_net_admin_gets_eperm_from_ipvs() {
    let ns = Netns::new();
    let mut child = Command::new(std::env::current_exe().unwrap());
    // SAFETY: prctl is async-signal-safe. Dropped from the bounding set, the capability is
    // not granted to the new program even though it runs as root; CAP_SYS_ADMIN remains,
    // so the child does enter the namespace.
    unsafe {
        child.pre_exec(
            || match libc::prctl(libc::PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            },
        );
    }
    let outcome = child_open_outcome(ns.path().to_str().unwrap(), child);
    assert_eperm(&outcome, "CAP_NET_ADMIN");
}
