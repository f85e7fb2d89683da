//! The wire protocol: netlink framing, the generic-netlink controller, and the IPVS
//! family's messages. Pure byte encoding and decoding; the socket lives in `client`.

pub mod ctrl;
pub mod ipvs;
pub mod netlink;

pub use ipvs::Request;
pub use netlink::DecodeError;
