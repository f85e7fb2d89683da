//! The client's error type. Kernel errors keep the kernel's errno exactly.

use std::ffi::CStr;
use std::io;

/// Everything that can go wrong talking to IPVS. Each variant says what was being done
/// to which object; [`Error::errno`] gives the `errno` a C caller sees.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a request.
    #[error("{context}: {}{}", errno_text(*errno), detail_suffix(detail, *errno))]
    Kernel {
        context: String,
        errno: i32,
        detail: Option<String>,
    },
    /// The running kernel (in this network namespace) has no "IPVS" generic-netlink family.
    #[error("IPVS is not available: the kernel has no generic netlink family \"IPVS\" (is the ip_vs module loaded?)")]
    NotAvailable,
    /// A system call on the netlink socket or a namespace failed.
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    /// The kernel's reply did not parse.
    #[error("{context}: malformed reply from the kernel: {detail}")]
    Malformed { context: String, detail: String },
    /// The request cannot be encoded (rejected before anything was sent).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The errno equivalent: the kernel's for [`Error::Kernel`], `ENOPROTOOPT` when IPVS is
    /// missing (what libipvs reports then), the system call's for [`Error::Io`], else `EINVAL`.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Kernel { errno, .. } => *errno,
            Error::NotAvailable => libc::ENOPROTOOPT,
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::Malformed { .. } | Error::Invalid(_) => libc::EINVAL,
        }
    }

    /// Whether the request's answer never came (dropped when the receive buffer
    /// overflowed, or waited for in vain), so its outcome is not known.
    pub fn answer_lost(&self) -> bool {
        matches!(self, Error::Io { .. }) && matches!(self.errno(), libc::ENOBUFS | libc::ETIMEDOUT)
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `strerror(errno)`, e.g. "No such process".
pub fn errno_text(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: the XSI strerror_r writes a NUL-terminated string of at most buf.len() bytes.
    if unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) } != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: NUL-terminated by strerror_r above.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn detail_suffix(detail: &Option<String>, errno: i32) -> String {
    match detail {
        Some(d) => format!(" ({d})"),
        None if errno == libc::EPERM => " (IPVS needs CAP_NET_ADMIN)".to_owned(),
        None => String::new(),
    }
}
