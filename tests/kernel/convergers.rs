//! One converger at a time per namespace, on every path (the CLI, C's `ipvs_apply_yaml`,
//! Python, Rust's `desired::converge`): a second one waits, then gives up with nothing
//! changed; several at once take turns, so the table is always one whole model; an apply
//! killed at any moment leaves the lock free and a table the next apply repairs, without
//! touching what lies outside its scope.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipvsrs::desired::{
    converge, diff, yaml, ConvergeLock, ConvergeOptions, DesiredTable, DiffOptions, KernelTable,
    ModelSource,
};
use ipvsrs::Handle;

use crate::support::{c_binary, Netns};

/// A model of `services` services (tcp://10.1.x.y:80) with `dests` destinations each.
/// Variant 1 differs from variant 0 in every way a diff knows: a tenth of the services
/// change scheduler, half change their destinations' weights, a twentieth move to port
/// 81 (a service deleted, another added), and a tenth replace their first destination.
fn model(services: usize, dests: usize, variant: usize) -> String {
    let mut text = String::from("services:\n");
    for i in 0..services {
        let (hi, lo) = (i / 256, i % 256);
        let port = if variant == 1 && i % 20 == 5 { 81 } else { 80 };
        let sched = if variant == 1 && i % 10 == 0 {
            "rr"
        } else {
            "wrr"
        };
        text.push_str(&format!(
            "  - address: tcp://10.1.{hi}.{lo}:{port}\n    sched: {sched}\n    destinations:\n"
        ));
        for k in 0..dests {
            let net = if variant == 1 && k == 0 && i % 10 == 3 {
                100
            } else {
                2 + k
            };
            let weight = k + 1 + usize::from(variant == 1 && i % 2 == 0);
            text.push_str(&format!(
                "      - {{ address: 10.{net}.{hi}.{lo}:{}, forward: nat, weight: {weight} }}\n",
                8000 + k
            ));
        }
    }
    text
}

/// What the convergers' models own; the service outside it must never change.
const SCOPE: &str = "10.1.0.0/16";
const OUTSIDER: &[&str] = &[
    "-A -t 192.168.0.1:80 -s rr",
    "-a -t 192.168.0.1:80 -r 10.9.0.1:80 -m -w 3",
];

fn parsed(text: &str) -> DesiredTable {
    yaml::parse(text, &yaml::Params::new()).expect("a valid model")
}

