//! Desired state against the kernel: diff, apply, idempotence, in-place edits, ownership
//! scope, keep-weights, allowed actions, timeouts and sync daemons, and rollback of a
//! failure at every position.

use std::sync::Arc;

use ipvsrs::desired::{
    apply, diff, take_current_weights, Action, Change, DiffOptions, KernelTable, ScopeRule,
};
use ipvsrs::desired::{DesiredDest, DesiredService, DesiredTable, DestState};
use ipvsrs::model::{
    Daemon, DaemonRole, Destination, Forward, Service, ServiceFlags, ServiceKey, Timeouts,
};
use ipvsrs::Handle;

use crate::support::{assert_saved, ip, netns_with_sync_interface, Netns, SYNC_IFNAME};

fn tcp(addr: &str) -> ServiceKey {
    ServiceKey::tcp(ip(addr), 80)
}

fn dest(addr: &str, weight: i32, state: DestState) -> DesiredDest {
    DesiredDest {
        dest: Destination {
            weight,
            ..Destination::new(ip(addr), 80, Forward::Route)
        },
        state,
    }
}

fn service(addr: &str, scheduler: &str, dests: Vec<DesiredDest>) -> DesiredService {
    DesiredService {
        service: Service::new(tcp(addr), scheduler),
        dests,
    }
}

/// The table a model starts from in most tests: two services, three servers.
fn base_model() -> DesiredTable {
    DesiredTable {
        services: vec![
            service(
                "10.0.0.1",
                "rr",
                vec![
                    dest("10.1.0.1", 1, DestState::Active),
                    dest("10.1.0.2", 2, DestState::Active),
                ],
            ),
            service(
                "10.0.0.2",
                "wlc",
                vec![dest("10.1.0.3", 3, DestState::Active)],
            ),
        ],
        ..Default::default()
    }
}

const BASE_SAVED: [&str; 5] = [
    "-A -t 10.0.0.1:80 -s rr",
    "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
    "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 2",
    "-A -t 10.0.0.2:80 -s wlc",
    "-a -t 10.0.0.2:80 -r 10.1.0.3:80 -g -w 3",
];

/// A fresh namespace whose table `base_model` built, with a handle in it.
fn base_table() -> (Netns, Handle) {
    let ns = Netns::new();
    let mut h = ns.handle();
    converge(&mut h, &base_model(), &DiffOptions::default());
    (ns, h)
}

fn converge(h: &mut Handle, model: &DesiredTable, options: &DiffOptions) -> Vec<Change> {
    let changes = diff(model, &KernelTable::read(h).unwrap(), options);
    let report = apply(h, changes.clone(), &Action::ALL).unwrap();
    assert!(report.succeeded(), "{:?}", report.outcomes);
    changes
}

/// The changes a model still needs against the kernel, with the default options.
fn pending(h: &mut Handle, model: &DesiredTable) -> Vec<Change> {
    diff(
        model,
        &KernelTable::read(h).unwrap(),
        &DiffOptions::default(),
    )
}

/// Everything a rollback restores: services and destinations without counters, sorted;
/// the timeouts; the daemons.
type Snapshot = (Vec<(Service, Vec<Destination>)>, Timeouts, Vec<Daemon>);

