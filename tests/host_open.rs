//! `Handle::open()` on whatever kernel runs the tests: without IPVS it must say so
//! (`Error::NotAvailable`, errno ENOPROTOOPT as libipvs reports); with IPVS it opens, or is
//! refused with EPERM when the process lacks CAP_NET_ADMIN. Only reads, never writes.

use std::path::Path;

use ipvsrs::{Error, Handle};

const CAP_NET_ADMIN: u32 = 12;

/// Whether this process has CAP_NET_ADMIN in its effective set (`CapEff` in /proc).
fn has_cap_net_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .expect("CapEff line");
    let caps = u64::from_str_radix(hex.trim(), 16).unwrap();
    caps & (1 << CAP_NET_ADMIN) != 0
}

#[test]
fn open_matches_whether_the_kernel_has_ipvs() {
    let opened = Handle::open();
    // Looked at after the open, in case resolving the family loaded the module.
    let kernel_has_ipvs = Path::new("/proc/net/ip_vs").exists();
    match (kernel_has_ipvs, opened) {
        (false, Err(e)) => {
            assert!(matches!(e, Error::NotAvailable), "{e:?}");
            assert_eq!(e.errno(), libc::ENOPROTOOPT);
            assert!(e.to_string().contains("IPVS"), "{e}");
        }
        (false, Ok(_)) => panic!("opened IPVS on a kernel without /proc/net/ip_vs"),
        (true, Ok(mut h)) => {
            assert!(has_cap_net_admin(), "opened IPVS without CAP_NET_ADMIN");
            assert_eq!(h.info().unwrap().version, 0x010201);
        }
        (true, Err(e)) => {
            assert!(
                !has_cap_net_admin(),
                "IPVS is there and we may use it, yet: {e}"
            );
            assert_eq!(e.errno(), libc::EPERM, "{e}");
        }
    }
}