/// Whether the table is exactly `model`.
fn matches(table: &KernelTable, model: &DesiredTable) -> bool {
    diff(model, table, &DiffOptions::default()).is_empty()
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_second_converger_waits_then_gives_up_with_nothing_changed() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let path = ns.model_file("model", &model(20, 2, 0));
    let path = path.to_str().unwrap();
    let pid = std::process::id();
    let lock = ConvergeLock::acquire(&mut h, Duration::ZERO).expect("a free lock");

    let start = Instant::now();
    let out = ns.ipvsrs(&["apply", "-f", path, "--wait", "0.5"]);
    let waited = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        waited >= Duration::from_millis(500),
        "gave up after {waited:?}"
    );
    assert!(
        stderr.contains("another converger holds the lock")
            && stderr.contains(&format!("(pid {pid})")),
        "{stderr}"
    );

    let out = ns
        .exec(c_binary("converger").to_str().unwrap())
        .args([path, path, "1", "-1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "busy\n");
    assert!(out.status.success());

    let python = "import errno, sys, ipvsrs\n\
                  try:\n    ipvsrs.Handle().apply_yaml(sys.argv[1], path=True, wait=0.2)\n\
                  except ipvsrs.IpvsError as e:\n    \
                  assert e.errno == errno.EBUSY, e\n    print(e.message)\n";
    let out = ns.python().args(["-c", python, path]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("(pid {pid})")), "{stdout}");

    let options = ConvergeOptions {
        wait: Duration::ZERO,
        ..Default::default()
    };
    let mut other = ns.handle();
    let busy = converge(&mut other, ModelSource::File(Path::new(path)), &options).unwrap_err();
    assert_eq!(busy.errno(), libc::EBUSY, "{busy}");

    // A diff takes no lock; it sees the table the others left alone: empty.
    assert!(h.services().unwrap().is_empty());
    let differs = ns.ipvsrs_exits(&["diff", "-f", path, "--exit-code"], 1);
    assert_eq!(differs.lines().count(), 20 * 3, "{differs}");

    // One that waits long enough goes ahead when the lock is let go.
    let waiter = ns
        .ipvsrs_command(&["apply", "-f", path, "--wait", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(lock);
    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ns.ipvsrs_exits(&["diff", "-f", path, "--exit-code"], 0), "");
}

/// A model file of the namespace's, as a string for command lines.
fn model_path(ns: &Netns, tag: &str, text: &str) -> String {
    ns.model_file(tag, text).to_str().unwrap().to_owned()
}

/// The lines a worker printed, one an apply: "ok", "busy", or a failure.
fn lines_of(out: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stderr.is_empty() {
        lines.push(format!("exit {:?}: {stderr}", out.status.code()));
    }
    lines
}

/// Four convergers, one on each path, apply two models in turn, IPVSRS_CONVERGER_ROUNDS
/// (6) applies each, while an observer checks between them that the table is one model.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn convergers_on_every_path_take_turns() {
    let rounds = knob("IPVSRS_CONVERGER_ROUNDS", 6);
    let ns = Netns::new();
    let texts = [model(100, 3, 0), model(100, 3, 1)];
    let models = [parsed(&texts[0]), parsed(&texts[1])];
    let a = model_path(&ns, "a", &texts[0]);
    let b = model_path(&ns, "b", &texts[1]);
    let running = AtomicUsize::new(4);
    let done = || running.fetch_sub(1, Ordering::SeqCst);
    let python = "import errno, sys, ipvsrs\n\
                  h = ipvsrs.Handle()\n\
                  for i in range(int(sys.argv[3])):\n    \
                  try:\n        h.apply_yaml(sys.argv[1 + i % 2], path=True, wait=30)\n        \
                  print('ok')\n    \
                  except ipvsrs.IpvsError as e:\n        \
                  print('busy' if e.errno == errno.EBUSY else f'failed: {e.message}')\n";

    let (outcomes, observed) = std::thread::scope(|s| {
        let cli = s.spawn(|| {
            let mut lines = Vec::new();
            for round in 0..rounds {
                let model = if round % 2 == 0 { &a } else { &b };
                let out = ns.ipvsrs(&["apply", "-f", model, "--wait", "30"]);
                lines.push(match out.status.code() {
                    Some(0) => "ok".to_owned(),
                    Some(6) => "busy".to_owned(),
                    _ => format!("failed: {}", String::from_utf8_lossy(&out.stderr)),
                });
            }
            done();
            ("CLI", lines)
        });
        let c = s.spawn(|| {
            let out = ns
                .exec(c_binary("converger").to_str().unwrap())
                .args([&b, &a, &rounds.to_string()])
                .output()
                .unwrap();
            done();
            ("C", lines_of(&out))
        });
        let py = s.spawn(|| {
            let out = ns
                .python()
                .args(["-c", python, &b, &a, &rounds.to_string()])
                .output()
                .unwrap();
            done();
            ("Python", lines_of(&out))
        });
        let rust = s.spawn(|| {
            let mut h = ns.handle();
            let options = ConvergeOptions {
                wait: Duration::from_secs(30),
                ..Default::default()
            };
            let mut lines = Vec::new();
            for round in 0..rounds {
                let model = Path::new(if round % 2 == 0 { &a } else { &b });
                lines.push(match converge(&mut h, ModelSource::File(model), &options) {
                    Ok(_) => "ok".to_owned(),
                    Err(e) if e.errno() == libc::EBUSY => "busy".to_owned(),
                    Err(e) => format!("failed: {e}"),
                });
            }
            done();
            ("Rust", lines)
        });

        // Whenever the lock is free, the table is one whole model (or still empty).
        let mut h = ns.handle();
        let mut observed = Vec::new();
        while running.load(Ordering::SeqCst) > 0 {
            let lock = ConvergeLock::acquire(&mut h, Duration::from_secs(60)).unwrap();
            let table = KernelTable::read(&mut h).unwrap();
            drop(lock);
            observed.push(
                match (matches(&table, &models[0]), matches(&table, &models[1])) {
                    _ if table.services.is_empty() => "empty",
                    (true, false) => "a",
                    (false, true) => "b",
                    _ => panic!(
                        "the table is neither model: {} services",
                        table.services.len()
                    ),
                },
            );
            // Not a wait for anything: the lock stays free a moment, so that the woken
            // convergers take it rather than this loop again.
            std::thread::sleep(Duration::from_millis(20));
        }
        let outcomes: Vec<_> = [cli, c, py, rust]
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect();
        (outcomes, observed)
    });

    for (path, lines) in &outcomes {
        assert_eq!(lines.len(), rounds, "{path}: {lines:?}");
        assert!(
            lines.iter().all(|l| l == "ok" || l == "busy"),
            "{path}: {lines:?}"
        );
        assert!(lines.iter().any(|l| l == "ok"), "{path}: {lines:?}");
    }
    let table = KernelTable::read(&mut ns.handle()).unwrap();
    assert!(matches(&table, &models[0]) || matches(&table, &models[1]));
    eprintln!(
        "4 convergers x {rounds} applies: {outcomes:?}; the table between them: {} readings, \
         each one whole model",
        observed.len()
    );
}

