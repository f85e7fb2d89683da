//! The pure diff on the host: its order, scope, kept weights, maintenance and draining,
//! timeouts and daemons. Both tables are written as models; the kernel's is the table an
//! apply of its model to an empty kernel leaves (`kernel_of`).

use ipvsrs::desired::yaml::{parse, NoParams};
use ipvsrs::desired::{diff, Action, Change, DesiredTable, DestState, DiffOptions, KernelTable};
use ipvsrs::model::{DestEntry, Timeouts};

fn model(text: &str) -> DesiredTable {
    parse(text, &NoParams).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

/// What the kernel holds after applying `text` to an empty table, with the kernel's
/// default timeouts where the model has none.
fn kernel_of(text: &str) -> KernelTable {
    let desired = model(text);
    let services = desired
        .services
        .iter()
        .map(|s| {
            let dests = (s.dests.iter())
                .filter(|d| d.state != DestState::Draining)
                .map(|d| {
                    let mut dest = d.dest.clone();
                    if d.state != DestState::Active {
                        dest.weight = 0;
                    }
                    DestEntry {
                        dest,
                        active_conns: 0,
                        inactive_conns: 0,
                        persistent_conns: 0,
                        stats: Default::default(),
                    }
                })
                .collect();
            (s.service.clone(), dests)
        })
        .collect();
    KernelTable {
        services,
        timeouts: desired.timeouts.unwrap_or(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        }),
        daemons: desired.daemons.unwrap_or_default(),
    }
}

fn lines(changes: &[Change]) -> Vec<String> {
    changes.iter().map(|c| c.to_string()).collect()
}

fn changes(desired: &str, kernel: &KernelTable, options: &DiffOptions) -> Vec<String> {
    lines(&diff(&model(desired), kernel, options))
}

const TWO_SERVICES: &str = "
services:
  - address: tcp://10.0.0.1:80
    sched: wrr
    destinations:
      - { address: 10.1.0.1:80, forward: nat, weight: 5 }
      - { address: 10.1.0.2:80, forward: nat, weight: 5 }
  - address: udp://10.0.0.2:53
    destinations:
      - { address: 10.1.0.3:53, forward: direct }
";

#[test]
fn a_model_diffed_against_its_own_table_changes_nothing() {
    let kernel = kernel_of(TWO_SERVICES);
    assert_eq!(
        changes(TWO_SERVICES, &kernel, &DiffOptions::default()),
        Vec::<String>::new()
    );
}

#[test]
fn deletions_come_first_then_each_service_of_the_model_in_its_order() {
    let kernel = kernel_of(TWO_SERVICES);
    // udp://10.0.0.2:53 is gone; a new service comes before the changed one.
    let desired = "
services:
  - address: tcp://10.0.0.9:443
    sched: rr
    destinations:
      - { address: 10.1.0.7:443, forward: nat }
      - { address: 10.1.0.8:443, forward: nat, weight: 3 }
  - address: tcp://10.0.0.1:80
    sched: wlc
    destinations:
      - { address: 10.1.0.2:80, forward: nat, weight: 9 }
      - { address: 10.1.0.4:80, forward: nat, weight: 5 }
";
    assert_eq!(
        changes(desired, &kernel, &DiffOptions::default()),
        [
            "delete service udp://10.0.0.2:53 and its destination",
            "add service tcp://10.0.0.9:443 (rr)",
            "add destination 10.1.0.7:443 to tcp://10.0.0.9:443 (weight 1)",
            "add destination 10.1.0.8:443 to tcp://10.0.0.9:443 (weight 3)",
            "update service tcp://10.0.0.1:80 (scheduler wrr -> wlc)",
            "delete destination 10.1.0.1:80 from tcp://10.0.0.1:80",
            "update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (weight 5 -> 9)",
            "add destination 10.1.0.4:80 to tcp://10.0.0.1:80 (weight 5)",
        ]
    );
}

