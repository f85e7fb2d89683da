//! Test support: every kernel test runs in a fresh, named network namespace, so tests run
//! in parallel and never touch the IPVS table of the namespace the tests started in.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::fs::File;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use ipvsrs::model::{Service, ServiceEntry, ServiceKey};
use ipvsrs::{Error, Handle, Result};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A C test or example built by `make c-tests` (the directory is in IPVSRS_C_TESTS).
pub fn c_binary(name: &str) -> PathBuf {
    built_by("c-tests", "IPVSRS_C_TESTS", name)
}

/// The file `name` that `make target` built into the directory the variable `var` names
/// (`make test-kernel` sets it).
pub fn built_by(target: &str, var: &str, name: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .unwrap_or_else(|| panic!("{var} names what make {target} built: run `make test-kernel`"));
    let path = PathBuf::from(dir).join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make {target}`",
        path.display()
    );
    path
}

/// The build's `target/`, where IPVSRS_C_TESTS (`target/c-tests`) is.
fn target_dir() -> PathBuf {
    let c_tests = std::env::var_os("IPVSRS_C_TESTS")
        .expect("IPVSRS_C_TESTS names the C test binaries: run `make test-kernel`");
    Path::new(&c_tests)
        .parent()
        .expect("IPVSRS_C_TESTS is a directory in target/")
        .to_path_buf()
}

/// The installed `libipvsrs.so.0`: the stage `make c-tests` built the binaries of
/// IPVSRS_C_TESTS against, `target/stage/usr/lib`.
fn staged_library() -> PathBuf {
    let library = target_dir().join("stage/usr/lib/libipvsrs.so.0");
    assert!(
        library.exists(),
        "{} is missing: run `make c-tests`",
        library.display()
    );
    library
}

/// The Python of the venv `make python-venv` pip-installed the ipvsrs package into,
/// `target/python-venv`.
fn venv_python() -> PathBuf {
    let python = target_dir().join("python-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make python-venv`",
        python.display()
    );
    python
}

/// ipvsadm commands that build a table with every attribute ipvsadm can set and every
/// kind of line its listings print (each scheduler Debian's 6.1 kernel has, flags,
/// persistence with masks, an engine, one-packet, SCTP, IPv6, fwmarks of both families).
pub const IPVSADM_TABLE: &[&str] = &[
    "-A -t 10.0.0.1:80 -s sh -b sh-port -p 60 -M 255.255.0.0",
    "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 0 -x 50 -y 5",
    "-a -t 10.0.0.1:80 -r 10.1.0.2 -i -w 4 --tun-type gue --tun-port 6080 --tun-remcsum",
    "-A -u 10.0.0.1:5060 -s wrr -o -b flag-3 -p 30 --pe sip",
    "-a -u 10.0.0.1:5060 -r 10.1.0.3 -g -w 9",
    "-A -t [2001:db8::1]:443 -s mh -b mh-port,mh-fallback -p 100 -M 64",
    "-a -t [2001:db8::1]:443 -r [2001:db8::2]:8443 -m -w 2",
    "-a -t [2001:db8::1]:443 -r 10.1.0.4 -i --tun-type gre --tun-csum",
    "-A -f 9 -6 -s lc",
    "-a -f 9 -6 -r [2001:db8::3]:0 -g -w 6",
    "-A --sctp-service 10.0.0.5:3868 -s fo",
    "-a --sctp-service 10.0.0.5:3868 -r 10.1.0.5 -m -w 1 -x 9",
    "-A -f 7 -s ovf -p 5 -M 255.0.255.0",
    "-a -f 7 -r 10.1.0.6:0 -g -w 3",
    "-A -u 10.0.0.6:4789 -s nq -o",
    "-a -u 10.0.0.6:4789 -r 10.1.0.7 -i --tun-type ipip",
    "-A -t 10.0.0.7:80 -s dh",
    "-A -t 10.0.0.8:80 -s lblcr",
    "-A -t 10.0.0.9:80 -s lblc",
    "-A -t 10.0.0.11:80 -s sed",
    "-A -t 10.0.0.12:80 -s wlc",
    "-A -t 10.0.0.13:80 -s rr",
    "-A -t 10.0.0.14:80 -s wrr",
];

