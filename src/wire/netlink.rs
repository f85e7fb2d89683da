//! Netlink and generic-netlink framing: message headers, attributes (TLVs), and the
//! parsing of whatever the kernel sends back (data, ACK, error, end of dump).
//!
//! Messages are appended to a caller's buffer, so many requests can share one `send`.

use std::fmt;

// libc's values, in the widths of the wire's fields. libc has no header lengths (C has
// them as macros) and no NLMSGERR_ATTR_MSG.
pub const NLMSG_HDRLEN: usize = std::mem::size_of::<libc::nlmsghdr>();
pub const GENL_HDRLEN: usize = 4;
const NLA_HDRLEN: usize = std::mem::size_of::<libc::nlattr>();
const NLA_F_NESTED: u16 = libc::NLA_F_NESTED as u16;
const NLA_TYPE_MASK: u16 = libc::NLA_TYPE_MASK as u16;

pub const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
pub const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
pub const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
pub const NLM_F_MULTI: u16 = libc::NLM_F_MULTI as u16;
pub const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
pub const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
/// On an error message: only the header of the failed request is echoed.
const NLM_F_CAPPED: u16 = libc::NLM_F_CAPPED as u16;
/// On an error message: extended-ACK attributes follow.
const NLM_F_ACK_TLVS: u16 = libc::NLM_F_ACK_TLVS as u16;
const NLMSGERR_ATTR_MSG: u16 = 1;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one generic-netlink message to a buffer. The length fields are patched when
/// the message (or a nest) is finished.
pub struct MessageWriter<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> MessageWriter<'a> {
    pub fn begin(
        buf: &'a mut Vec<u8>,
        family: u16,
        flags: u16,
        seq: u32,
        cmd: u8,
        version: u8,
    ) -> MessageWriter<'a> {
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, patched in finish()
        buf.extend_from_slice(&family.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it in
        buf.extend_from_slice(&[cmd, version, 0, 0]);
        MessageWriter { buf, start }
    }

    pub fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = NLA_HDRLEN + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(self.buf.len() + align4(len) - len, 0);
    }

    pub fn put_u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }

    pub fn put_u16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_ne_bytes());
    }

    pub fn put_u32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_ne_bytes());
    }

    /// A u16 attribute carrying a network-order value (ports).
    pub fn put_be16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_be_bytes());
    }

    /// A NUL-terminated string.
    pub fn put_str(&mut self, kind: u16, s: &str) {
        let mut bytes = Vec::with_capacity(s.len() + 1);
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
        self.put(kind, &bytes);
    }

    /// Starts a nested attribute; returns its position for [`MessageWriter::end_nest`].
    pub fn begin_nest(&mut self, kind: u16) -> usize {
        let pos = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        pos
    }

    pub fn end_nest(&mut self, pos: usize) {
        let len = (self.buf.len() - pos) as u16;
        self.buf[pos..pos + 2].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn finish(self) {
        let len = (self.buf.len() - self.start) as u32;
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// A reply or request that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One netlink message of a received datagram.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: &'a [u8],
}

/// What a received message means to the request it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// A generic-netlink data message: its command and attributes.
    Data { cmd: u8, attrs: &'a [u8] },
    /// Success: the request is complete.
    Ack,
    /// The end of a dump.
    Done,
    /// The request failed with this errno; `detail` is the kernel's extended-ACK text.
    Error { errno: i32, detail: Option<String> },
}

impl<'a> Message<'a> {
    pub fn reply(&self) -> Result<Reply<'a>, DecodeError> {
        match self.kind {
            NLMSG_ERROR => {
                let code = read_i32(self.payload)
                    .ok_or_else(|| DecodeError("short NLMSG_ERROR".into()))?;
                if code == 0 {
                    return Ok(Reply::Ack);
                }
                Ok(Reply::Error {
                    errno: errno_of(code)?,
                    detail: self.ext_ack_text(),
                })
            }
            NLMSG_DONE => match read_i32(self.payload) {
                Some(code) if code < 0 => Ok(Reply::Error {
                    errno: errno_of(code)?,
                    detail: None,
                }),
                _ => Ok(Reply::Done),
            },
            _ => {
                if self.payload.len() < GENL_HDRLEN {
                    return Err(DecodeError(format!(
                        "message of type {} is too short for a generic netlink header",
                        self.kind
                    )));
                }
                Ok(Reply::Data {
                    cmd: self.payload[0],
                    attrs: &self.payload[GENL_HDRLEN..],
                })
            }
        }
    }

    fn ext_ack_text(&self) -> Option<String> {
        if self.flags & NLM_F_ACK_TLVS == 0 {
            return None;
        }
        let echoed = if self.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            read_u32(self.payload.get(4..)?)? as usize
        };
        let tlvs = self.payload.get(4 + align4(echoed)..)?;
        let msg = attrs(tlvs).find(|a| a.kind == NLMSGERR_ATTR_MSG)?;
        Some(msg.as_str().ok()?.to_owned())
    }
}

