//! The C tests of tests/c and the quickstart example, built by `make c-tests` through
//! pkg-config against a DESTDIR install (the directory is in IPVSRS_C_TESTS), each run in
//! a fresh namespace, directly and under valgrind's memcheck.

use std::process::Command;

use crate::support::{assert_saved, c_binary as binary, run, Netns};

/// Runs a C test in `ns` (optionally under valgrind) and checks its TAP summary.
fn run_c_test(ns: &Netns, name: &str, args: &[&str], valgrind: bool) -> String {
    let mut cmd = if valgrind {
        let mut c = ns.exec("valgrind");
        // Leaks of any kind and invalid accesses make the run fail with status 99.
        c.args([
            "-q",
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
        ]);
        c.arg(binary(name));
        c
    } else {
        ns.exec(binary(name).to_str().unwrap())
    };
    let out = run(cmd.args(args));
    assert!(out.contains(" passed, 0 failed"), "{name}: {out}");
    assert!(!out.contains("not ok"), "{name}: {out}");
    out
}

fn check(name: &str, valgrind: bool) {
    let ns = Netns::new();
    let other = Netns::new();
    let other_path = other.path();
    let args: &[&str] = if name == "native" {
        &[other_path.to_str().unwrap()]
    } else {
        &[]
    };
    run_c_test(&ns, name, args, valgrind);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_layout_matches_libipvs() {
    check("layout", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_libipvs_api() {
    check("compat", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_libipvs_api_under_valgrind() {
    check("compat", true);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_libipvs_api_linked_statically() {
    // A static executable has no program interpreter (no dynamic loader, no libipvsrs.so).
    let headers = run(Command::new("readelf")
        .args(["--program-headers", "--wide"])
        .arg(binary("compat-static")));
    assert!(!headers.contains("INTERP"), "{headers}");
    check("compat-static", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_native_api() {
    check("native", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_native_api_under_valgrind() {
    check("native", true);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_threads_share_the_library() {
    check("threads", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_threads_under_valgrind() {
    check("threads", true);
}

/// The README's first program: unchanged libipvs code adds a service and two servers,
/// and the table it prints is what ipvsadm reads from the kernel.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn quickstart_example_programs_the_kernel() {
    let ns = Netns::new();
    let out = run(&mut ns.exec(binary("quickstart").to_str().unwrap()));
    assert!(out.contains("TCP  192.0.2.10:80 wrr"), "{out}");
    assert!(
        out.contains("  -> 198.51.100.1:8080            Masq    100"),
        "{out}"
    );
    assert!(
        out.contains("  -> 198.51.100.2:8080            Masq    200"),
        "{out}"
    );
    assert_saved(
        &ns,
        &[
            "-A -t 192.0.2.10:80 -s wrr",
            "-a -t 192.0.2.10:80 -r 198.51.100.1:8080 -m -w 100",
            "-a -t 192.0.2.10:80 -r 198.51.100.2:8080 -m -w 200",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_apply_yaml() {
    check("apply", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_apply_yaml_under_valgrind() {
    check("apply", true);
}

/// tests/c/fork.c: a fork during `ipvs_apply_yaml` on the libipvs connection goes ahead
/// at once, and the child's libipvs calls work.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_fork_during_an_apply() {
    check("fork", false);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_hostile_callers_get_errors() {
    check("hostile", false);
}

/// The same mistakes, under valgrind: no call reads or writes memory it should not, and
/// nothing leaks (a refused free frees nothing, a refused sort touches nothing).
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_hostile_callers_under_valgrind() {
    check("hostile", true);
}

/// 8 threads x 10,000 random changes and listings, half on the libipvs calls and half on
/// their own handles: every result and listing matches what each thread's calls did, and
/// the final table is exactly their union.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_eight_threads_churn_one_table() {
    let out = run_c_test(&Netns::new(), "churn", &["10000"], false);
    assert!(out.contains("8 threads x 10000 operations"), "{out}");
}

/// The same churn (fewer operations: helgrind is slow) under valgrind's thread checker: no
/// data race or lock misuse. The state the threads share (the libipvs connection, the
/// record of live objects) is behind pthread mutexes, which helgrind follows; each native
/// handle here is used by one thread.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_eight_threads_churn_under_helgrind() {
    let ns = Netns::new();
    let out = run(ns
        .exec("valgrind")
        .args(["-q", "--tool=helgrind", "--error-exitcode=99"])
        .arg(binary("churn"))
        .arg("300"));
    assert!(out.contains(" passed, 0 failed"), "{out}");
    assert!(out.contains("8 threads x 300 operations"), "{out}");
}

/// A handle closed while three threads are inside calls on it, 300 times: each call
/// finishes or fails with EBADF, and each thread then sees EBADF.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_close_while_other_threads_call() {
    let out = run_c_test(&Netns::new(), "close_race", &["300"], false);
    assert!(out.contains("300 rounds, 3 threads"), "{out}");
}

/// The same under memcheck: the close frees nothing a call in progress still reads. (Not
/// under helgrind: the threads share the handle, whose lock is Rust's futex-based Mutex,
/// which helgrind does not see, so it would report every call's use of the handle.)
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn c_close_while_other_threads_call_under_valgrind() {
    let out = run_c_test(&Netns::new(), "close_race", &["30"], true);
    assert!(out.contains("30 rounds, 3 threads"), "{out}");
}