fn snapshot(h: &mut Handle) -> Snapshot {
    let kernel = KernelTable::read(h).unwrap();
    let mut table: Vec<_> = kernel
        .services
        .into_iter()
        .map(|(s, d)| {
            let mut dests: Vec<Destination> = d.into_iter().map(|e| e.dest).collect();
            dests.sort_by_key(|d| d.key());
            (
                Service {
                    flags: s.flags.user(),
                    ..s
                },
                dests,
            )
        })
        .collect();
    table.sort_by_key(|(s, _)| s.key);
    (table, kernel.timeouts, kernel.daemons)
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn apply_builds_the_table_and_a_second_diff_is_empty() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let changes = converge(&mut h, &base_model(), &DiffOptions::default());
    assert_eq!(changes.len(), 5, "{changes:?}");
    assert_saved(&ns, &BASE_SAVED);
    assert_eq!(
        diff(
            &base_model(),
            &KernelTable::read(&mut h).unwrap(),
            &DiffOptions::default()
        ),
        []
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn settings_change_in_place() {
    let (ns, mut h) = base_table();
    let mut model = base_model();
    model.services[0].service.scheduler = "wrr".into();
    model.services[0].service.flags = ServiceFlags::PERSISTENT;
    model.services[0].service.timeout = 60;
    model.services[1].dests[0].dest.weight = 30;
    let changes = converge(&mut h, &model, &DiffOptions::default());
    let actions: Vec<Action> = changes.iter().map(Change::action).collect();
    assert_eq!(actions, [Action::UpdateService, Action::UpdateDest]);
    assert_eq!(
        changes[0].to_string(),
        "update service tcp://10.0.0.1:80 (scheduler rr -> wrr, flags [] -> [persistent], timeout 0 -> 60)"
    );
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s wrr -p 60",
            "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1",
            "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 2",
            "-A -t 10.0.0.2:80 -s wlc",
            "-a -t 10.0.0.2:80 -r 10.1.0.3:80 -g -w 30",
        ],
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn services_outside_the_scope_are_left_alone() {
    let ns = Netns::new();
    let mut h = ns.handle();
    ns.ipvsadm(&["-A", "-t", "192.168.9.9:443", "-s", "rr"]);
    ns.ipvsadm(&["-A", "-t", "10.0.0.9:80", "-s", "rr"]);
    let scope = vec![ScopeRule::Addresses {
        protocol: None,
        network: ip("10.0.0.0"),
        prefix: 24,
        ports: (1, 65535),
    }];
    converge(
        &mut h,
        &base_model(),
        &DiffOptions {
            scope,
            keep_weights: false,
        },
    );
    // The owned 10.0.0.9 is gone; the foreign one stays. ipvsadm sorts it first: its
    // comparator subtracts addresses into an int, and 192.168.9.9 - 10.0.0.1 overflows.
    let mut expected = vec!["-A -t 192.168.9.9:443 -s rr"];
    expected.extend(BASE_SAVED);
    assert_saved(&ns, &expected);
}

/// Diff options for running beside a health checker.
fn keeping_weights() -> DiffOptions {
    DiffOptions {
        keep_weights: true,
        ..Default::default()
    }
}

/// A health checker (ipvsadm) sets the weight of 10.1.0.3, in `base_model`'s second service.
fn checker_sets_weight(ns: &Netns, weight: u32) {
    let weight = weight.to_string();
    ns.ipvsadm(&[
        "-e",
        "-t",
        "10.0.0.2:80",
        "-r",
        "10.1.0.3:80",
        "-g",
        "-w",
        &weight,
    ]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn keep_weights_leaves_the_kernels_weights() {
    let (ns, mut h) = base_table();
    checker_sets_weight(&ns, 100);
    let mut model = base_model();
    model.services[1].dests[0].dest.weight = 200;
    let keep = keeping_weights();
    assert_eq!(diff(&model, &KernelTable::read(&mut h).unwrap(), &keep), []);
    converge(&mut h, &model, &DiffOptions::default());
    assert!(ns.ipvsadm(&["-Sn"]).contains("-r 10.1.0.3:80 -g -w 200"));
}

/// Under keep-weights, an update of a destination's other settings carries the weight:
/// a checker's weight set after the table was read must not be turned back by it.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn keep_weights_updates_carry_the_weight_the_kernel_has_at_the_write() {
    let (ns, mut h) = base_table();
    let mut model = base_model();
    model.services[1].dests[0].dest.upper_threshold = 100;
    let keep = keeping_weights();
    let mut changes = diff(&model, &KernelTable::read(&mut h).unwrap(), &keep);
    assert_eq!(changes.len(), 1, "{changes:?}");
    // The checker finds 10.1.0.3 down after the read.
    checker_sets_weight(&ns, 0);
    let carried = |changes: &[Change]| match &changes[0] {
        Change::UpdateDest { from, to, .. } => (from.weight, to.weight),
        other => panic!("{other}"),
    };
    assert_eq!(carried(&changes), (3, 3), "the weight read with the table");
    take_current_weights(&mut h, &mut changes).unwrap();
    assert_eq!(carried(&changes), (0, 0), "the weight the kernel has now");
    let report = apply(&mut h, changes, &Action::ALL).unwrap();
    assert!(report.succeeded());
    let dests = h.dests(&tcp("10.0.0.2")).unwrap();
    assert_eq!(
        (dests[0].dest.weight, dests[0].dest.upper_threshold),
        (0, 100)
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn maintenance_keeps_weight_zero_and_drained_servers_go() {
    let (ns, mut h) = base_table();
    let mut model = base_model();
    model.services[0].dests[0].state = DestState::Maintenance;
    model.services[0].dests[1].state = DestState::Draining; // no connections: removed now
    converge(&mut h, &model, &DiffOptions::default());
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 0",
            "-A -t 10.0.0.2:80 -s wlc",
            "-a -t 10.0.0.2:80 -r 10.1.0.3:80 -g -w 3",
        ],
    );
    assert_eq!(pending(&mut h, &model), []);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_changeset_with_a_disallowed_action_changes_nothing() {
    let ns = Netns::new();
    let mut h = ns.handle();
    ns.ipvsadm(&["-A", "-t", "10.0.0.9:80", "-s", "rr"]);
    let changes = diff(
        &base_model(),
        &KernelTable::read(&mut h).unwrap(),
        &DiffOptions::default(),
    );
    let without_deletes: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::DelService)
        .collect();
    let refused = apply(&mut h, changes, &without_deletes).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("delete service tcp://10.0.0.9:80 (ds)"),
        "{refused}"
    );
    assert_saved(&ns, &["-A -t 10.0.0.9:80 -s rr"]);
}

/// A changeset with every kind of change; a step that the kernel refuses (a multicast
/// destination: EINVAL) is put at each position in turn, and each time the table, the
/// timeouts and the daemons must end exactly as they began.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_failure_at_any_step_rolls_everything_back() {
    let (ns, mut h) = netns_with_sync_interface();
    h.start_daemon(&Daemon::new(DaemonRole::Backup, SYNC_IFNAME, 3))
        .unwrap();
    converge(&mut h, &base_model(), &DiffOptions::default());
    ns.ipvsadm(&["-A", "-t", "10.0.0.3:80", "-s", "rr"]);
    ns.ipvsadm(&["-a", "-t", "10.0.0.3:80", "-r", "10.1.0.9:80", "-g"]);
    let mut model = base_model();
    model.services[0].service.scheduler = "wrr".into(); // us
    model.services[0].dests.remove(0); // dd
    model.services[0].dests[0].dest.weight = 9; // ud
    model.services[1]
        .dests
        .push(dest("10.1.0.4", 4, DestState::Active)); // ad
    model.services.push(service(
        "10.0.0.4",
        "sh",
        vec![dest("10.1.0.5", 5, DestState::Active)],
    )); // as, ad
    model.timeouts = Some(Timeouts {
        tcp: 600,
        ..Default::default()
    }); // ut
    model.daemons = Some(vec![Daemon::new(DaemonRole::Master, SYNC_IFNAME, 5)]); // ay, dy
    let changes = pending(&mut h, &model);
    let kinds: Vec<Action> = changes.iter().map(Change::action).collect();
    for action in Action::ALL {
        assert!(kinds.contains(&action), "{action:?} missing from {kinds:?}"); // ds: 10.0.0.3
    }
    assert_eq!(kinds.len(), 10, "{changes:?}");
    let before = snapshot(&mut h);
    let poison = Change::AddDest {
        service: Arc::new(Service::new(tcp("10.0.0.1"), "wrr")),
        dest: Destination::new(ip("224.0.0.1"), 80, Forward::Route),
    };
    for position in 0..=changes.len() {
        let mut attempt = changes.clone();
        attempt.insert(position, poison.clone());
        let report = apply(&mut h, attempt, &Action::ALL).unwrap();
        assert!(report.rolled_back, "position {position}");
        assert!(
            report.rollback_failures.is_empty(),
            "position {position}: {:?}",
            report.rollback_failures
        );
        assert_eq!(report.changes[position], poison, "position {position}");
        assert_eq!(
            report.outcomes[position].as_ref().unwrap_err().errno(),
            libc::EINVAL,
            "position {position}"
        );
        assert_eq!(snapshot(&mut h), before, "position {position}");
    }
    // And without the poison, the whole changeset applies.
    assert!(apply(&mut h, changes, &Action::ALL).unwrap().succeeded());
    assert_eq!(pending(&mut h, &model), []);
    assert_eq!(
        ns.ipvsadm(&["-L", "--timeout"]),
        "Timeout (tcp tcpfin udp): 600 120 300\n"
    );
    let daemons = ns.ipvsadm(&["-L", "--daemon"]);
    assert!(
        daemons.starts_with("master sync daemon (mcast=sync0, syncid=5,")
            && daemons.lines().count() == 1,
        "{daemons}"
    );
}

/// Timeouts the model sets change and the others stay; daemons start, restart with new
/// settings and stop as the model says, and a model without `daemons` leaves them alone.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn timeouts_and_daemons_follow_the_model() {
    let (ns, mut h) = netns_with_sync_interface();
    let mut model = DesiredTable {
        timeouts: Some(Timeouts {
            tcp: 700,
            tcp_fin: 0,
            udp: 50,
        }),
        daemons: Some(vec![Daemon::new(DaemonRole::Master, SYNC_IFNAME, 1)]),
        ..Default::default()
    };
    let changes = converge(&mut h, &model, &DiffOptions::default());
    let actions: Vec<Action> = changes.iter().map(Change::action).collect();
    assert_eq!(actions, [Action::UpdateTimeouts, Action::StartDaemon]);
    assert_eq!(
        changes[0].to_string(),
        "update timeouts (tcp 900 -> 700, udp 300 -> 50)"
    );
    assert_eq!(
        ns.ipvsadm(&["-L", "--timeout"]),
        "Timeout (tcp tcpfin udp): 700 120 50\n"
    );
    assert_eq!(pending(&mut h, &model), []);

    // A new sync id: the kernel cannot change a running daemon, so stop and start.
    let mut backup = Daemon::new(DaemonRole::Backup, SYNC_IFNAME, 9);
    backup.mcast_port = 9009;
    model.daemons = Some(vec![
        Daemon::new(DaemonRole::Master, SYNC_IFNAME, 2),
        backup,
    ]);
    let changes = converge(&mut h, &model, &DiffOptions::default());
    let texts: Vec<String> = changes.iter().map(Change::to_string).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].starts_with("stop master sync daemon on sync0 (syncid 1, maxlen 1472, group 224.0.0.81, port 8848, ttl 1)"), "{texts:?}");
    assert_eq!(texts[1], "start master sync daemon on sync0 (syncid 2)");
    assert_eq!(
        texts[2],
        "start backup sync daemon on sync0 (syncid 9, port 9009)"
    );
    let listed = ns.ipvsadm(&["-L", "--daemon"]);
    assert!(
        listed.contains("master sync daemon (mcast=sync0, syncid=2,"),
        "{listed}"
    );
    assert!(
        listed.contains("backup sync daemon (mcast=sync0, syncid=9,")
            && listed.contains("port=9009"),
        "{listed}"
    );
    assert_eq!(pending(&mut h, &model), []);

    // No `daemons` section: they stay. An empty one: they go.
    model.daemons = None;
    assert_eq!(pending(&mut h, &model), []);
    model.daemons = Some(Vec::new());
    let changes = converge(&mut h, &model, &DiffOptions::default());
    assert_eq!(
        changes.iter().map(Change::action).collect::<Vec<_>>(),
        [Action::StopDaemon; 2]
    );
    assert_eq!(ns.ipvsadm(&["-L", "--daemon"]), "");
    assert_eq!(
        h.timeouts().unwrap(),
        Timeouts {
            tcp: 700,
            tcp_fin: 120,
            udp: 50
        }
    );
}

