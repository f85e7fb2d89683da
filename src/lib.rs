//! ipvsrs: the Linux IPVS load balancer's table over generic netlink.
//!
//! Layers, each on the one before: [`model`] (plain data), [`wire`] (the netlink
//! protocol, bytes only), [`client`] (a safe handle that talks to the kernel).

pub mod client;
pub mod model;
pub mod wire;

pub use client::{Error, Handle, Result};