#[test]
fn a_scope_leaves_the_services_outside_it_alone() {
    let kernel = kernel_of(
        "
services:
  - address: tcp://10.0.0.1:80
  - address: tcp://10.0.0.2:80
  - address: tcp://192.168.0.1:80
  - address: fwmark:7
",
    );
    let empty = "services: []\n";
    let scoped = |rules: &[&str]| DiffOptions {
        scope: rules.iter().map(|r| r.parse().unwrap()).collect(),
        ..Default::default()
    };
    assert_eq!(
        changes(empty, &kernel, &scoped(&["10.0.0.0/24"])),
        [
            "delete service tcp://10.0.0.1:80",
            "delete service tcp://10.0.0.2:80"
        ]
    );
    assert_eq!(
        changes(
            empty,
            &kernel,
            &scoped(&["tcp://10.0.0.2:80", "fwmark:1-10"])
        ),
        [
            "delete service tcp://10.0.0.2:80",
            "delete service fwmark:7"
        ]
    );
    assert_eq!(changes(empty, &kernel, &DiffOptions::default()).len(), 4);
}

#[test]
fn kept_weights_are_the_kernels_while_other_settings_still_change() {
    let kernel = kernel_of(TWO_SERVICES);
    let keep = DiffOptions {
        keep_weights: true,
        ..Default::default()
    };
    let reweighted = TWO_SERVICES.replace("weight: 5 }", "weight: 1 }");
    assert_eq!(changes(&reweighted, &kernel, &keep), Vec::<String>::new());
    assert_eq!(
        changes(&reweighted, &kernel, &DiffOptions::default()),
        [
            "update destination 10.1.0.1:80 of tcp://10.0.0.1:80 (weight 5 -> 1)",
            "update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (weight 5 -> 1)",
        ]
    );
    let rethresholded = reweighted.replacen(
        "weight: 1 }",
        "weight: 1, thresholds: { upper: 100, lower: 10 } }",
        1,
    );
    assert_eq!(
        changes(&rethresholded, &kernel, &keep),
        ["update destination 10.1.0.1:80 of tcp://10.0.0.1:80 \
          (upper threshold 0 -> 100, lower threshold 0 -> 10)"]
    );
}

#[test]
fn maintenance_is_weight_zero_and_draining_deletes_once_idle() {
    let kernel = kernel_of(TWO_SERVICES);
    let states = |first: &str, second: &str| {
        TWO_SERVICES
            .replacen("weight: 5 }", &format!("weight: 5, state: {first} }}"), 1)
            .replacen("weight: 5 }", &format!("weight: 5, state: {second} }}"), 1)
    };
    assert_eq!(
        changes(
            &states("maintenance", "active"),
            &kernel,
            &DiffOptions::default()
        ),
        ["update destination 10.1.0.1:80 of tcp://10.0.0.1:80 (weight 5 -> 0)"]
    );
    // Idle: deleted. With connections: kept at weight 0 until a later diff finds it idle.
    assert_eq!(
        changes(
            &states("active", "draining"),
            &kernel,
            &DiffOptions::default()
        ),
        ["delete destination 10.1.0.2:80 from tcp://10.0.0.1:80"]
    );
    let mut busy = kernel_of(TWO_SERVICES);
    busy.services[0].1[1].active_conns = 3;
    assert_eq!(
        changes(
            &states("active", "draining"),
            &busy,
            &DiffOptions::default()
        ),
        ["update destination 10.1.0.2:80 of tcp://10.0.0.1:80 (weight 5 -> 0)"]
    );
    busy.services[0].1[1].active_conns = 0;
    busy.services[0].1[1].inactive_conns = 1;
    assert_eq!(
        changes(
            &states("active", "draining"),
            &busy,
            &DiffOptions::default()
        )
        .len(),
        1,
        "an inactive connection keeps a draining destination"
    );
    // A new service: maintenance added at weight 0, draining not added at all.
    let added = changes(
        &states("maintenance", "draining"),
        &kernel_of("services: []\n"),
        &DiffOptions::default(),
    );
    assert_eq!(
        added[..3],
        [
            "add service tcp://10.0.0.1:80 (wrr)",
            "add destination 10.1.0.1:80 to tcp://10.0.0.1:80 (weight 0)",
            "add service udp://10.0.0.2:53 (rr)",
        ]
    );
}

