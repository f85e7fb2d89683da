//! Tests against a real IPVS kernel. They are ignored by a plain `cargo test`; `make test`
//! runs them as root inside a VM (or directly, on a host whose kernel has IPVS).

mod support;

mod c_api;
mod checkd;
mod cli;
mod config;
mod connections;
mod converge;
mod convergers;
mod daemon;
mod dataplane;
mod desired;
mod dests;
mod errors;
mod examples;
mod failover;
mod handle;
mod ipvsadm_compat;
mod ipvsctl;
mod models;
mod packages;
mod process;
mod python;
mod scale;
mod services;
