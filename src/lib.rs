//! ipvsrs: the Linux IPVS load balancer's table over generic netlink.
//!
//! Layers, each on the one before: [`model`] (plain data), [`wire`] (the netlink
//! protocol, bytes only), [`client`] (a safe handle that talks to the kernel),
//! [`desired`] (YAML models, diff and apply), [`metrics`] (a scrape for monitoring), and
//! `capi`, the C ABI over them: exported to C, hidden from the Rust API (Rust code uses
//! the safe layers; the C entry points take raw pointers). Public only so that the
//! constants the header alone uses are not dead code.

#[allow(non_camel_case_types)] // C type names
#[doc(hidden)]
pub mod capi;
pub mod client;
pub mod desired;
pub mod metrics;
pub mod model;
pub mod wire;
mod workers;

pub use client::{Error, Handle, Result};