/// 10,000 services x 10 destinations: against an empty table the changeset has one write
/// per object, against the same table none. Wall times are printed, never asserted.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_large_model_against_an_empty_and_an_identical_table() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let services = (0..10_000u32)
        .map(|i| {
            let [_, _, hi, lo] = i.to_be_bytes();
            let dests = (1..=10)
                .map(|d| dest(&format!("10.2.{d}.1"), d, DestState::Active))
                .collect();
            service(&format!("10.3.{hi}.{lo}"), "wrr", dests)
        })
        .collect();
    let model = DesiredTable {
        services,
        ..Default::default()
    };
    let options = DiffOptions::default();
    for (table, expected_writes) in [("empty", 110_000), ("identical", 0)] {
        let start = std::time::Instant::now();
        let current = KernelTable::read(&mut h).unwrap();
        let read = start.elapsed();
        let changes = diff(&model, &current, &options);
        let diffed = start.elapsed();
        assert_eq!(changes.len(), expected_writes, "against the {table} table");
        let report = apply(&mut h, changes, &Action::ALL).unwrap();
        assert!(report.succeeded());
        eprintln!(
            "10k x 10 model against the {table} table: {expected_writes} kernel writes; \
             read {read:?}, diff {:?}, apply {:?}",
            diffed - read,
            start.elapsed() - diffed
        );
    }
}

