//! `ipvs_cmp_services`, `ipvs_cmp_dests` and sorting. Unlike libipvs's comparators (which
//! subtract unsigned values into an `int`), these are a valid total order, so `qsort`
//! gives a defined result: by fwmark, family, protocol, address (network byte order),
//! then port.

use std::cmp::Ordering;
use std::ffi::c_int;

use crate::capi::boundary;
use crate::capi::types::{ipvsrs_dest_entry, ipvsrs_inet_addr, ipvsrs_service_entry};

fn addr_bytes(a: &ipvsrs_inet_addr) -> [u32; 4] {
    // SAFETY: every member covers the same 16 plain bytes; compare them in network order.
    unsafe { a.all }.map(u32::from_be)
}

fn to_c(o: Ordering) -> c_int {
    o as c_int
}

/// Orders NULL first, then by `key`.
///
/// # Safety
/// `a` and `b` must each be NULL or point to a valid entry.
unsafe fn compare<T, K: Ord>(a: *const T, b: *const T, key: impl Fn(&T) -> K) -> c_int {
    // SAFETY: NULL or valid, as the caller promises.
    let (a, b) = unsafe { (a.as_ref(), b.as_ref()) };
    to_c(a.map(&key).cmp(&b.map(&key)))
}

/// Compares two service entries: fwmark, family, protocol, address, port. NULL sorts first.
#[no_mangle]
pub extern "C" fn ipvs_cmp_services(
    s1: *mut ipvsrs_service_entry,
    s2: *mut ipvsrs_service_entry,
) -> c_int {
    // SAFETY: C passes NULL or entries from ipvs_get_services (or its own).
    boundary(0, || unsafe {
        compare(s1, s2, |s| {
            (
                s.fwmark,
                s.af,
                s.protocol,
                addr_bytes(&s.addr),
                u16::from_be(s.port),
            )
        })
    })
}

/// Compares two destination entries: family, address, port. NULL sorts first.
#[no_mangle]
pub extern "C" fn ipvs_cmp_dests(d1: *mut ipvsrs_dest_entry, d2: *mut ipvsrs_dest_entry) -> c_int {
    // SAFETY: C passes NULL or entries from ipvs_get_dests (or its own).
    boundary(0, || unsafe {
        compare(d1, d2, |d| {
            (d.af, addr_bytes(&d.addr), u16::from_be(d.port))
        })
    })
}

/// `qsort` over `n` entries at `entries` with a C comparator.
///
/// # Safety
/// `entries` must point to `n` valid, writable entries.
pub unsafe fn sort<T>(
    entries: *mut T,
    n: usize,
    cmp: unsafe extern "C" fn(*mut T, *mut T) -> c_int,
) {
    if n < 2 {
        return;
    }
    // SAFETY: qsort calls `cmp` with pointers into the array; the signatures agree apart
    // from const-ness, which C does not distinguish at the call.
    unsafe {
        let cmp: unsafe extern "C" fn(*const libc::c_void, *const libc::c_void) -> c_int =
            std::mem::transmute(cmp);
        libc::qsort(
            entries as *mut libc::c_void,
            n,
            std::mem::size_of::<T>(),
            Some(cmp),
        );
    }
}
