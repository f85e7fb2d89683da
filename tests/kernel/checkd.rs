//! c-examples/lvs-checkd against the kernel, with its real servers as listeners on a
//! dummy interface of the test namespace: a closed port takes its server out within one
//! check interval (weight 0, or removed with --remove) and an open one brings it back, a
//! lost quorum adds the sorry server, and SIGTERM drains and deletes what it applied; and
//! on the data-plane topology, new connections follow its decisions.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dataplane::{model, Forward, Topology};
use crate::support::{c_binary, run, settled, Netns};

const MODEL: &str = "\
services:
  - address: tcp://10.9.9.9:80
    sched: wrr
    destinations:
      - { address: 10.7.0.1:8080, forward: nat, weight: 3 }
      - { address: 10.7.0.2:8080, forward: nat, weight: 5 }
";

const INTERVAL: Duration = Duration::from_millis(500);

/// A TCP listener in the namespace, on `addr:8080`; stopped on drop.
/// A TCP server in a namespace, and when (CLOCK_MONOTONIC) it began to listen.
struct Listener {
    child: Child,
    listening_since: f64,
}

impl Listener {
    fn start(ns: &Netns, addr: &str) -> Listener {
        // The stamp is taken before listen(), so a checker cannot see the server up
        // before it (Python's monotonic clock is CLOCK_MONOTONIC, as the checker's).
        let script = format!(
            "import socket, time\n\
             s = socket.socket()\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('{addr}', 8080))\n\
             since = time.monotonic()\n\
             s.listen(64)\n\
             print('listening', since, flush=True)\n\
             while True:\n    c, _ = s.accept()\n    c.close()\n"
        );
        let mut child = ns
            .exec("python3")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let listening_since = line
            .strip_prefix("listening ")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("the listener said {line:?}"));
        Listener {
            child,
            listening_since,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// lvs-checkd in the namespace; killed on drop unless it was stopped.
struct Checkd(Option<Child>);

impl Checkd {
    fn start(ns: &Netns, model: &std::path::Path, extra: &[&str]) -> Checkd {
        let interval = format!("{}", INTERVAL.as_secs_f64());
        let child = Command::new(c_binary("lvs-checkd"))
            .args([
                "--netns",
                ns.path().to_str().unwrap(),
                "-f",
                model.to_str().unwrap(),
            ])
            .args(["--interval", &interval, "--timeout", "0.3"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Checkd(Some(child))
    }

    /// SIGTERM, then its exit status and its log.
    fn stop(&mut self) -> (i32, String) {
        let child = self.0.take().unwrap();
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Checkd {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `ipvsadm -Sn` is `expected`; the time it took.
fn wait_for(ns: &Netns, expected: &[impl AsRef<str>], limit: Duration) -> Duration {
    let expected: String = expected
        .iter()
        .map(|l| format!("{}\n", l.as_ref()))
        .collect();
    let start = Instant::now();
    loop {
        let now = ns.saved();
        if now == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "after {limit:?}:\n{now}\nexpected:\n{expected}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Seconds on the monotonic clock, the one lvs-checkd stamps its log with.
fn monotonic() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) },
        0
    );
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// The stamp of the first log line at or after `after` that contains `text`.
fn logged_at(log: &str, text: &str, after: f64) -> f64 {
    log.lines()
        .filter(|l| l.contains(text))
        .filter_map(|l| {
            l.strip_prefix('[')?
                .split(']')
                .next()?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .find(|&t| t >= after)
        .unwrap_or_else(|| panic!("no {text:?} after {after} in\n{log}"))
}

fn netns_with_servers() -> Netns {
    let ns = Netns::new();
    ns.ip(&["link", "add", "rs0", "type", "dummy"]);
    ns.ip(&["link", "set", "rs0", "up"]);
    for addr in ["10.7.0.1/24", "10.7.0.2/24", "10.7.0.3/24"] {
        ns.ip(&["addr", "add", addr, "dev", "rs0"]);
    }
    ns
}

const BOTH_UP: &[&str] = &[
    "-A -t 10.9.9.9:80 -s wrr",
    "-a -t 10.9.9.9:80 -r 10.7.0.1:8080 -m -w 3",
    "-a -t 10.9.9.9:80 -r 10.7.0.2:8080 -m -w 5",
];

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_failed_server_goes_to_weight_zero_and_comes_back() {
    let ns = netns_with_servers();
    let _rs1 = Listener::start(&ns, "10.7.0.1");
    let rs2 = Listener::start(&ns, "10.7.0.2");
    let model = ns.model_file("checkd", MODEL);
    let mut checkd = Checkd::start(&ns, &model, &["--quorum", "4", "--sorry", "10.7.0.3:8080"]);
    wait_for(&ns, BOTH_UP, Duration::from_secs(10));

    // Stamps are taken before what they time: the checker may notice at once.
    let killed = monotonic();
    drop(rs2);
    let down = [
        "-A -t 10.9.9.9:80 -s wrr",
        "-a -t 10.9.9.9:80 -r 10.7.0.1:8080 -m -w 3",
        "-a -t 10.9.9.9:80 -r 10.7.0.2:8080 -m -w 0",
        "-a -t 10.9.9.9:80 -r 10.7.0.3:8080 -m -w 1",
    ];
    let seen_down = wait_for(&ns, &down, Duration::from_secs(10));
    let rs2 = Listener::start(&ns, "10.7.0.2");
    let restarted = rs2.listening_since;
    let seen_up = wait_for(&ns, BOTH_UP, Duration::from_secs(10));

    let (code, log) = checkd.stop();
    assert_eq!(code, 0, "{log}");
    // The next round after a change sees it: within one interval (the checker logs after
    // its kernel write; 0.2 s of slack for the emulated VM).
    let takeout = logged_at(&log, "10.7.0.2:8080 of 10.9.9.9:80 is DOWN", killed) - killed;
    let recovery = logged_at(&log, "10.7.0.2:8080 of 10.9.9.9:80 is UP", restarted) - restarted;
    let limit = INTERVAL.as_secs_f64() + 0.2;
    assert!(takeout <= limit, "takeout {takeout:.3}s\n{log}");
    assert!(recovery <= limit, "recovery {recovery:.3}s\n{log}");
    eprintln!(
        "lvs-checkd, interval {INTERVAL:?}: takeout {takeout:.3}s, recovery {recovery:.3}s \
         (seen by ipvsadm polling after {seen_down:?} and {seen_up:?})"
    );
    assert_eq!(
        ns.saved(),
        "",
        "SIGTERM deletes the services it applied\n{log}"
    );
    for line in [
        "model: add service tcp://10.9.9.9:80 (wrr)",
        "10.7.0.2:8080 of 10.9.9.9:80 is DOWN (connect failed): weight 0",
        "10.9.9.9:80: quorum lost (live weight 3, quorum 4): sorry server 10.7.0.3:8080 added",
        "10.7.0.2:8080 of 10.9.9.9:80 is UP (connect succeeded): weight restored",
        "10.9.9.9:80: quorum regained (live weight 8, quorum 4): sorry server 10.7.0.3:8080 removed",
        "stopping: draining 1 services",
        "10.9.9.9:80: deleted",
    ] {
        assert!(log.contains(line), "missing {line:?} in\n{log}");
    }
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn with_remove_a_failed_server_leaves_the_table() {
    let ns = netns_with_servers();
    let rs1 = Listener::start(&ns, "10.7.0.1");
    let _rs2 = Listener::start(&ns, "10.7.0.2");
    let model = ns.model_file("checkd", MODEL);
    let mut checkd = Checkd::start(&ns, &model, &["--remove", "--retries", "1"]);
    wait_for(&ns, BOTH_UP, Duration::from_secs(10));
    drop(rs1);
    let gone = [
        "-A -t 10.9.9.9:80 -s wrr",
        "-a -t 10.9.9.9:80 -r 10.7.0.2:8080 -m -w 5",
    ];
    // One retry: the second failed round takes it out.
    let takeout = wait_for(&ns, &gone, Duration::from_secs(10));
    assert!(
        takeout >= INTERVAL / 2,
        "taken out after one failure: {takeout:?}"
    );
    let _rs1 = Listener::start(&ns, "10.7.0.1");
    wait_for(&ns, BOTH_UP, Duration::from_secs(10));
    let (code, log) = checkd.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("10.7.0.1:8080 of 10.9.9.9:80 is DOWN (connect failed): removed"),
        "{log}"
    );
    assert!(
        log.contains("10.7.0.1:8080 of 10.9.9.9:80 is UP (connect succeeded): added back"),
        "{log}"
    );
    assert_eq!(ns.saved(), "");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn bad_arguments_and_models_are_refused() {
    let ns = Netns::new();
    let run = |args: &[&str]| {
        Command::new(c_binary("lvs-checkd"))
            .args(["--netns", ns.path().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--interval", "1"]);
    assert_eq!(out.status.code(), Some(2), "no model");
    let bad = ns.model_file(
        "bad",
        "services:\n  - address: tcp://10.9.9.9:80\n    sched: nosuch\n",
    );
    let out = run(&["-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3, column 12"), "{stderr}");
    assert_eq!(ns.saved(), "");
}

/// The data-plane proof of the checker (NAT, the selftest's topology): after a real server
/// dies, new connections reach only the live one, and both again once it is back. The
/// counters the traffic leaves are then read by ipvs-list and ipvs-metrics.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn new_connections_avoid_a_dead_server_until_it_returns() {
    let mut t = Topology::new(Forward::Nat);
    t.start_sinks();
    let model = t.director.model_file("checkd", &model(Forward::Nat));
    let mut checkd = Checkd::start(&t.director, &model, &[]);
    let table = |rs2_weight: u32| {
        vec![
            "-A -t 207.175.44.110:8080 -s rr".to_owned(),
            "-a -t 207.175.44.110:8080 -r 172.16.0.2:8080 -m -w 1".to_owned(),
            format!("-a -t 207.175.44.110:8080 -r 172.16.0.3:8080 -m -w {rs2_weight}"),
        ]
    };
    wait_for(&t.director, &table(1), Duration::from_secs(10));
    assert_eq!(t.connect_many(4), [2048, 2048], "both up");

    // Stamps are taken before what they time: the checker may notice at once.
    let killed = monotonic();
    t.kill_server(1);
    wait_for(&t.director, &table(0), Duration::from_secs(10));
    assert_eq!(t.connect_many(4), [4096, 0], "rs2 down: only rs1");
    let restored = monotonic();
    t.restore_server(1);
    wait_for(&t.director, &table(1), Duration::from_secs(10));
    assert_eq!(t.connect_many(4), [2048, 2048], "rs2 back");

    // 12 connections went through, 8 to rs1. The kernel folds its per-CPU counters into
    // what it reports on its estimator's tick, every 2 seconds: wait until it shows them.
    let conns = |listing: &str, prefix: &str| {
        let line = listing.lines().find(|l| l.trim_start().starts_with(prefix));
        line.and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
    };
    let start = Instant::now();
    loop {
        let listing = t.director.ipvsadm(&["-Ln", "--stats", "--exact"]);
        let counted = [
            conns(&listing, "TCP  207.175.44.110:8080"),
            conns(&listing, "-> 172.16.0.2:8080"),
            conns(&listing, "-> 172.16.0.3:8080"),
        ];
        if counted == [Some("12".into()), Some("8".into()), Some("4".into())] {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{listing}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = |ns: &Netns| {
        (
            ns.ipvsadm_listing(&["-Ln", "--stats", "--exact"]),
            settled(|| {
                run(Command::new(c_binary("ipvs-list")).args([
                    "--stats",
                    "--netns",
                    ns.path().to_str().unwrap(),
                ]))
            }),
        )
    };
    let (theirs, ours) = stats(&t.director);
    assert_eq!(ours, theirs, "ipvs-list --stats");
    let service_line = ours.lines().nth(3).unwrap();
    assert!(
        service_line.starts_with("TCP  207.175.44.110:8080"),
        "{ours}"
    );
    assert_eq!(service_line.split_whitespace().nth(2), Some("12"), "{ours}");
    let influx = run(Command::new(c_binary("ipvs-metrics"))
        .args(["--netns", t.director.path().to_str().unwrap()]));
    assert!(influx.contains(",sched=rr connections=12i,"), "{influx}");
    let real_server = |rip: &str| {
        let prefix = format!("ipvs_real_server,address={rip},");
        let line = influx.lines().find(|l| l.starts_with(&prefix));
        line.unwrap_or_else(|| panic!("no {rip} in {influx}"))
            .to_owned()
    };
    assert!(
        real_server("172.16.0.2").contains(",connections=8i,"),
        "{influx}"
    );
    assert!(
        real_server("172.16.0.3").contains(",connections=4i,"),
        "{influx}"
    );
    assert_eq!(influx.matches(",bytes_in=").count(), 3, "{influx}");

    let (code, log) = checkd.stop();
    assert_eq!(code, 0, "{log}");
    let takeout = logged_at(
        &log,
        "172.16.0.3:8080 of 207.175.44.110:8080 is DOWN",
        killed,
    ) - killed;
    let recovery = logged_at(
        &log,
        "172.16.0.3:8080 of 207.175.44.110:8080 is UP",
        restored,
    ) - restored;
    let limit = INTERVAL.as_secs_f64() + 0.2;
    assert!(
        takeout <= limit && recovery <= limit,
        "takeout {takeout:.3}s, recovery {recovery:.3}s\n{log}"
    );
    eprintln!("lvs-checkd on the data plane, interval {INTERVAL:?}: takeout {takeout:.3}s, recovery {recovery:.3}s");
    assert_eq!(t.director.saved(), "");
}

/// One half of a director pair: the model's daemons section starts the master sync
/// daemon, and SIGTERM stops it with the services.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_model_with_a_sync_daemon_runs_it_until_the_checker_stops() {
    let ns = netns_with_servers();
    ns.ip(&["link", "add", "sync0", "type", "dummy"]);
    ns.ip(&["link", "set", "sync0", "multicast", "on", "up"]);
    ns.ip(&["addr", "add", "192.168.77.1/24", "dev", "sync0"]);
    let _rs1 = Listener::start(&ns, "10.7.0.1");
    let _rs2 = Listener::start(&ns, "10.7.0.2");
    let with_daemon =
        format!("daemons:\n  - {{ role: master, interface: sync0, syncid: 5 }}\n{MODEL}");
    let model = ns.model_file("checkd-pair", &with_daemon);
    let mut checkd = Checkd::start(&ns, &model, &[]);
    wait_for(&ns, BOTH_UP, Duration::from_secs(10));
    let daemons = ns.handle().daemons().unwrap();
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    assert_eq!(
        (
            daemons[0].role,
            daemons[0].ifname.as_str(),
            daemons[0].sync_id
        ),
        (ipvsrs::model::DaemonRole::Master, "sync0", 5)
    );
    let (code, log) = checkd.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("master sync daemon on sync0 (syncid 5) stopped"),
        "{log}"
    );
    assert_eq!(ns.handle().daemons().unwrap(), vec![]);
    assert_eq!(ns.saved(), "");
}
