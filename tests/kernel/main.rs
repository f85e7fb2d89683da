//! Tests against a real IPVS kernel. They are ignored by a plain `cargo test`; `make test`
//! runs them as root inside a VM (or directly, on a host whose kernel has IPVS).

mod support;

mod handle;
