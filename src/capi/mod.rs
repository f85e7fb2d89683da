//! The C ABI: a thin skin over [`crate::client`]. `types` holds the C structs and
//! constants both surfaces share, and their conversions to and from the model; `libipvs`
//! is the libipvs 1.31 surface (process-wide default handle, 0/-1 and errno); `handle`
//! and `iter` are the native API; `desired` applies YAML models; `metrics` renders a
//! scrape for monitoring.
//!
//! Every exported function runs its body inside [`boundary`], so a panic becomes an error
//! return instead of unwinding into C, and checks every pointer it is given.

// The exported functions take raw pointers from C and check them (NULL included); their
// contracts are in the header's documentation, where C callers read them.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

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
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::client::Error;

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

    pub fn count_beyond_block(field: &str, count: usize, room: usize) -> CError {
        CError {
            errno: libc::EINVAL,
            message: format!("{field} is {count}, but the list has room for {room}"),
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
pub(crate) fn malloc_block<H, E>(
    header: H,
    items: impl ExactSizeIterator<Item = E>,
) -> Result<*mut H, CError> {
    let entries_at = entries_at::<H, E>();
    let size = entries_at + items.len().max(1) * std::mem::size_of::<E>();
    // SAFETY: calloc returns NULL or a zeroed block of `size` bytes aligned for any type.
    let block = unsafe { libc::calloc(1, size) } as *mut u8;
    if block.is_null() {
        return Err(CError {
            errno: libc::ENOMEM,
            message: format!("allocating {size} bytes"),
        });
    }
    // SAFETY: the block holds the header at 0 and the entries from `entries_at` on, each
    // properly aligned (malloc alignment covers H and E).
    unsafe {
        (block as *mut H).write(header);
        let entries = block.add(entries_at) as *mut E;
        for (i, item) in items.enumerate() {
            entries.add(i).write(item);
        }
    }
    Ok(block as *mut H)
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

/// How many entries the `malloc_block` at `block` has room for, from the allocator's own
/// record of its size: a count the caller changed must not lead past the block's end.
///
/// # Safety
/// `block` came from `malloc_block` and is not freed.
pub(crate) unsafe fn room_in_block<H, E>(block: *mut H) -> usize {
    // SAFETY: a live malloc block, by the caller's guarantee.
    let size = unsafe { libc::malloc_usable_size(block.cast()) };
    size.saturating_sub(entries_at::<H, E>()) / std::mem::size_of::<E>()
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
