//! Tests against a real IPVS kernel. They are ignored by a plain `cargo test`; `make test`
//! runs them as root inside a VM (or directly, on a host whose kernel has IPVS).

mod support;

mod handle;
mod services;
mod dests;
mod ipvsadm_compat;
mod errors;
mod daemon;
mod config;
mod scale;
mod process;
mod c_api;
