use ipvsrs::model::{Destination, Forward, Service, ServiceKey};
use ipvsrs::Handle;

use crate::support::{assert_saved, Netns};

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn open_reports_version_and_table_size() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let info = h.info().unwrap();
    assert_eq!(info.version, 0x010201);
    let header = ns.ipvsadm(&["-Ln"]);
    let expected = format!(
        "IP Virtual Server version 1.2.1 (size={})",
        info.conn_tab_size
    );
    assert!(header.starts_with(&expected), "{header}");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn handle_in_namespace_writes_only_there() {
    let ns = Netns::new();
    let other = Netns::new();
    let mut h = ns.handle();
    let key = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
    h.add_service(&Service::new(key, "rr")).unwrap();
    h.add_dest(
        &key,
        &Destination::new("10.0.0.2".parse().unwrap(), 80, Forward::Masq),
    )
    .unwrap();
    assert_saved(
        &ns,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1",
        ],
    );
    assert_saved(&other, &[] as &[&str]);
    assert!(Handle::open_in_netns(other.path())
        .unwrap()
        .services()
        .unwrap()
        .is_empty());
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn opening_in_a_namespace_leaves_the_calling_thread_where_it_was() {
    use std::os::unix::fs::MetadataExt;
    let here = || std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
    let ns = Netns::new();
    let before = here();
    let target = std::fs::metadata(ns.path()).unwrap().ino();
    assert_ne!(before, target);
    let mut h = Handle::open_in_netns(ns.path()).unwrap();
    h.add_service(&Service::new(
        ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80),
        "rr",
    ))
    .unwrap();
    assert_eq!(here(), before);
    // The handle's counting socket is in its namespace too.
    assert_eq!(h.service_count(), Some(1));
    assert_saved(&ns, &["-A -t 10.0.0.1:80 -s rr"]);
}
