//! The generic-netlink controller ("nlctrl"): resolving the "IPVS" family's id.

use super::netlink::{AttrTable, DecodeError, MessageWriter, NLM_F_ACK, NLM_F_REQUEST};

pub const GENL_ID_CTRL: u16 = libc::GENL_ID_CTRL as u16;
const CTRL_CMD_GETFAMILY: u8 = libc::CTRL_CMD_GETFAMILY as u8;
const CTRL_ATTR_FAMILY_ID: u16 = libc::CTRL_ATTR_FAMILY_ID as u16;
const CTRL_ATTR_FAMILY_NAME: u16 = libc::CTRL_ATTR_FAMILY_NAME as u16;
const CTRL_ATTR_VERSION: u16 = libc::CTRL_ATTR_VERSION as u16;
const CTRL_VERSION: u8 = 2;

/// Appends a `CTRL_CMD_GETFAMILY` request for `name`.
pub fn encode_get_family(buf: &mut Vec<u8>, seq: u32, name: &str) {
    let mut w = MessageWriter::begin(
        buf,
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        CTRL_CMD_GETFAMILY,
        CTRL_VERSION,
    );
    w.put_str(CTRL_ATTR_FAMILY_NAME, name);
    w.finish();
}

/// The family id and version from a `CTRL_CMD_NEWFAMILY` reply.
pub fn decode_family(attrs: &[u8]) -> Result<(u16, u32), DecodeError> {
    let t = AttrTable::parse(attrs, CTRL_ATTR_VERSION);
    let id = t
        .require(CTRL_ATTR_FAMILY_ID, "CTRL_ATTR_FAMILY_ID")?
        .u16()?;
    let version = match t.get(CTRL_ATTR_VERSION) {
        Some(a) => a.u32()?,
        None => 0,
    };
    Ok((id, version))
}
