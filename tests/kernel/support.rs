//! Test support: every kernel test runs in a fresh, named network namespace, so tests run
//! in parallel and never touch the IPVS table of the namespace the tests started in.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use ipvsrs::Handle;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A new namespace with `lo` up (the kernel refuses destinations without a local
    /// routing table).
    pub fn new() -> Netns {
        let name = format!("ipvsrs-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
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

    /// `ipvsadm ARGS` inside the namespace, whatever its outcome.
    pub fn ipvsadm_output(&self, args: &[&str]) -> Output {
        self.exec("ipvsadm").args(args).output().expect("run ipvsadm")
    }

    /// A command that will run inside the namespace.
    pub fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
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