/// A small PRNG (xorshift64*): the kill moments, reproducible from the printed seed.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, limit: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let fraction =
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        limit.mul_f64(fraction)
    }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// `ipvsrs apply` of `model` within [`SCOPE`], started.
fn start_apply(ns: &Netns, model: &str) -> Child {
    ns.ipvsrs_command(&["apply", "-f", model, "--scope", SCOPE])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// How many changes an apply's summary line reports ("applied 12 changes: ...", "no
/// changes").
fn changes_made(summary: &str) -> usize {
    match summary.trim() {
        "no changes" => 0,
        line => line
            .strip_prefix("applied ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not an apply summary: {line:?}")),
    }
}

/// Waits until the namespace's number of services is no longer `count` (the apply's
/// first write adds or deletes a service) or `apply` has ended; whether it changed.
fn first_write(h: &mut Handle, count: Option<usize>, apply: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if h.service_count() != count {
            return true;
        }
        if apply.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the apply neither wrote nor ended within 600 s");
}

/// The span of an apply of `model` to the namespace, which it changes: when it begins to
/// write and when it ends, from its start; and how many changes it made.
fn apply_span(ns: &Netns, model: &str) -> (Span, usize) {
    let mut h = ns.handle();
    let count = h.service_count();
    let start = Instant::now();
    let mut apply = start_apply(ns, model);
    assert!(
        first_write(&mut h, count, &mut apply),
        "the apply changed no service"
    );
    let writes_from = start.elapsed();
    let out = apply.wait_with_output().unwrap();
    let ends = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = changes_made(&String::from_utf8_lossy(&out.stdout));
    (Span { writes_from, ends }, made)
}

/// When an apply begins to write, and when it ends, from its start.
#[derive(Clone, Copy, Debug)]
struct Span {
    writes_from: Duration,
    ends: Duration,
}

/// When to kill an apply: a moment from its start, or from its first write.
#[derive(Clone, Copy, Debug)]
enum Moment {
    FromStart(Duration),
    FromFirstWrite(Duration),
}

impl Span {
    /// A moment of the whole apply, or, with `writing`, of its writes.
    fn moment(&self, moments: &mut Moments, writing: bool) -> Moment {
        match writing {
            true => Moment::FromFirstWrite(moments.next_below(self.ends - self.writes_from)),
            false => Moment::FromStart(moments.next_below(self.ends)),
        }
    }
}