/// Changesets whose rollback meets objects that were changed behind its back: here by the
/// changeset itself (a service deleted after one of its destinations was added or
/// deleted), as another writer could between the apply and its rollback.
mod rollback_meets_a_changed_table {
    use super::*;
    use ipvsrs::desired::ConvergeError;

    /// A change that fails: a destination with a multicast address (EINVAL).
    fn poison() -> Change {
        Change::AddDest {
            service: Arc::new(Service::new(tcp("10.0.0.9"), "rr")),
            dest: Destination::new(ip("224.0.0.1"), 80, Forward::Route),
        }
    }

    fn weighted(addr: &str, weight: i32) -> Destination {
        dest(addr, weight, DestState::Active).dest
    }

    /// A namespace with tcp://10.0.0.1:80 (wrr) holding `dests`, and the service the
    /// poison names; a handle on it; that service.
    fn table_with(dests: &[Destination]) -> (Netns, Handle, Arc<Service>) {
        let ns = Netns::new();
        let mut h = ns.handle();
        let service = Arc::new(Service::new(tcp("10.0.0.1"), "wrr"));
        h.add_service(&service).unwrap();
        for d in dests {
            h.add_dest(&service.key, d).unwrap();
        }
        ns.ipvsadm(&["-A", "-t", "10.0.0.9:80"]);
        (ns, h, service)
    }

