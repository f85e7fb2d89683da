//! Connection-sync daemons: start, list and stop them in a namespace with a dummy
//! interface, cross-checked with `ipvsadm -L --daemon`.

use std::net::IpAddr;

use ipvsrs::model::{Daemon, DaemonRole, Destination, Forward, Service, ServiceKey};
use ipvsrs::Handle;

use crate::support::{assert_fails, netns_with_sync_interface, Netns, SYNC_IFNAME as IFNAME};

/// The kernel's defaults (`IP_VS_SYNC_GROUP`, `IP_VS_SYNC_PORT`, TTL 1).
const DEFAULT_GROUP: &str = "224.0.0.81";
const DEFAULT_PORT: u16 = 8848;
const DEFAULT_TTL: u8 = 1;
/// With no length given a master fills its messages up to 1500 bytes (a backup: up to the
/// interface's MTU, at least 1500) less the IP and UDP headers.
const DEFAULT_MAXLEN_V4: u16 = 1500 - 20 - 8;

fn group(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// What the kernel reports for a daemon started with only a role and a sync id.
fn with_defaults(role: DaemonRole, sync_id: u32) -> Daemon {
    Daemon {
        sync_maxlen: DEFAULT_MAXLEN_V4,
        mcast_group: group(DEFAULT_GROUP),
        mcast_port: DEFAULT_PORT,
        mcast_ttl: DEFAULT_TTL,
        ..Daemon::new(role, IFNAME, sync_id)
    }
}

/// A daemon with every setting given.
fn explicit(role: DaemonRole, sync_id: u32, mcast_group: &str) -> Daemon {
    Daemon {
        sync_maxlen: 1200,
        mcast_group: group(mcast_group),
        mcast_port: 9000 + sync_id as u16,
        mcast_ttl: 4,
        ..Daemon::new(role, IFNAME, sync_id)
    }
}

/// The line `ipvsadm -L --daemon` prints for `d`.
fn ipvsadm_line(d: &Daemon) -> String {
    format!(
        "{} sync daemon (mcast={}, syncid={}, maxlen={}, group={}, port={}, ttl={})\n",
        d.role,
        d.ifname,
        d.sync_id,
        d.sync_maxlen,
        d.mcast_group.unwrap(),
        d.mcast_port,
        d.mcast_ttl
    )
}

/// The running daemons are exactly `expected`, for us and for ipvsadm.
fn assert_daemons(ns: &Netns, h: &mut Handle, expected: &[Daemon]) {
    assert_eq!(h.daemons().unwrap(), expected);
    let lines: String = expected.iter().map(ipvsadm_line).collect();
    assert_eq!(ns.ipvsadm(&["-L", "--daemon"]), lines);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn master_with_defaults_reports_the_kernel_defaults() {
    let (ns, mut h) = netns_with_sync_interface();
    assert_daemons(&ns, &mut h, &[]);
    h.start_daemon(&Daemon::new(DaemonRole::Master, IFNAME, 7))
        .unwrap();
    assert_daemons(&ns, &mut h, &[with_defaults(DaemonRole::Master, 7)]);
    h.stop_daemon(DaemonRole::Master).unwrap();
    assert_daemons(&ns, &mut h, &[]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn master_and_backup_run_together_and_list_master_first() {
    let (ns, mut h) = netns_with_sync_interface();
    let backup = explicit(DaemonRole::Backup, 9, "239.1.2.3");
    let master = explicit(DaemonRole::Master, 8, "239.1.2.4");
    // Started backup first: the listing order is the kernel's, not the starting order.
    h.start_daemon(&backup).unwrap();
    h.start_daemon(&master).unwrap();
    assert_daemons(&ns, &mut h, &[master.clone(), backup.clone()]);
    h.stop_daemon(DaemonRole::Master).unwrap();
    assert_daemons(&ns, &mut h, &[backup]);
    h.stop_daemon(DaemonRole::Backup).unwrap();
    assert_daemons(&ns, &mut h, &[]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn daemons_with_an_ipv6_group() {
    let (ns, mut h) = netns_with_sync_interface();
    let master = explicit(DaemonRole::Master, 3, "ff02::81");
    let backup = explicit(DaemonRole::Backup, 3, "ff02::81");
    h.start_daemon(&master).unwrap();
    h.start_daemon(&backup).unwrap();
    assert_daemons(&ns, &mut h, &[master, backup]);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn a_daemon_started_by_ipvsadm_reads_back() {
    let (ns, mut h) = netns_with_sync_interface();
    ns.ipvsadm(&[
        "--start-daemon",
        "backup",
        "--mcast-interface",
        IFNAME,
        "--syncid",
        "5",
        "--sync-maxlen",
        "1200",
        "--mcast-group",
        "239.1.2.5",
        "--mcast-port",
        "9005",
        "--mcast-ttl",
        "4",
    ]);
    assert_eq!(
        h.daemons().unwrap(),
        [explicit(DaemonRole::Backup, 5, "239.1.2.5")]
    );
    // Not ipvsadm --stop-daemon: it waits forever if the thread has not run yet.
    h.stop_daemon(DaemonRole::Backup).unwrap();
    assert_eq!(h.daemons().unwrap(), []);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn daemon_errors() {
    let (_ns, mut h) = netns_with_sync_interface();
    let master = Daemon::new(DaemonRole::Master, IFNAME, 1);
    h.start_daemon(&master).unwrap();
    assert_fails(
        h.start_daemon(&master),
        libc::EEXIST,
        "starting master sync daemon on sync0",
    );
    h.stop_daemon(DaemonRole::Master).unwrap();
    assert_fails(
        h.stop_daemon(DaemonRole::Master),
        libc::ESRCH,
        "stopping master sync daemon",
    );
    assert_fails(
        h.stop_daemon(DaemonRole::Backup),
        libc::ESRCH,
        "stopping backup sync daemon",
    );
    let nowhere = Daemon::new(DaemonRole::Backup, "nosuch0", 1);
    assert_fails(
        h.start_daemon(&nowhere),
        libc::ENODEV,
        "starting backup sync daemon on nosuch0",
    );
    assert_eq!(h.daemons().unwrap(), []);
}

#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn sync_and_mixed_family_destinations_exclude_each_other() {
    let (_ns, mut h) = netns_with_sync_interface();
    let key = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
    h.add_service(&Service::new(key, "rr")).unwrap();
    // The sync protocol cannot carry an IPv6 server of an IPv4 service.
    let v6_server = Destination::new("2001:db8::2".parse().unwrap(), 80, Forward::Tunnel);
    let master = Daemon::new(DaemonRole::Master, IFNAME, 1);
    h.start_daemon(&master).unwrap();
    let context = "adding destination [2001:db8::2]:80 to tcp://10.0.0.1:80";
    assert_fails(h.add_dest(&key, &v6_server), libc::EINVAL, context);
    h.stop_daemon(DaemonRole::Master).unwrap();
    h.add_dest(&key, &v6_server).unwrap();
    assert_fails(
        h.start_daemon(&master),
        libc::EINVAL,
        "starting master sync daemon on sync0",
    );
    assert_eq!(h.daemons().unwrap(), []);
}

/// Stopping a daemon whose kernel thread has not run yet makes the kernel return EINTR,
/// which netlink never answers; ipvsadm then waits forever. The handle must not.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn stopping_a_daemon_right_after_starting_it_returns() {
    let (ns, mut h) = netns_with_sync_interface();
    for round in 0..20 {
        for role in [DaemonRole::Master, DaemonRole::Backup] {
            h.start_daemon(&Daemon::new(role, IFNAME, round)).unwrap();
            h.stop_daemon(role)
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        assert_daemons(&ns, &mut h, &[]);
    }
}
