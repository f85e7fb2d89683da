//! Error paths: each refused request reports the kernel's exact errno and says which
//! operation on which object failed.

use ipvsrs::model::{Destination, Forward, Service, ServiceKey, TunnelType};
use ipvsrs::wire::Request;
use ipvsrs::{Error, Handle};

use crate::support::{assert_fails, ip, keys_of, settled, sorted_keys, Netns};

fn vip() -> ServiceKey {
    ServiceKey::tcp(ip("10.0.0.1"), 80)
}

fn masq(addr: &str) -> Destination {
    Destination::new(ip(addr), 80, Forward::Masq)
}

/// A namespace whose table holds `vip()` with one destination, 10.0.1.1:80.
fn table_with_one_dest() -> (Netns, Handle) {
    let ns = Netns::new();
    let mut h = ns.handle();
    h.add_service(&Service::new(vip(), "rr")).unwrap();
    h.add_dest(&vip(), &masq("10.0.1.1")).unwrap();
    (ns, h)
}

/// Adding a destination to `vip()` fails with `errno`.
fn assert_dest_refused(h: &mut Handle, dest: &Destination, errno: i32) {
    let context = format!("adding destination {} to tcp://10.0.0.1:80", dest.key());
    assert_fails(h.add_dest(&vip(), dest), errno, &context);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn adding_an_existing_service_is_eexist() {
    let (_ns, mut h) = table_with_one_dest();
    let again = Service::new(vip(), "wlc");
    assert_fails(
        h.add_service(&again),
        libc::EEXIST,
        "adding service tcp://10.0.0.1:80",
    );
    assert_eq!(
        h.service(&vip()).unwrap().service.scheduler,
        "rr",
        "the original is kept"
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_missing_service_is_esrch() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let missing = ServiceKey::udp(ip("10.9.9.9"), 53);
    let name = "udp://10.9.9.9:53";
    assert_fails(
        h.del_service(&missing),
        libc::ESRCH,
        &format!("deleting service {name}"),
    );
    let update = Service::new(missing, "rr");
    assert_fails(
        h.update_service(&update),
        libc::ESRCH,
        &format!("updating service {name}"),
    );
    assert_fails(
        h.service(&missing),
        libc::ESRCH,
        &format!("getting service {name}"),
    );
    let context = format!("adding destination 10.0.1.1:80 to {name}");
    assert_fails(
        h.add_dest(&missing, &masq("10.0.1.1")),
        libc::ESRCH,
        &context,
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn destination_identity_errors() {
    let (_ns, mut h) = table_with_one_dest();
    assert_dest_refused(&mut h, &masq("10.0.1.1"), libc::EEXIST);
    let missing = masq("10.0.1.2");
    let context = "updating destination 10.0.1.2:80 of tcp://10.0.0.1:80";
    assert_fails(h.update_dest(&vip(), &missing), libc::ENOENT, context);
    let context = "deleting destination 10.0.1.2:80 of tcp://10.0.0.1:80";
    assert_fails(h.del_dest(&vip(), &missing.key()), libc::ENOENT, context);
    assert_eq!(h.dests(&vip()).unwrap().len(), 1);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn unknown_scheduler_and_persistence_engine_are_enoent() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let context = "adding service tcp://10.0.0.1:80";
    assert_fails(
        h.add_service(&Service::new(vip(), "nosuchsched")),
        libc::ENOENT,
        context,
    );
    let mut with_pe = Service::new(vip(), "rr");
    with_pe.pe_name = Some("nosuchpe".to_owned());
    assert_fails(h.add_service(&with_pe), libc::ENOENT, context);
    assert!(h.services().unwrap().is_empty());
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn service_settings_out_of_range_are_einval() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let v6 = ServiceKey::tcp(ip("2001:db8::1"), 80);
    for prefix in [0, 129] {
        let mut s = Service::new(v6, "rr");
        s.netmask = prefix;
        assert_fails(
            h.add_service(&s),
            libc::EINVAL,
            "adding service tcp://[2001:db8::1]:80",
        );
    }
    // The kernel's limit is 15 bytes plus the NUL.
    let long = Service::new(vip(), "sixteen-bytes-xx");
    assert_fails(
        h.add_service(&long),
        libc::EINVAL,
        "adding service tcp://10.0.0.1:80",
    );
    assert!(h.services().unwrap().is_empty());
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn destination_settings_out_of_range() {
    let (_ns, mut h) = table_with_one_dest();
    let mut negative = masq("10.0.1.2");
    negative.weight = -1;
    assert_dest_refused(&mut h, &negative, libc::ERANGE);

    let mut inverted = masq("10.0.1.2");
    inverted.upper_threshold = 10;
    inverted.lower_threshold = 20;
    assert_dest_refused(&mut h, &inverted, libc::ERANGE);

    let mut gue_without_port = Destination::new(ip("10.0.1.2"), 80, Forward::Tunnel);
    gue_without_port.tunnel.kind = TunnelType::Gue;
    assert_dest_refused(&mut h, &gue_without_port, libc::EINVAL);
    assert_eq!(h.dests(&vip()).unwrap().len(), 1, "nothing was added");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn unusable_destination_addresses_are_einval() {
    let (_ns, mut h) = table_with_one_dest();
    for not_unicast in ["224.0.0.1", "255.255.255.255"] {
        assert_dest_refused(&mut h, &masq(not_unicast), libc::EINVAL);
    }
    // An IPv6 server behind an IPv4 service is reachable by tunnelling only.
    assert_dest_refused(&mut h, &masq("2001:db8::2"), libc::EINVAL);
    assert_eq!(h.dests(&vip()).unwrap().len(), 1, "nothing was added");
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_nul_in_the_scheduler_name_is_refused_before_sending() {
    let ns = Netns::new();
    let mut h = ns.handle();
    // Sent as is, the kernel would read "rr" and accept it.
    let err = assert_fails(
        h.add_service(&Service::new(vip(), "rr\0wlc")),
        libc::EINVAL,
        "adding service tcp://10.0.0.1:80",
    );
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    assert!(h.services().unwrap().is_empty());
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_failed_request_in_a_batch_leaves_the_others_applied() {
    let ns = Netns::new();
    let mut h = ns.handle();
    let (a, b) = (vip(), ServiceKey::tcp(ip("10.0.0.2"), 80));
    let (svc_a, svc_b) = (Service::new(a, "rr"), Service::new(b, "rr"));
    let (dest_a, dest_b) = (masq("10.0.1.1"), masq("10.0.1.2"));
    let results = h.execute(&[
        Request::NewService(&svc_a),
        Request::NewDest(&a, &dest_a),
        Request::NewService(&svc_a),
        Request::NewService(&svc_b),
        Request::NewDest(&b, &dest_b),
    ]);
    assert_eq!(results.len(), 5);
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert!(r.is_ok(), "request {i}: {r:?}");
    }
    let third = results.into_iter().nth(2).unwrap();
    assert_fails(third, libc::EEXIST, "adding service tcp://10.0.0.1:80");
    assert_eq!(
        ns.saved(),
        "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n\
         -A -t 10.0.0.2:80 -s rr\n-a -t 10.0.0.2:80 -r 10.0.1.2:80 -m -w 1\n"
    );
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_batch_of_two_thousand_services_is_applied_whole() {
    const COUNT: u16 = 2000;
    let ns = Netns::new();
    let mut h = ns.handle();
    let services: Vec<Service> = (0..COUNT)
        .map(|port| Service::new(ServiceKey::tcp(ip("10.0.0.1"), 1000 + port), "rr"))
        .collect();
    let requests: Vec<Request<'_>> = services.iter().map(Request::NewService).collect();
    let results = h.execute(&requests);
    assert_eq!(results.len(), services.len());
    assert!(
        results.iter().all(|r| r.is_ok()),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let listed = sorted_keys(settled(|| h.services().unwrap()));
    assert_eq!(listed, keys_of(&services));
}