    /// Applies `changes` (the last one fails) and checks that the rollback undid all.
    fn assert_rolled_back_whole(h: &mut Handle, changes: Vec<Change>) {
        let before = snapshot(h);
        let report = apply(h, changes, &Action::ALL).unwrap();
        assert!(report.rolled_back);
        assert!(
            report.rollback_failures.is_empty(),
            "{:?}",
            report.rollback_failures
        );
        assert_eq!(snapshot(h), before);
        let error = ConvergeError::of_failed_apply(report);
        assert!(matches!(error, ConvergeError::ApplyFailed(_)), "{error:?}");
    }

    #[test]
    #[ignore = "needs an IPVS kernel: make test-kernel"]
    fn an_undo_whose_object_is_gone_already_counts_as_done() {
        let kept = weighted("10.1.0.2", 2);
        let (_ns, mut h, s) = table_with(std::slice::from_ref(&kept));
        let changes = vec![
            Change::AddDest {
                service: s.clone(),
                dest: weighted("10.1.0.1", 1),
            },
            // Deletes the destination just added too; its undo re-adds only `kept`, so
            // the added one's undo finds it gone.
            Change::DelService {
                service: s.clone(),
                dests: vec![kept],
            },
            poison(),
        ];
        assert_rolled_back_whole(&mut h, changes);
    }

    #[test]
    #[ignore = "needs an IPVS kernel: make test-kernel"]
    fn an_undo_whose_object_is_back_already_writes_its_settings() {
        let (d, e) = (weighted("10.1.0.1", 5), weighted("10.1.0.2", 2));
        let (_ns, mut h, s) = table_with(&[d.clone(), e.clone()]);
        let changes = vec![
            Change::DelDest {
                service: s.clone(),
                dest: d,
            },
            // Its undo re-adds `d`, at weight 7, before `d`'s own undo re-adds it at 5.
            Change::DelService {
                service: s.clone(),
                dests: vec![weighted("10.1.0.1", 7), e],
            },
            poison(),
        ];
        assert_rolled_back_whole(&mut h, changes);
    }

