//! The C ABI: a thin skin over [`crate::client`]. `types` holds the C structs and
//! constants both surfaces share, and their conversions to and from the model; `libipvs`
//! is the libipvs 1.31 surface (process-wide default handle, 0/-1 and errno); `handle`
//! and `iter` are the native API; `desired` applies YAML models; `metrics` renders a
//! scrape for monitoring.
//!
//! Every exported function runs its body inside `boundary`, so a panic becomes an error
//! return instead of unwinding into C, and checks every pointer it is given.

// The exported functions take raw pointers from C and check them (NULL included); their
// contracts are in the header's documentation, where C callers read them.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod conns;
pub mod desired;
pub mod handle;
pub mod iter;
pub mod libipvs;
mod live;
pub mod metrics;
mod process_lock;
pub mod types;

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::client::{Error, ServiceForm, ServiceList};

/// An error on its way to C: the errno to set and a message naming what failed.
#[derive(Debug)]
pub(crate) struct CError {
    pub errno: c_int,
    pub message: String,
}

impl From<Error> for CError {
    fn from(e: Error) -> CError {
        CError {
            errno: e.errno(),
            message: e.to_string(),
        }
    }
}

impl From<types::Unrepresentable> for CError {
    fn from(e: types::Unrepresentable) -> CError {
        CError {
            errno: e.errno,
            message: e.detail,
        }
    }
}

impl CError {
    pub fn null(what: &str) -> CError {
        CError {
            errno: libc::EINVAL,
            message: format!("{what} is NULL"),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_errno(errno: c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
}

/// Records `e` as this thread's last error and sets errno.
pub(crate) fn fail(e: CError) {
    let text = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
    set_errno(e.errno);
}

/// 0 on success; -1 with errno and the last error set on failure.
pub(crate) fn status(r: Result<(), CError>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => {
            fail(e);
            -1
        }
    }
}

/// The pointer on success; NULL with errno and the last error set on failure.
pub(crate) fn pointer<T>(r: Result<*mut T, CError>) -> *mut T {
    r.unwrap_or_else(|e| {
        fail(e);
        std::ptr::null_mut()
    })
}

/// The value on success; `fallback` with errno and the last error set on failure (for
/// calls whose C signature has no error return of its own).
pub(crate) fn or_fail<T>(r: Result<T, CError>, fallback: T) -> T {
    r.unwrap_or_else(|e| {
        fail(e);
        fallback
    })
}

/// Runs `body`; a panic inside it returns `on_panic` with errno `ENOTRECOVERABLE`.
pub(crate) fn boundary<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        fail(CError {
            errno: libc::ENOTRECOVERABLE,
            message: "internal error in ipvsrs (a bug): please report it".into(),
        });
        on_panic
    })
}

/// A shared reference from a C pointer, or an error naming the argument.
///
/// # Safety
/// `p` must be NULL or point to a valid `T` for the duration of the call.
pub(crate) unsafe fn arg<'a, T>(p: *const T, what: &str) -> Result<&'a T, CError> {
    // SAFETY: guaranteed by the caller.
    unsafe { p.as_ref() }.ok_or_else(|| CError::null(what))
}

/// A mutable reference from a C pointer, or an error naming the argument.
///
/// # Safety
/// `p` must be NULL or point to a valid, exclusively borrowed `T` for the call.
pub(crate) unsafe fn arg_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, CError> {
    // SAFETY: guaranteed by the caller.
    unsafe { p.as_mut() }.ok_or_else(|| CError::null(what))
}

/// Copies `items` into one `malloc` block after a header, so C frees it all with `free()`.
pub(crate) fn malloc_block<H, E: Copy>(
    header: H,
    items: impl ExactSizeIterator<Item = E>,
) -> Result<*mut H, CError> {
    let mut block = MallocBlock::with_room(items.len());
    for item in items {
        block.push(item);
    }
    block.finish(header)
}

/// A `malloc_block` filled as its entries come, growing by `realloc` (as libipvs's lists
/// do), so a listing writes each entry once, where C reads it.
pub(crate) struct MallocBlock<H, E: Copy> {
    block: *mut u8,
    len: usize,
    room: usize,
    /// The size that could not be allocated, after which nothing more is kept.
    failed: Option<usize>,
    kinds: PhantomData<(H, E)>,
}

impl<H, E: Copy> MallocBlock<H, E> {
    pub(crate) fn with_room(room: usize) -> MallocBlock<H, E> {
        let mut block = MallocBlock {
            block: std::ptr::null_mut(),
            len: 0,
            room: 0,
            failed: None,
            kinds: PhantomData,
        };
        block.grow_to(room.max(1));
        block
    }

    fn bytes_for(room: usize) -> usize {
        entries_at::<H, E>() + room * std::mem::size_of::<E>()
    }

    fn grow_to(&mut self, room: usize) {
        let size = Self::bytes_for(room);
        // SAFETY: `block` is NULL or this block's own from malloc; realloc keeps its bytes.
        let grown = unsafe { libc::realloc(self.block.cast(), size) } as *mut u8;
        if grown.is_null() {
            self.failed = Some(size);
        } else {
            self.block = grown;
            self.room = room;
        }
    }

