//! The wire protocol: netlink framing, the generic-netlink controller, and the IPVS
//! family's messages; beside them the connection table's text, which only /proc offers.
//! Pure encoding and decoding; the socket and the file live in `client`.

pub mod conn_table;
pub mod ctrl;
pub mod ipvs;
pub mod netlink;

pub use ipvs::Request;
pub use netlink::DecodeError;