    #[test]
    #[ignore = "needs an IPVS kernel: make test-kernel"]
    fn an_undo_that_fails_names_the_change_left_made() {
        let d = weighted("10.1.0.1", 5);
        let (_ns, mut h, s) = table_with(std::slice::from_ref(&d));
        let changes = vec![
            Change::UpdateDest {
                service: s.clone(),
                from: d,
                to: weighted("10.1.0.1", 9),
            },
            // Its undo re-adds the service without `d`: the weight cannot be put back.
            Change::DelService {
                service: s.clone(),
                dests: vec![],
            },
            poison(),
        ];
        let updated = changes[0].to_string();
        let report = apply(&mut h, changes, &Action::ALL).unwrap();
        assert!(report.rolled_back);
        let left: Vec<usize> = report.rollback_failures.iter().map(|f| f.change).collect();
        assert_eq!(left, [0]);
        assert_eq!(report.rollback_failures[0].error.errno(), libc::ENOENT);
        let error = ConvergeError::of_failed_apply(report);
        assert!(
            matches!(error, ConvergeError::RollbackIncomplete(_)),
            "{error:?}"
        );
        assert_eq!(error.errno(), libc::ENOTRECOVERABLE);
        let message = error.to_string();
        assert!(
            message.contains(&format!("\nleft changed: {updated} (undoing it failed: ")),
            "{message}"
        );
    }
}

/// The two faults an outside review reproduced with the CLI: a model service outside
/// `--scope` was updated, and `--keep-weights` kept a server in maintenance at its weight.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn scope_and_keep_weights_keep_their_promises_through_the_cli() {
    let ns = Netns::new();
    ns.ipvsadm_each(&[
        "-A -t 192.168.0.1:80 -s rr",
        "-a -t 192.168.0.1:80 -r 10.1.0.1:80 -m -w 1",
        "-a -t 192.168.0.1:80 -r 10.1.0.2:80 -m -w 1",
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.2.0.1:80 -m -w 5",
    ]);
    let before = ns.saved();
    let foreign = "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      \
                   - { address: 10.2.0.1:80, forward: nat, weight: 5 }\n  \
                   - address: tcp://192.168.0.1:80\n    sched: wlc\n    destinations:\n      \
                   - { address: 10.1.0.1:80, forward: nat }\n";
    let path = ns.model_file("foreign", foreign);
    let path = path.to_str().unwrap();
    for command in ["diff", "apply"] {
        let out = ns.ipvsrs(&[command, "-f", path, "--scope", "10.0.0.0/24"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        assert!(out.stdout.is_empty(), "{command}");
        assert!(
            stderr.contains("line 5, column 14: service tcp://192.168.0.1:80 is outside the scope"),
            "{command}: {stderr}"
        );
    }
    assert_eq!(ns.saved(), before);

    let maintenance = "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      \
                       - { address: 10.2.0.1:80, forward: nat, weight: 5, state: maintenance }\n";
    let path = ns.model_file("maintenance", maintenance);
    let path = path.to_str().unwrap();
    let scoped = ["--scope", "10.0.0.0/24", "--keep-weights"];
    let diff = ns.ipvsrs_exits(&[&["diff", "-f", path][..], &scoped].concat(), 0);
    assert_eq!(
        diff,
        "update destination 10.2.0.1:80 of tcp://10.0.0.1:80 (weight 5 -> 0)\n"
    );
    ns.ipvsrs_exits(&[&["apply", "-f", path][..], &scoped].concat(), 0);
    let dests = ns.handle().dests(&tcp("10.0.0.1")).unwrap();
    let weights: Vec<i32> = dests.iter().map(|d| d.dest.weight).collect();
    assert_eq!(weights, [0]);
}

/// The longest timeouts a model accepts are kept by the kernel as written: an apply of
/// them leaves nothing to change (a wrapped or refused value would be planned again, or
/// fail the apply).
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn the_longest_timeouts_a_model_accepts_are_kept_as_written() {
    let ns = Netns::new();
    let model = "timeouts: { tcp: 2147483, tcpfin: 2147483, udp: 2147483 }\n\
                 services:\n  - address: tcp://10.0.0.1:80\n    \
                 persistence: { timeout: 2678400 }\n";
    ns.apply_model("longest", model);
    assert_eq!(ns.diff_of("longest", model, "summary"), "no changes\n");
    let saved = ns.saved();
    assert!(
        saved.contains("-A -t 10.0.0.1:80 -s rr -p 2678400"),
        "{saved}"
    );
    let timeouts = ns.ipvsadm(&["-L", "--timeout"]);
    assert!(
        timeouts.contains("Timeout (tcp tcpfin udp): 2147483 2147483 2147483"),
        "{timeouts}"
    );
}
