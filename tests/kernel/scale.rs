//! Large tables and busy kernels: 10,000 services with 10 destinations each, built in one
//! batch and read back whole (the times are printed for information: run with
//! --nocapture), and dumps while another namespace keeps changing.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ipvsrs::desired::KernelTable;
use ipvsrs::model::{Destination, Forward, Service, ServiceKey};
use ipvsrs::wire::Request;

use crate::support::{keys_of, sorted_keys, Netns};

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
    // A dump can skip services while other namespaces change theirs (tests run in
    // parallel); KernelTable::read dumps until one finds nothing new.
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
        "{} requests: batch {build:.2?}, dump {dump:.2?} (services at least twice, then \
         destinations of each), ipvsadm -Sn {ipvsadm:.2?} (at least twice)",
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
