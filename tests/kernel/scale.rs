//! Large tables and busy kernels: 10,000 services with 10 destinations each, built in one
//! batch and read back whole (the times are printed for information: run with
//! --nocapture), and listings through every path while other namespaces keep changing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ipvsrs::desired::KernelTable;
use ipvsrs::model::{Destination, Forward, Service, ServiceKey};
use ipvsrs::wire::Request;

use crate::support::{c_binary, keys_of, run, sorted_keys, Netns};

/// Held by the tests of this file while they run: those that churn other namespaces
/// would make the 10,000-service test's `ipvsadm -Sn` (which trusts one dump) inexact
/// for as long as they churn.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const SERVICES: u16 = 10_000;
const DESTS_PER_SERVICE: u8 = 10;
fn service_key(i: u16) -> ServiceKey {
    let [hi, lo] = i.to_be_bytes();
    ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(10, 1, hi, lo)), 80)
}

/// Destination `k` of service `i`: 10.(2+k).hi.lo:(8000+k) with weight k+1, `i` = hi*256+lo.
fn dest(i: u16, k: u8) -> Destination {
    let [hi, lo] = i.to_be_bytes();
    let addr = IpAddr::V4(Ipv4Addr::new(10, 2 + k, hi, lo));
    let mut d = Destination::new(addr, 8000 + u16::from(k), Forward::Masq);
    d.weight = i32::from(k) + 1;
    d
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn ten_thousand_services_with_ten_destinations_each() {
    let _alone = one_at_a_time();
    let ns = Netns::new();
    let mut h = ns.handle();
    let services: Vec<Service> = (0..SERVICES)
        .map(|i| Service::new(service_key(i), "wrr"))
        .collect();
    let dests: Vec<Vec<Destination>> = (0..SERVICES)
        .map(|i| (0..DESTS_PER_SERVICE).map(|k| dest(i, k)).collect())
        .collect();
    let mut requests = Vec::new();
    for (service, its_dests) in services.iter().zip(&dests) {
        requests.push(Request::NewService(service));
        requests.extend(its_dests.iter().map(|d| Request::NewDest(&service.key, d)));
    }

    let start = Instant::now();
    let results = h.execute(&requests);
    let build = start.elapsed();
    assert_eq!(results.len(), requests.len());
    assert!(
        results.iter().all(|r| r.is_ok()),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );

    let start = Instant::now();
    let table = KernelTable::read(&mut h).unwrap();
    let listed = keys_of(table.services.iter().map(|(s, _)| s));
    let mut dests_by_key: std::collections::HashMap<ServiceKey, Vec<Destination>> = table
        .services
        .into_iter()
        .map(|(s, d)| (s.key, d.into_iter().map(|e| e.dest).collect()))
        .collect();
    let listed_dests: Vec<Vec<Destination>> = services
        .iter()
        .map(|s| dests_by_key.remove(&s.key).unwrap_or_default())
        .collect();
    let dump = start.elapsed();

    assert_eq!(listed, keys_of(&services));
    for (i, (got, added)) in listed_dests.iter().zip(&dests).enumerate() {
        // The kernel lists a service's destinations newest first.
        let newest_first: Vec<Destination> = added.iter().rev().cloned().collect();
        assert_eq!(got, &newest_first, "destinations of service {i}");
    }

    let start = Instant::now();
    let saved = ns.saved();
    let ipvsadm = start.elapsed();
    let lines = usize::from(SERVICES) * (1 + usize::from(DESTS_PER_SERVICE));
    assert_eq!(saved.lines().count(), lines);
    eprintln!(
        "{} requests: batch {build:.2?}, dump {dump:.2?} (services, then destinations of \
         each), ipvsadm -Sn {ipvsadm:.2?} (at least twice)",
        requests.len()
    );
}

/// Sets the flag when dropped, also when a panic unwinds.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Adds and deletes 100 services in `ns` over and over until `stop` is set.
fn churn(ns: &Netns, stop: &AtomicBool) {
    let mut h = ns.handle();
    let services: Vec<Service> = (0..100)
        .map(|i| Service::new(service_key(i * 97), "rr"))
        .collect();
    let adds: Vec<Request<'_>> = services.iter().map(Request::NewService).collect();
    let dels: Vec<Request<'_>> = services
        .iter()
        .map(|s| Request::DelService(&s.key))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        assert!(h.execute(&adds).iter().all(|r| r.is_ok()));
        assert!(h.execute(&dels).iter().all(|r| r.is_ok()));
    }
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_small_dump_is_exact_while_another_namespace_changes() {
    let _alone = one_at_a_time();
    let ns = Netns::new();
    let busy = Netns::new();
    let mut h = ns.handle();
    let ours: Vec<Service> = (0..5).map(|i| Service::new(service_key(i), "rr")).collect();
    for s in &ours {
        h.add_service(s).unwrap();
    }
    let expected = keys_of(&ours);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| churn(&busy, &stop));
        let _stop_churn = SetOnDrop(&stop);
        for _ in 0..300 {
            assert_eq!(sorted_keys(h.services().unwrap()), expected);
        }
    });
}

/// How many times each path lists the table in the churn test.
const LISTINGS: usize = 20;

/// Listings by Debian's ipvsadm in the churn test.
const IPVSADM_LISTINGS: usize = 5;

/// Services of the churn test.
const LISTED: u16 = 3_000;

