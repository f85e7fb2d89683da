//! ipvsrs: the Linux IPVS load balancer's table over generic netlink.
//!
//! Layers, each on the one before: [`model`] (plain data), [`wire`] (the netlink
//! protocol, bytes only), [`client`] (a safe handle that talks to the kernel),
//! [`desired`] (YAML models, diff and apply), [`metrics`] (a scrape for monitoring), and
//! [`capi`], the C ABI over them.

#[allow(non_camel_case_types)] // C type names
pub mod capi;
// The C header is generated from `capi` alone:
/// cbindgen:ignore
pub mod client;
/// cbindgen:ignore
pub mod desired;
/// cbindgen:ignore
pub mod metrics;
/// cbindgen:ignore
pub mod model;
/// cbindgen:ignore
pub mod wire;

pub use client::{Error, Handle, Result};
