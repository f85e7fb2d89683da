//! Iteration over the services of a handle and the destinations of a service. Each
//! iterator is a snapshot taken when it is made, so iterating costs no further I/O and
//! the entries stay valid, whatever the kernel does, until the iterator is freed.

use super::handle::{ipvsrs_handle, with_live_handle};
use super::live::{self, Live};
use super::types::{ipvsrs_dest_entry, ipvsrs_service_entry};
use super::{arg, boundary, or_fail, pointer};

/// Entries handed to C one at a time; each stays where it is until the snapshot is freed.
pub(crate) struct Snapshot<T> {
    entries: Vec<T>,
    next: usize,
}

impl<T> Snapshot<T> {
    pub(crate) fn new(entries: Vec<T>) -> Snapshot<T> {
        Snapshot { entries, next: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The next entry, or NULL at the end.
    pub(crate) fn next(&mut self) -> *const T {
        let item = self
            .entries
            .get(self.next)
            .map_or(std::ptr::null(), |e| e as *const T);
        self.next += usize::from(!item.is_null());
        item
    }
}

/// Iterator over a snapshot of all services (`ipvsrs_services`).
pub struct ipvsrs_service_iter(Snapshot<ipvsrs_service_entry>);

/// Iterator over a snapshot of one service's destinations (`ipvsrs_dests`).
pub struct ipvsrs_dest_iter(Snapshot<ipvsrs_dest_entry>);

impl Live for ipvsrs_service_iter {
    const NAME: &'static str = "service iterator";
    const MADE_BY: &'static str = "ipvsrs_services";
}

impl Live for ipvsrs_dest_iter {
    const NAME: &'static str = "destination iterator";
    const MADE_BY: &'static str = "ipvsrs_dests";
}

/// Takes a snapshot of all services, each once while tables change (as `Handle::services`
/// lists them: exact for IPv4, see the README), with 64-bit stats and rates in each
/// entry's `stats64`. Returns an iterator to release with `ipvsrs_service_iter_free`, or
/// NULL with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_services(h: *mut ipvsrs_handle) -> *mut ipvsrs_service_iter {
    boundary(std::ptr::null_mut(), || {
        pointer(with_live_handle(h, |c| {
            let entries = c.handle.services_as::<ipvsrs_service_entry>()?;
            Ok(live::give(ipvsrs_service_iter(Snapshot::new(entries))))
        }))
    })
}

/// Takes a snapshot of the destinations of service `svc` (an entry from
/// `ipvsrs_service_iter_next` or `ipvs_get_services`), in the kernel's order. Returns an
/// iterator to release with `ipvsrs_dest_iter_free`, or NULL with errno.
#[no_mangle]
pub extern "C" fn ipvsrs_dests(
    h: *mut ipvsrs_handle,
    svc: *const ipvsrs_service_entry,
) -> *mut ipvsrs_dest_iter {
    boundary(std::ptr::null_mut(), || {
        pointer(with_live_handle(h, |c| {
            // SAFETY: NULL or a valid service entry.
            let key = unsafe { arg(svc, "svc") }?.key()?;
            let entries = (c.handle.dests(&key)?)
                .iter()
                .map(ipvsrs_dest_entry::from)
                .collect();
            Ok(live::give(ipvsrs_dest_iter(Snapshot::new(entries))))
        }))
    })
}

/// The next service, or NULL at the end (or, with errno, for an iterator that is NULL or
/// not live). The entry belongs to the iterator and stays valid until it is freed. Not
/// thread-safe per iterator.
#[no_mangle]
pub extern "C" fn ipvsrs_service_iter_next(
    it: *mut ipvsrs_service_iter,
) -> *const ipvsrs_service_entry {
    // SAFETY: the C contract: one thread at a time per iterator.
    boundary(std::ptr::null(), || {
        or_fail(
            unsafe { live::get_mut(it) }.map(|it| it.0.next()),
            std::ptr::null(),
        )
    })
}

/// The next destination, or NULL at the end (or, with errno, for an iterator that is NULL
/// or not live). The entry belongs to the iterator and stays valid until it is freed. Not
/// thread-safe per iterator.
#[no_mangle]
pub extern "C" fn ipvsrs_dest_iter_next(it: *mut ipvsrs_dest_iter) -> *const ipvsrs_dest_entry {
    // SAFETY: the C contract: one thread at a time per iterator.
    boundary(std::ptr::null(), || {
        or_fail(
            unsafe { live::get_mut(it) }.map(|it| it.0.next()),
            std::ptr::null(),
        )
    })
}

/// The number of services in the snapshot (0, with errno, for an iterator that is NULL or
/// not live).
#[no_mangle]
pub extern "C" fn ipvsrs_service_iter_count(it: *const ipvsrs_service_iter) -> usize {
    // SAFETY: only read.
    boundary(0, || {
        or_fail(unsafe { live::get(it) }.map(|it| it.0.len()), 0)
    })
}

/// The number of destinations in the snapshot (0, with errno, for an iterator that is
/// NULL or not live).
#[no_mangle]
pub extern "C" fn ipvsrs_dest_iter_count(it: *const ipvsrs_dest_iter) -> usize {
    // SAFETY: only read.
    boundary(0, || {
        or_fail(unsafe { live::get(it) }.map(|it| it.0.len()), 0)
    })
}

/// Frees a service iterator and its entries. NULL is ignored; an iterator freed already
/// is left alone, with errno `EBADF`.
#[no_mangle]
pub extern "C" fn ipvsrs_service_iter_free(it: *mut ipvsrs_service_iter) {
    boundary((), || or_fail(live::take(it).map(drop), ()))
}

/// Frees a destination iterator and its entries. NULL is ignored; an iterator freed
/// already is left alone, with errno `EBADF`.
#[no_mangle]
pub extern "C" fn ipvsrs_dest_iter_free(it: *mut ipvsrs_dest_iter) {
    boundary((), || or_fail(live::take(it).map(drop), ()))
}
