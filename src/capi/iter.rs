//! Iteration over the services of a handle and the destinations of a service. Each
//! iterator is a snapshot taken when it is made, so iterating costs no further I/O and
//! the entries stay valid, whatever the kernel does, until the iterator is freed.

use super::handle::{ipvsrs_handle, lock};
use super::libipvs::types::{
    ip_vs_dest_entry, ip_vs_service_entry, ipvs_dest_entry_t, ipvs_service_entry_t,
};
use super::{arg, arg_mut, boundary, pointer};

struct Snapshot<T> {
    entries: Vec<T>,
    next: usize,
}

impl<T> Snapshot<T> {
    fn next(&mut self) -> *const T {
        let item = self
            .entries
            .get(self.next)
            .map_or(std::ptr::null(), |e| e as *const T);
        self.next += usize::from(!item.is_null());
        item
    }
}

/// Iterator over a snapshot of all services (`ipvsrs_services`).
pub struct ipvsrs_service_iter(Snapshot<ip_vs_service_entry>);

/// Iterator over a snapshot of one service's destinations (`ipvsrs_dests`).
pub struct ipvsrs_dest_iter(Snapshot<ip_vs_dest_entry>);

/// Takes a snapshot of all services, each once even while other namespaces change their
/// tables (checked against the namespace's service count, dumping again if a dump
/// skipped one), with 64-bit stats and rates in each entry's `stats64`. Returns an iterator to release with `ipvsrs_service_iter_free`, or
/// NULL with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_services(h: *mut ipvsrs_handle) -> *mut ipvsrs_service_iter {
    boundary(std::ptr::null_mut(), || {
        pointer(lock(h).and_then(|mut handle| {
            let entries = handle
                .services()?
                .iter()
                .map(ip_vs_service_entry::from)
                .collect();
            Ok(Box::into_raw(Box::new(ipvsrs_service_iter(Snapshot {
                entries,
                next: 0,
            }))))
        }))
    })
}

/// Takes a snapshot of the destinations of service `svc` (an entry from
/// `ipvsrs_service_iter_next` or `ipvs_get_services`), in the kernel's order. Returns an
/// iterator to release with `ipvsrs_dest_iter_free`, or NULL with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_dests(
    h: *mut ipvsrs_handle,
    svc: *const ipvs_service_entry_t,
) -> *mut ipvsrs_dest_iter {
    boundary(std::ptr::null_mut(), || {
        pointer(lock(h).and_then(|mut handle| {
            // SAFETY: NULL or a valid service entry.
            let key = unsafe { arg(svc, "svc") }?.key()?;
            let entries = handle
                .dests(&key)?
                .iter()
                .map(ip_vs_dest_entry::from)
                .collect();
            Ok(Box::into_raw(Box::new(ipvsrs_dest_iter(Snapshot {
                entries,
                next: 0,
            }))))
        }))
    })
}

/// The next service, or NULL at the end (or for a NULL iterator). The entry belongs to the
/// iterator and stays valid until it is freed. Not thread-safe per iterator.
#[no_mangle]
pub extern "C" fn ipvsrs_service_iter_next(
    it: *mut ipvsrs_service_iter,
) -> *const ipvs_service_entry_t {
    // SAFETY: NULL or an iterator from ipvsrs_services.
    boundary(std::ptr::null(), || {
        unsafe { arg_mut(it, "iterator") }.map_or(std::ptr::null(), |it| it.0.next())
    })
}

/// The next destination, or NULL at the end (or for a NULL iterator). The entry belongs to
/// the iterator and stays valid until it is freed. Not thread-safe per iterator.
#[no_mangle]
pub extern "C" fn ipvsrs_dest_iter_next(it: *mut ipvsrs_dest_iter) -> *const ipvs_dest_entry_t {
    // SAFETY: NULL or an iterator from ipvsrs_dests.
    boundary(std::ptr::null(), || {
        unsafe { arg_mut(it, "iterator") }.map_or(std::ptr::null(), |it| it.0.next())
    })
}

/// The number of services in the snapshot (0 for NULL).
#[no_mangle]
pub extern "C" fn ipvsrs_service_iter_count(it: *const ipvsrs_service_iter) -> usize {
    // SAFETY: NULL or an iterator from ipvsrs_services.
    boundary(0, || {
        unsafe { arg(it, "iterator") }.map_or(0, |it| it.0.entries.len())
    })
}

/// The number of destinations in the snapshot (0 for NULL).
#[no_mangle]
pub extern "C" fn ipvsrs_dest_iter_count(it: *const ipvsrs_dest_iter) -> usize {
    // SAFETY: NULL or an iterator from ipvsrs_dests.
    boundary(0, || {
        unsafe { arg(it, "iterator") }.map_or(0, |it| it.0.entries.len())
    })
}

/// Frees a service iterator and its entries. NULL is ignored.
#[no_mangle]
pub extern "C" fn ipvsrs_service_iter_free(it: *mut ipvsrs_service_iter) {
    // SAFETY: NULL or an iterator from ipvsrs_services, freed once.
    boundary((), || drop(unsafe { free_box(it) }))
}

/// Frees a destination iterator and its entries. NULL is ignored.
#[no_mangle]
pub extern "C" fn ipvsrs_dest_iter_free(it: *mut ipvsrs_dest_iter) {
    // SAFETY: NULL or an iterator from ipvsrs_dests, freed once.
    boundary((), || drop(unsafe { free_box(it) }))
}

/// # Safety
/// `p` is NULL or came from `Box::into_raw` and is not used again.
unsafe fn free_box<T>(p: *mut T) -> Option<Box<T>> {
    // SAFETY: guaranteed by the caller.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}