/// Kills an apply of `model` at `moment`, then checks the next apply: it needs no wait
/// (`--wait 0`), succeeds, and leaves nothing to change, and the service outside the
/// scope is as it was. Returns how many changes the repair made.
fn kill_and_repair(ns: &Netns, model: &str, moment: Moment) -> usize {
    let outsider = ns.ipvsadm(&["-Ln", "-t", "192.168.0.1:80"]);
    let mut h = ns.handle();
    let count = h.service_count();
    let mut apply = start_apply(ns, model);
    match moment {
        Moment::FromStart(after) => std::thread::sleep(after),
        Moment::FromFirstWrite(after) => {
            if first_write(&mut h, count, &mut apply) {
                std::thread::sleep(after);
            }
        }
    }
    apply.kill().unwrap();
    let status = apply.wait().unwrap();
    let mut stdout = String::new();
    apply
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    // An apply that finished before the signal is fine too: the checks below still hold.
    assert!(
        status.code().is_none() || status.success(),
        "the killed apply failed on its own ({status}): {stdout}"
    );

    let repair = ns
        .ipvsrs_command(&["apply", "-f", model, "--scope", SCOPE, "--wait", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&repair.stderr);
    assert!(
        repair.status.success(),
        "the apply after a kill at {moment:?} ({status}): {stderr}"
    );
    let repaired = changes_made(&String::from_utf8_lossy(&repair.stdout));
    let diff = ["diff", "-f", model, "--scope", SCOPE, "--exit-code"];
    assert_eq!(ns.ipvsrs_exits(&diff, 0), "", "after a kill at {moment:?}");
    assert_eq!(
        ns.ipvsadm(&["-Ln", "-t", "192.168.0.1:80"]),
        outsider,
        "the service outside the scope changed"
    );
    repaired
}

/// IPVSRS_KILLS applies (10) of IPVSRS_KILL_SERVICES x IPVSRS_KILL_DESTS (1,000 x 10) are
/// killed at random moments, half while building a table from empty, half while
/// updating one to the other model; of each half, every other moment falls while the
/// apply writes. IPVSRS_KILL_SEED replays a run. `make stress` runs 50 at 10,000 x 10.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn an_apply_killed_at_any_moment_is_repaired_by_the_next() {
    let services = knob("IPVSRS_KILL_SERVICES", 1_000);
    let dests = knob("IPVSRS_KILL_DESTS", 10);
    let kills = knob("IPVSRS_KILLS", 10);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let seed = knob("IPVSRS_KILL_SEED", now.subsec_nanos() as usize | 1) as u64;
    let mut moments = Moments(seed);

    let with_outsider = || {
        let ns = Netns::new();
        ns.ipvsadm_each(OUTSIDER);
        ns
    };
    let updating = with_outsider();
    let paths: Vec<PathBuf> = (0..2)
        .map(|v| updating.model_file(&format!("v{v}"), &model(services, dests, v)))
        .collect();
    let [a, b] = [paths[0].to_str().unwrap(), paths[1].to_str().unwrap()];
    // One whole build and one whole update give the spans the kills are spread over.
    let (build, built) = apply_span(&updating, a);
    let (update, updated) = apply_span(&updating, b);
    let mut current = 1;

    let mut repairs = Vec::new();
    for kill in 0..kills {
        let writing = kill % 4 >= 2;
        let repaired = if kill % 2 == 0 {
            let ns = with_outsider();
            let moment = build.moment(&mut moments, writing);
            ("build", kill_and_repair(&ns, a, moment))
        } else {
            current = 1 - current;
            let moment = update.moment(&mut moments, writing);
            (
                "update",
                kill_and_repair(&updating, [a, b][current], moment),
            )
        };
        repairs.push(repaired);
    }
    let stage = |kind: &str, whole: usize| {
        let of_kind: Vec<usize> = repairs
            .iter()
            .filter(|r| r.0 == kind)
            .map(|r| r.1)
            .collect();
        let before = of_kind.iter().filter(|&&n| n == whole).count();
        let after = of_kind.iter().filter(|&&n| n == 0).count();
        format!(
            "{kind}: {} killed before writing, {} while writing, {after} after",
            before,
            of_kind.len() - before - after
        )
    };
    eprintln!(
        "{kills} applies of {services} x {dests} killed (seed {seed}); a whole build is \
         {built} changes (writing {:.2?} to {:.2?} of a run), an update {updated} ({:.2?} \
         to {:.2?}); {}; {}",
        build.writes_from,
        build.ends,
        update.writes_from,
        update.ends,
        stage("build", built),
        stage("update", updated)
    );
}

/// A long-lived converger keeps what it read of its last model: each apply makes exactly
/// the changes a converger without the cache plans, and leaves nothing for one to do.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_cached_converger_applies_what_an_uncached_one_would() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let mut cache = ipvsrs::desired::yaml::ModelCache::new();
    let mut fresh = ns.handle();
    let base = model(300, 3, 0);
    let steps = [
        ("build", base.clone()),
        ("unchanged", base.clone()),
        ("the other model", model(300, 3, 1)),
        ("back", base.clone()),
        ("one weight", base.replacen("weight: 1 ", "weight: 9 ", 1)),
        (
            "a service added at the top",
            base.replacen(
                "services:\n",
                "services:\n  - address: udp://10.1.200.1:53\n",
                1,
            ),
        ),
        ("defaults", format!("defaults: {{ sched: rr }}\n{base}")),
    ];
    let dry_run = ConvergeOptions {
        dry_run: true,
        ..Default::default()
    };
    for (step, text) in steps {
        let model = ModelSource::Text(&text);
        let planned = converge(&mut fresh, model, &dry_run)
            .unwrap()
            .into_changes();
        let options = ConvergeOptions::default();
        let made = ipvsrs::desired::converge_cached(&mut h, &mut cache, model, &options)
            .unwrap_or_else(|e| panic!("{step}: {e}"))
            .into_changes();
        assert_eq!(made, planned, "{step}");
        let left = converge(&mut fresh, model, &dry_run)
            .unwrap()
            .into_changes();
        assert_eq!(left, [], "{step}");
        assert_eq!(cache.len(), parsed(&text).services.len(), "{step}");
    }
}