    pub(crate) fn push(&mut self, entry: E) {
        if self.len == self.room && self.failed.is_none() {
            self.grow_to(self.room * 2);
        }
        if self.failed.is_some() {
            return;
        }
        // SAFETY: slot `len` lies inside the block (len < room); malloc's alignment and
        // `entries_at` align it for E.
        unsafe { self.entry_at(self.len).write(entry) };
        self.len += 1;
    }

    /// # Safety
    /// `index` is below `room`.
    unsafe fn entry_at(&self, index: usize) -> *mut E {
        // SAFETY: inside the block, by the caller's guarantee.
        unsafe { (self.block.add(entries_at::<H, E>()) as *mut E).add(index) }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The block with `header` at its start (its padding zero).
    pub(crate) fn finish(self, header: H) -> Result<*mut H, CError> {
        if let Some(size) = self.failed {
            return Err(CError {
                errno: libc::ENOMEM,
                message: format!("allocating {size} bytes"),
            });
        }
        // SAFETY: a live block with room for the header and its entries.
        unsafe {
            std::ptr::write_bytes(self.block, 0, entries_at::<H, E>());
            (self.block as *mut H).write(header);
        }
        let block = self.block as *mut H;
        std::mem::forget(self);
        Ok(block)
    }
}

impl<H, E: Copy> Drop for MallocBlock<H, E> {
    fn drop(&mut self) {
        // SAFETY: NULL or this block's own from malloc; its entries are Copy (no drop).
        unsafe { libc::free(self.block.cast()) };
    }
}

/// A listing straight into the block `ipvs_get_services` returns.
impl<H, E: Copy + ServiceForm> ServiceList for MallocBlock<H, E> {
    type Entry = E;
    fn with_room(room: usize) -> Self {
        MallocBlock::with_room(room)
    }
    fn push(&mut self, entry: E) {
        MallocBlock::push(self, entry);
    }
    fn into_vec(self) -> Result<Vec<E>, Error> {
        if let Some(size) = self.failed {
            let source = std::io::Error::from_raw_os_error(libc::ENOMEM);
            return Err(Error::io(format!("allocating {size} bytes"), source));
        }
        // SAFETY: the first `len` slots hold entries.
        Ok((0..self.len)
            .map(|i| unsafe { self.entry_at(i).read() })
            .collect())
    }
}

/// Where the entries of a `malloc_block` start.
fn entries_at<H, E>() -> usize {
    std::mem::size_of::<H>().next_multiple_of(std::mem::align_of::<E>())
}

/// The first entry of the `malloc_block` at `block`.
///
/// # Safety
/// `block` came from `malloc_block` and is not freed.
pub(crate) unsafe fn entries_of<H, E>(block: *mut H) -> *mut E {
    // SAFETY: the entries start inside the block, by `malloc_block`'s layout.
    unsafe { (block as *mut u8).add(entries_at::<H, E>()) as *mut E }
}

/// `text` as a NUL-terminated string in a `malloc` block, so C frees it with `free()`.
pub(crate) fn malloc_string(text: &str) -> Result<*mut c_char, CError> {
    let bytes: Vec<u8> = text.bytes().chain([0]).collect();
    let block = malloc_block((), bytes.into_iter())?;
    Ok(block as *mut c_char)
}

/// The message of the calling thread's last failed ipvsrs call, naming the operation and
/// the object (e.g. "adding service tcp://10.0.0.1:80: File exists"), or "" if none.
///
/// The string belongs to the library and stays valid until the thread's next failing
/// call; copy it to keep it. Thread-safe: each thread has its own.
#[no_mangle]
pub extern "C" fn ipvsrs_last_error() -> *const c_char {
    boundary(c"".as_ptr(), || {
        LAST_ERROR.with(|slot| slot.borrow().as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    struct Header {
        count: u32,
    }

    #[test]
    fn a_block_grows_and_keeps_its_entries() {
        // Room for 3 at first: the block is reallocated several times.
        let mut block = MallocBlock::<Header, [u64; 3]>::with_room(3);
        for i in 0..1000u64 {
            block.push([i, i * 2, u64::MAX - i]);
        }
        assert_eq!(block.len(), 1000);
        let p = block.finish(Header { count: 1000 }).unwrap();
        // SAFETY: a finished block: the header, then 1000 entries.
        unsafe {
            assert_eq!((*p).count, 1000);
            let entries = entries_of::<Header, [u64; 3]>(p);
            for i in 0..1000u64 {
                assert_eq!(*entries.add(i as usize), [i, i * 2, u64::MAX - i]);
            }
            libc::free(p.cast());
        }
    }

    #[test]
    fn a_block_that_could_not_grow_is_an_error_never_a_short_list() {
        use types::{ipvsrs_get_services, ipvsrs_service_entry};
        let entry = ipvsrs_service_entry::default();
        let mut block = MallocBlock::<ipvsrs_get_services, _>::with_room(1);
        block.push(entry);
        // As after a failed realloc: later entries were dropped.
        block.failed = Some(1 << 40);
        block.push(entry);
        let Err(error) = ServiceList::into_vec(block) else {
            panic!("a short list without an error");
        };
        assert_eq!(error.errno(), libc::ENOMEM, "{error}");
        let mut block = MallocBlock::<Header, u64>::with_room(1);
        block.failed = Some(1 << 40);
        assert_eq!(
            block.finish(Header { count: 0 }).unwrap_err().errno,
            libc::ENOMEM
        );
    }
}