/// Whether `keys` holds `expected` distinct entries and nothing else.
fn exactly<T: Ord>(mut keys: Vec<T>, expected: usize) -> bool {
    let count = keys.len();
    keys.sort();
    keys.dedup();
    count == expected && keys.len() == expected
}

/// Runs `f`, adding the time it took to `took[path]`.
fn timed(took: &mut BTreeMap<&'static str, Duration>, path: &'static str, f: impl FnOnce()) {
    let start = Instant::now();
    f();
    *took.entry(path).or_default() += start.elapsed();
}

/// The service lines of `ipvs-list` or `ipvsadm -Ln` (`TCP  10.1.0.1:80 rr`).
fn listed_services(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter(|line| line.starts_with("TCP "))
        .map(|line| {
            line.split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn every_listing_is_exact_while_two_other_namespaces_change() {
    let _alone = one_at_a_time();
    let ns = Netns::new();
    let mut h = ns.handle();
    let services: Vec<Service> = (0..LISTED)
        .map(|i| Service::new(service_key(i), "rr"))
        .collect();
    let adds: Vec<Request<'_>> = services.iter().map(Request::NewService).collect();
    assert!(h.execute(&adds).iter().all(|r| r.is_ok()));
    let expected = keys_of(&services);
    let count = usize::from(LISTED);
    // The count the listings check against is this namespace's alone.
    let busy = [Netns::new(), Netns::new()];
    assert_eq!(h.service_count(), Some(count));
    assert_eq!(busy[0].handle().service_count(), Some(0));
    let model: String = std::iter::once("services:\n".to_owned())
        .chain(
            services
                .iter()
                .map(|s| format!("  - address: {}\n    sched: rr\n", s.key)),
        )
        .collect();
    let model = ns.model_file("listed", &model);
    let model = model.to_str().unwrap();
    let python = format!(
        "import ipvsrs\nh = ipvsrs.Handle()\nfor _ in range({LISTINGS}):\n    keys = [s.key for s in h.services(dests=False)]\n    assert len(keys) == {count} == len(set(keys)), len(set(keys))\nprint('exact')\n"
    );

    let path = ns.path();
    let path = path.to_str().unwrap();
    let stop = AtomicBool::new(false);
    let mut ipvsadm_inexact = 0;
    let mut took = BTreeMap::new();
    std::thread::scope(|scope| {
        for other in &busy {
            let stop = &stop;
            scope.spawn(move || churn(other, stop));
        }
        let _stop_churn = SetOnDrop(&stop);
        for _ in 0..LISTINGS {
            timed(&mut took, "Handle::services", || {
                assert_eq!(
                    sorted_keys(h.services().unwrap()),
                    expected,
                    "Handle::services"
                );
            });
            timed(&mut took, "KernelTable::read", || {
                let table = KernelTable::read(&mut h).unwrap();
                let listed = keys_of(table.services.iter().map(|(s, _)| s));
                assert_eq!(listed, expected, "KernelTable");
            });
            timed(&mut took, "ipvs-list", || {
                let listing = run(Command::new(c_binary("ipvs-list")).args(["--netns", path]));
                assert!(
                    exactly(listed_services(&listing), count),
                    "ipvs-list:\n{listing}"
                );
            });
            timed(&mut took, "ipvs-metrics", || {
                let metrics = run(Command::new(c_binary("ipvs-metrics"))
                    .args(["--netns", path, "--format", "influx"]));
                let servers: Vec<&str> = metrics
                    .lines()
                    .filter(|l| l.starts_with("ipvs_virtual_server,"))
                    .map(|l| l.split(' ').next().unwrap())
                    .collect();
                assert!(exactly(servers, count), "ipvs-metrics:\n{metrics}");
            });
            timed(&mut took, "ipvsrs get", || {
                let got = run(&mut ns.ipvsrs_command(&["get"]));
                let table = ipvsrs::desired::yaml::parse(&got, &ipvsrs::desired::yaml::NoParams)
                    .unwrap_or_else(|e| panic!("ipvsrs get: {e}"));
                let listed = keys_of(table.services.iter().map(|s| &s.service));
                assert_eq!(listed, expected, "ipvsrs get");
            });
            timed(&mut took, "ipvsrs diff", || {
                let diff =
                    run(&mut ns.ipvsrs_command(&["diff", "-f", model, "--format", "summary"]));
                assert_eq!(diff.trim(), "no changes", "ipvsrs diff");
            });
        }
        // The same churn seen by one dump, for comparison (not asserted).
        for _ in 0..IPVSADM_LISTINGS {
            if !exactly(listed_services(&ns.ipvsadm(&["-Ln"])), count) {
                ipvsadm_inexact += 1;
            }
        }
        timed(
            &mut took,
            "ipvs_get_services and ipvsrs_services (C)",
            || {
                let c = run(ns
                    .exec(c_binary("listings").to_str().unwrap())
                    .args([&count.to_string(), &LISTINGS.to_string()]));
                assert!(
                    c.contains(&format!("{} passed, 0 failed", 2 * LISTINGS + 2)),
                    "{c}"
                );
            },
        );
        timed(&mut took, "Python Handle.services", || {
            let py = run(ns.python().args(["-c", &python]));
            assert_eq!(py.trim(), "exact");
        });
    });
    for (path, total) in &took {
        eprintln!("{path}: {LISTINGS} listings in {total:.2?}");
    }
    eprintln!(
        "ipvsadm -Ln (one dump) under the same churn: {ipvsadm_inexact} of {IPVSADM_LISTINGS} \
         listings inexact"
    );
}