/// The dummy interface of [`netns_with_sync_interface`].
pub const SYNC_IFNAME: &str = "sync0";

/// A namespace with an up dummy interface `sync0` that has an IPv4 and an IPv6 address,
/// for sync daemons.
pub fn netns_with_sync_interface() -> (Netns, Handle) {
    let ns = Netns::new();
    ns.ip(&["link", "add", SYNC_IFNAME, "type", "dummy"]);
    // Dummies come without IFF_MULTICAST; a real sync interface has it.
    ns.ip(&["link", "set", SYNC_IFNAME, "multicast", "on", "up"]);
    ns.ip(&["addr", "add", "192.168.77.1/24", "dev", SYNC_IFNAME]);
    ns.ip(&["addr", "add", "fd00:77::1/64", "dev", SYNC_IFNAME, "nodad"]);
    let h = ns.handle();
    (ns, h)
}

pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A new namespace with `lo` up (the kernel refuses destinations without a local
    /// routing table).
    pub fn new() -> Netns {
        let name = format!(
            "ipvsrs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    pub fn handle(&self) -> Handle {
        Handle::open_in_netns(self.path()).expect("open an IPVS handle in the test namespace")
    }

    /// `ip ARGS` inside the namespace; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        run(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// `ipvsadm ARGS` inside the namespace; panics on failure.
    pub fn ipvsadm(&self, args: &[&str]) -> String {
        run(self.exec("ipvsadm").args(args))
    }

    /// `ipvsadm` once for each command line (arguments split at spaces), in order.
    pub fn ipvsadm_each(&self, commands: &[&str]) {
        for command in commands {
            self.ipvsadm(&command.split(' ').collect::<Vec<_>>());
        }
    }

    /// `ipvsadm -Sn`, read until two reads agree (see [`settled`]).
    pub fn saved(&self) -> String {
        self.ipvsadm_listing(&["-Sn"])
    }

    /// An ipvsadm listing (`-Sn`, `-Ln ...`), read until two readings that list each
    /// service once agree. ipvsadm trusts one dump: a reading with a service line twice is
    /// a dump that repeated it, and the same repeat can come in two readings in a row.
    pub fn ipvsadm_listing(&self, args: &[&str]) -> String {
        settled_usable(|| each_service_once(self.ipvsadm(args)))
    }

    /// A command that will run inside the namespace: the child enters it between fork and
    /// exec. (`ip netns exec` costs another exec and a remount of /sys, which none of the
    /// programs here reads; under emulation that is most of a short command's time.)
    pub fn exec(&self, program: impl AsRef<OsStr>) -> Command {
        use std::os::unix::process::CommandExt;
        let ns = File::open(self.path()).expect("open the namespace");
        let mut c = Command::new(program);
        // SAFETY: the child only calls setns, which is async-signal-safe, on a descriptor
        // the closure owns (opened close-on-exec).
        unsafe {
            c.pre_exec(move || {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
        c
    }

    /// Python inside the namespace, with the installed ipvsrs package (and no path into
    /// the tree) and the staged library.
    pub fn python(&self) -> Command {
        let mut c = self.exec(venv_python());
        c.env("IPVSRS_LIBRARY", staged_library())
            .env_remove("PYTHONPATH");
        c
    }

    /// Writes `content` to a file named after the namespace and `tag`.
    pub fn model_file(&self, tag: &str, content: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("{}-{tag}.yaml", self.name));
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The command `ipvsrs --netns NAME ARGS`.
    pub fn ipvsrs_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ipvsrs"));
        c.args(["--netns", &self.name]).args(args);
        c
    }

    /// Runs `ipvsrs --netns NAME ARGS`.
    pub fn ipvsrs(&self, args: &[&str]) -> Output {
        self.ipvsrs_command(args).output().expect("run ipvsrs")
    }

    /// Runs `ipvsrs`, asserts that it exits with `code`, returns its stdout.
    pub fn ipvsrs_exits(&self, args: &[&str], code: i32) -> String {
        let out = self.ipvsrs(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "ipvsrs {args:?}: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// `ipvsrs apply` of `content`, which must succeed; its stdout.
    pub fn apply_model(&self, tag: &str, content: &str) -> String {
        let path = self.model_file(tag, content);
        self.ipvsrs_exits(&["apply", "-f", path.to_str().unwrap()], 0)
    }

    /// `ipvsrs diff --format FORMAT` of `content`.
    pub fn diff_of(&self, tag: &str, content: &str, format: &str) -> String {
        let path = self.model_file(tag, content);
        let args = ["diff", "-f", path.to_str().unwrap(), "--format", format];
        self.ipvsrs_exits(&args, 0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Runs a command, panics with its stderr unless it succeeds, returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs a command with `input` on its standard input; its output, stdout and stderr.
pub fn output_with_input(cmd: &mut Command, input: &str) -> Output {
    let mut child = (cmd.stdin(Stdio::piped()).stdout(Stdio::piped()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `ipvsadm -Sn` prints exactly `lines` (ipvsadm sorts services and destinations itself).
pub fn assert_saved(ns: &Netns, lines: &[impl AsRef<str>]) {
    let expected: String = lines.iter().map(|l| format!("{}\n", l.as_ref())).collect();
    assert_eq!(ns.saved(), expected);
}

/// How long a reading may take to settle: another test churning other namespaces (the
/// scale tests) can keep a 10,000-service dump of ipvsadm's inexact for minutes.
const SETTLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(900);

/// Reads a service dump until two reads in a row agree. The kernel resumes a dump by
/// position in its service table, which all namespaces share: services added or deleted in
/// any namespace meanwhile (tests run in parallel) make it repeat some of ours, even in a
/// small dump, or skip some in a dump of several parts. `Handle::services` drops repeats,
/// ipvsadm does not.
pub fn settled<T: PartialEq>(mut read: impl FnMut() -> T) -> T {
    settled_usable(|| Some(read()))
}

/// [`settled`] for a reader that can tell an unusable reading (`None`), never returned.
pub fn settled_usable<T: PartialEq>(mut read: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + SETTLE_WITHIN;
    let mut last = read();
    while std::time::Instant::now() < deadline {
        match read() {
            Some(reading) if last.as_ref() == Some(&reading) => return reading,
            next => last = next,
        }
    }
    panic!("for {SETTLE_WITHIN:?} reads of a dump in a row all differed or repeated a service");
}

/// `listing` if no line at its left margin (a service, in ipvsadm's and ipvs-list's
/// views; headings come once) appears twice.
pub fn each_service_once(listing: String) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let unique = listing
        .lines()
        .filter(|line| !line.starts_with([' ', '\t']))
        .all(|line| seen.insert(line));
    unique.then_some(listing)
}

/// The keys of listed services, sorted (the kernel lists them in hash order).
pub fn sorted_keys(entries: Vec<ServiceEntry>) -> Vec<ServiceKey> {
    keys_of(entries.iter().map(|e| &e.service))
}

/// The keys of `services`, sorted.
pub fn keys_of<'a>(services: impl IntoIterator<Item = &'a Service>) -> Vec<ServiceKey> {
    let mut keys: Vec<ServiceKey> = services.into_iter().map(|s| s.key).collect();
    keys.sort();
    keys
}

/// Runs `f` on a thread that has entered `ns`; the calling thread stays where it is.
pub fn in_netns<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    let target = File::open(ns.path()).expect("open the namespace");
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns only reads the descriptor and moves this thread alone.
            let rc = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Asserts that `result` failed with `errno` and that its message contains `context`
/// (the operation and the object); returns the error for further checks.
pub fn assert_fails<T: Debug>(result: Result<T>, errno: i32, context: &str) -> Error {
    let err = result.expect_err(&format!("expected {context} to fail with errno {errno}"));
    assert_eq!(err.errno(), errno, "errno of {err}");
    let text = err.to_string();
    assert!(
        text.contains(context),
        "{text:?} does not mention {context:?}"
    );
    err
}

/// The running kernel's version as (major, minor), for behaviour that differs between
/// the kernels the suite runs in.
pub fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(['.', '-']);
    let mut number = || parts.next().and_then(|p| p.parse().ok()).unwrap();
    (number(), number())
}
