//! Metrics from C: one scrape of the table rendered as Influx line protocol or Prometheus
//! text, so that monitoring agents do not each write it again.

use std::ffi::{c_char, c_int};
use std::time::{SystemTime, UNIX_EPOCH};

use super::handle::{ipvsrs_handle, on_handle};
use super::{boundary, malloc_string, pointer, CError};
use crate::metrics::{self, Scrape};

/// Influx line protocol with telegraf's `ipvs` input names: measurements
/// `ipvs_virtual_server` and `ipvs_real_server`, 64-bit integer fields, one timestamp (ns).
pub const IPVSRS_METRICS_INFLUX: c_int = 1;
/// Prometheus text exposition (version 0.0.4): `ipvs_virtual_server_*` and
/// `ipvs_real_server_*` with HELP and TYPE, counters ending in `_total`.
pub const IPVSRS_METRICS_PROMETHEUS: c_int = 2;

/// One scrape of every service and its destinations on `h` (or on the libipvs connection
/// when `h` is NULL), rendered as `format` (`IPVSRS_METRICS_INFLUX` or
/// `IPVSRS_METRICS_PROMETHEUS`).
///
/// Returns a NUL-terminated string in one `malloc` block; the caller releases it with
/// `free()`. An empty table gives "" (Influx) or the HELP and TYPE lines alone
/// (Prometheus). Returns NULL with errno `EINVAL` for an unknown format, or the kernel's
/// errno if the table cannot be read; `ipvsrs_last_error()` says which. Thread-safe.
#[no_mangle]
pub extern "C" fn ipvsrs_metrics(h: *mut ipvsrs_handle, format: c_int) -> *mut c_char {
    boundary(std::ptr::null_mut(), || pointer(render(h, format)))
}

fn render(h: *mut ipvsrs_handle, format: c_int) -> Result<*mut c_char, CError> {
    let render: fn(&Scrape) -> String = match format {
        IPVSRS_METRICS_INFLUX => |scrape| metrics::influx(scrape, now_ns()),
        IPVSRS_METRICS_PROMETHEUS => metrics::prometheus,
        _ => {
            return Err(CError {
                errno: libc::EINVAL,
                message: format!(
                    "metrics format {format} is not IPVSRS_METRICS_INFLUX (1) or \
                     IPVSRS_METRICS_PROMETHEUS (2)"
                ),
            })
        }
    };
    let scrape = on_handle(h, |handle| Ok(Scrape::read(handle)?))?;
    malloc_string(&render(&scrape))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