#[test]
fn timeouts_change_only_where_the_model_sets_them() {
    let kernel = kernel_of(TWO_SERVICES);
    let with = |timeouts: &str| format!("timeouts: {timeouts}\n{TWO_SERVICES}");
    assert_eq!(
        changes(
            &with("{ tcp: 60, udp: 0 }"),
            &kernel,
            &DiffOptions::default()
        ),
        ["update timeouts (tcp 900 -> 60)"]
    );
    assert_eq!(
        changes(
            &with("{ tcp: 900, tcpfin: 120 }"),
            &kernel,
            &DiffOptions::default()
        ),
        Vec::<String>::new()
    );
    let diffed = diff(
        &model(&with("{ udp: 30 }")),
        &kernel,
        &DiffOptions::default(),
    );
    let Change::UpdateTimeouts { from, to } = &diffed[0] else {
        panic!("{diffed:?}");
    };
    assert_eq!((from.udp, to.udp, to.tcp, to.tcp_fin), (300, 30, 900, 120));
}

#[test]
fn a_daemon_with_other_settings_is_stopped_and_started_and_an_unsaid_one_stays() {
    let master = |syncid: u32| {
        format!(
            "daemons:\n  - {{ role: master, interface: eth0, syncid: {syncid} }}\n{TWO_SERVICES}"
        )
    };
    let kernel = kernel_of(&master(1));
    assert_eq!(
        changes(&master(1), &kernel, &DiffOptions::default()),
        Vec::<String>::new()
    );
    let restarted = diff(&model(&master(2)), &kernel, &DiffOptions::default());
    let actions: Vec<Action> = restarted.iter().map(Change::action).collect();
    assert_eq!(actions, [Action::StopDaemon, Action::StartDaemon]);
    let (Change::StopDaemon(stopped), Change::StartDaemon(started)) =
        (&restarted[0], &restarted[1])
    else {
        panic!("{restarted:?}");
    };
    assert_eq!((stopped.sync_id, started.sync_id), (1, 2));
    // No daemons section: the running daemon is not the model's business.
    assert_eq!(
        changes(TWO_SERVICES, &kernel, &DiffOptions::default()),
        Vec::<String>::new()
    );
    let none = format!("daemons: []\n{TWO_SERVICES}");
    let stopped = diff(&model(&none), &kernel, &DiffOptions::default());
    assert_eq!(
        stopped.iter().map(Change::action).collect::<Vec<_>>(),
        [Action::StopDaemon]
    );
}

/// Keep-weights is for running beside a health checker: it owns the weights of active
/// servers, but a server put into maintenance or draining must still stop taking new
/// connections.
#[test]
fn kept_weights_still_put_maintenance_and_draining_at_zero() {
    let kernel = kernel_of(TWO_SERVICES);
    let keep = DiffOptions {
        keep_weights: true,
        ..Default::default()
    };
    let state = |state: &str| {
        TWO_SERVICES.replacen("weight: 5 }", &format!("weight: 5, state: {state} }}"), 1)
    };
    let to_zero = ["update destination 10.1.0.1:80 of tcp://10.0.0.1:80 (weight 5 -> 0)"];
    assert_eq!(changes(&state("maintenance"), &kernel, &keep), to_zero);
    // Draining with connections: weight 0, kept until idle.
    let mut busy = kernel.clone();
    busy.services[0].1[0].active_conns = 3;
    assert_eq!(changes(&state("draining"), &busy, &keep), to_zero);
    assert_eq!(
        changes(&state("active"), &kernel, &keep),
        Vec::<String>::new()
    );
}

/// A model that names a service outside its scope is invalid, at that service's address:
/// with a scope, a model never changes another's service.
#[test]
fn a_service_outside_the_scope_is_an_error_at_its_address() {
    use ipvsrs::desired::yaml::parse_in_scope;
    use ipvsrs::desired::ScopeRule;
    let text = "services:\n  - address: tcp://192.168.0.1:80\n    sched: wlc\n  \
                - address: tcp://10.0.0.1:80\n";
    let scope: Vec<ScopeRule> = ScopeRule::parse_list("10.0.0.0/24").unwrap();
    let errors = parse_in_scope(text, &NoParams, &scope).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let error = &errors.0[0];
    assert_eq!((error.line, error.column), (2, 14));
    assert!(
        error
            .message
            .starts_with("service tcp://192.168.0.1:80 is outside the scope"),
        "{error}"
    );
    assert!(parse_in_scope(text, &NoParams, &[]).is_ok());
    let inside = ScopeRule::parse_list("10.0.0.0/24,tcp://192.168.0.1:80").unwrap();
    assert!(parse_in_scope(text, &NoParams, &inside).is_ok());
}