/// Splits a datagram into its netlink messages.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Result<Message<'_>, DecodeError>> {
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        let header = match buf.get(..NLMSG_HDRLEN) {
            Some(h) => h,
            None => {
                buf = &[];
                return Some(Err(DecodeError("truncated netlink header".into())));
            }
        };
        let len = u32::from_ne_bytes(header[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            buf = &[];
            return Some(Err(DecodeError(format!(
                "bad netlink message length {len}"
            ))));
        }
        let msg = Message {
            kind: u16::from_ne_bytes(header[4..6].try_into().unwrap()),
            flags: u16::from_ne_bytes(header[6..8].try_into().unwrap()),
            seq: u32::from_ne_bytes(header[8..12].try_into().unwrap()),
            pid: u32::from_ne_bytes(header[12..16].try_into().unwrap()),
            payload: &buf[NLMSG_HDRLEN..len],
        };
        buf = &buf[align4(len).min(buf.len())..];
        Some(Ok(msg))
    })
}

/// One attribute: its type (flags stripped) and payload.
#[derive(Clone, Copy, Debug)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    fn fixed<const N: usize>(&self) -> Result<[u8; N], DecodeError> {
        self.payload
            .get(..N)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                DecodeError(format!(
                    "attribute {} has {} bytes, expected {N}",
                    self.kind,
                    self.payload.len()
                ))
            })
    }

    pub fn u8(&self) -> Result<u8, DecodeError> {
        Ok(self.fixed::<1>()?[0])
    }

    pub fn u16(&self) -> Result<u16, DecodeError> {
        Ok(u16::from_ne_bytes(self.fixed()?))
    }

    pub fn be16(&self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.fixed()?))
    }

    pub fn u32(&self) -> Result<u32, DecodeError> {
        Ok(u32::from_ne_bytes(self.fixed()?))
    }

    /// A counter that is 32 bits in the `STATS` nest and 64 in `STATS64`.
    pub fn counter(&self) -> Result<u64, DecodeError> {
        match self.payload.len() {
            4 => Ok(self.u32()? as u64),
            _ => Ok(u64::from_ne_bytes(self.fixed()?)),
        }
    }

    /// A string, up to its first NUL.
    pub fn as_str(&self) -> Result<&'a str, DecodeError> {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        std::str::from_utf8(&self.payload[..end])
            .map_err(|_| DecodeError(format!("attribute {} is not UTF-8", self.kind)))
    }
}

/// Iterates over the attributes in `buf`; a malformed tail ends the iteration.
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = Attr<'_>> {
    std::iter::from_fn(move || {
        let header = buf.get(..NLA_HDRLEN)?;
        let len = u16::from_ne_bytes([header[0], header[1]]) as usize;
        let kind = u16::from_ne_bytes([header[2], header[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > buf.len() {
            buf = &[];
            return None;
        }
        let attr = Attr {
            kind,
            payload: &buf[NLA_HDRLEN..len],
        };
        buf = &buf[align4(len).min(buf.len())..];
        Some(attr)
    })
}

/// Types an [`AttrTable`] can hold: above every IPVS and controller attribute decoded.
const TABLE_SLOTS: usize = 16;

/// Attributes indexed by type, so a decoder can pick the ones it knows and ignore the rest.
/// On the stack: a listing decodes three tables a service.
pub struct AttrTable<'a> {
    slots: [Option<Attr<'a>>; TABLE_SLOTS],
}

impl<'a> AttrTable<'a> {
    /// The attributes of `buf` whose type is at most `max` (below `TABLE_SLOTS`).
    pub fn parse(buf: &'a [u8], max: u16) -> AttrTable<'a> {
        assert!(
            usize::from(max) < TABLE_SLOTS,
            "attribute type {max} has no slot"
        );
        let mut slots = [None; TABLE_SLOTS];
        for a in attrs(buf) {
            if a.kind <= max {
                slots[usize::from(a.kind)] = Some(a);
            }
        }
        AttrTable { slots }
    }

    pub fn get(&self, kind: u16) -> Option<Attr<'a>> {
        self.slots.get(kind as usize).copied().flatten()
    }

    pub fn require(&self, kind: u16, name: &str) -> Result<Attr<'a>, DecodeError> {
        self.get(kind)
            .ok_or_else(|| DecodeError(format!("missing attribute {name}")))
    }
}

/// The errno of an error code, which the kernel sends negated.
fn errno_of(code: i32) -> Result<i32, DecodeError> {
    code.checked_neg()
        .filter(|errno| *errno > 0)
        .ok_or_else(|| DecodeError(format!("error code {code} is not a negative errno")))
}

fn read_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

fn read_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}
