//! YAML models: text in, a validated and normalised [`DesiredTable`] out.
//!
//! The model is a superset of ipvsctl's (its models parse with the same meaning, except
//! where ipvsctl contradicts itself; see the defaults below):
//!
//! ```yaml
//! defaults:                 # all optional
//!   port: 80                # service/destination port when an address has none (1..65535)
//!   weight: 1               # destination weight when unset (0..65535); else 1
//!   sched: wrr              # scheduler when unset; else rr
//!   forward: nat            # destination forwarding when unset; else direct
//! timeouts: { tcp: 900, tcpfin: 120, udp: 300 }   # optional; 0 or unset leaves one alone
//! daemons:                  # optional; the sync daemons that should run
//!   - { role: master, interface: eth0, syncid: 1, maxlen: 1472, group: 224.0.0.81, port: 8848, ttl: 1 }
//! services:
//!   - address: tcp://10.1.2.3:80           # tcp:// udp:// sctp://, [IPv6], fwmark:N, fwmark6:N
//!     sched: rr
//!     flags: [sh-port, sh-fallback, mh-port, mh-fallback, flag-1, flag-2, flag-3, one-packet]
//!     persistence: { timeout: 300, netmask: 255.255.255.0, engine: sip }  # prefix: 64 for IPv6
//!     destinations:
//!       - address: 10.50.0.1:8080          # IP[:PORT], [IPv6]:PORT
//!         forward: nat                     # nat | direct | tunnel | local
//!         weight: 100
//!         thresholds: { upper: 1000, lower: 100 }
//!         tunnel: { type: gue, port: 6080, checksum: csum }
//!         state: active                    # active | maintenance | draining
//! ```
//!
//! Addresses may contain parameters (`${env.NAME}`, `${host.eth0}`, `${ports.web}`), see
//! [`Params`]. Every error is reported, each with the line and column of its YAML node.
//!
//! The text is read as a stream of parser events, checked against [`Limits`] as they come
//! (hostile input is refused early, in bounded time and memory) and turned straight into
//! the table's types: no document tree is built. A big model is cut at service
//! boundaries and its pieces read at once, one a thread (`split.rs`). A caller that reads
//! models again and again keeps a [`ModelCache`]: [`parse_cached`] reads only the
//! services that changed (`cache.rs`).

mod cache;
mod check;
pub mod emit;
mod params;
mod reader;
mod split;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub use self::cache::{parse_cached, ModelCache};
pub use self::emit::to_yaml;
pub use self::params::{NoParams, ParamFileError, ParamSource, Params};
use self::reader::{Fatal, Mark, Reader};
use super::{DesiredTable, ScopeRule};

/// One problem in a model, at the YAML node it concerns (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ModelError {
    pub line: usize,
    pub column: usize,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ModelError {
    fn at(at: Mark, message: String) -> ModelError {
        ModelError {
            line: at.line as usize,
            column: at.column as usize,
            message,
        }
    }
}

/// Every problem found in a model, in text order. A model with any is not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelErrors(pub Vec<ModelError>);

impl fmt::Display for ModelErrors {
    /// One error a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            error.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelErrors {}

impl From<Fatal> for ModelErrors {
    fn from(fatal: Fatal) -> ModelErrors {
        ModelErrors(vec![ModelError::at(fatal.at, fatal.message)])
    }
}

/// Bounds on what a text may make the parser do. A text past one is refused with one
/// positioned error as soon as the bound is crossed, before the rest is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The text's size in bytes.
    pub max_bytes: usize,
    /// Collections nested in each other (a model needs 6).
    pub max_depth: usize,
    /// One value's (or key's) length in bytes.
    pub max_scalar_bytes: usize,
    /// Nodes that aliases may expand to in all, at least; a text may always expand as
    /// many as it holds itself (so an alias bomb stops at twice the text's size).
    pub max_alias_events: usize,
}

impl Default for Limits {
    /// 256 MiB of text, 32 levels, 64 KiB values, 100,000 nodes from aliases.
    fn default() -> Limits {
        Limits {
            max_bytes: 256 << 20,
            max_depth: 32,
            max_scalar_bytes: 64 << 10,
            max_alias_events: 100_000,
        }
    }
}

/// Parses and validates a model within the default [`Limits`]. `params` resolves
/// `${...}` in addresses (pass [`NoParams`] to allow none). Either the whole table or
/// every error found; a syntax error or a crossed limit is reported alone.
pub fn parse(text: &str, params: &dyn ParamSource) -> Result<DesiredTable, ModelErrors> {
    parse_with_limits(text, params, &Limits::default())
}

/// [`parse`] of a model that owns only the services `scope` covers (empty: any): each
/// service outside it is an error at its address, so a model can never change a service
/// that belongs to another (`--scope`, the C options' `scope`).
pub fn parse_in_scope(
    text: &str,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
) -> Result<DesiredTable, ModelErrors> {
    read(text, params, scope, &Limits::default())
}

/// [`parse`] within other limits.
pub fn parse_with_limits(
    text: &str,
    params: &dyn ParamSource,
    limits: &Limits,
) -> Result<DesiredTable, ModelErrors> {
    read(text, params, &[], limits)
}

fn read(
    text: &str,
    params: &dyn ParamSource,
    scope: &[ScopeRule],
    limits: &Limits,
) -> Result<DesiredTable, ModelErrors> {
    check_size(text, limits)?;
    if let Some(split) = split::split(text) {
        if let Some(table) = check::check_split(&split, params, scope, limits) {
            return Ok(table);
        }
    }
    let problems = match check::check(Reader::new(text, limits), params, scope)? {
        Ok(table) => return Ok(table),
        Err(problems) => problems,
    };
    let mut errors: Vec<ModelError> = problems
        .into_iter()
        .map(|(at, message)| ModelError::at(at, message))
        .collect();
    errors.sort_by_key(|error| (error.line, error.column));
    Err(ModelErrors(errors))
}

/// For the fuzz target: the table read from `text` cut into up to `pieces`, however
/// small; `None` where it is not cut or any part has a problem. Wherever this gives a
/// table, [`parse`] gives the same one.
#[doc(hidden)]
pub fn parse_cut(text: &str, params: &dyn ParamSource, pieces: usize) -> Option<DesiredTable> {
    let split = split::split_into(text, pieces, 0)?;
    check::check_split(&split, params, &[], &Limits::default())
}

fn check_size(text: &str, limits: &Limits) -> Result<(), Fatal> {
    if text.len() > limits.max_bytes {
        return Err(Fatal {
            at: Mark::START,
            message: format!(
                "the text has {} bytes, more than the limit of {}",
                text.len(),
                limits.max_bytes
            ),
        });
    }
    Ok(())
}

/// The file at `path`, refused (`FileTooLarge`, "`what` is at most `limit` bytes") when it
/// has more than `limit` bytes: a regular file by its size, before it is read; anything
/// else (a FIFO, `/dev/zero`, a file still growing) as [`read_at_most`] does.
pub(crate) fn read_file_at_most(path: &Path, limit: usize, what: &str) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    if file.metadata()?.len() > limit as u64 {
        return Err(too_large(what, limit));
    }
    read_at_most(file, limit, what)
}

/// `source` to its end, refused once it gives one byte more than `limit`, so that no
/// source can make it read (and keep) without end.
pub(crate) fn read_at_most(source: impl Read, limit: usize, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(too_large(what, limit));
    }
    Ok(bytes)
}

fn too_large(what: &str, limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("{what} is at most {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_source_is_read_to_one_byte_past_the_limit() {
        let refused = read_file_at_most(Path::new("/dev/zero"), 1000, "a test").unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(refused.to_string(), "a test is at most 1000 bytes");
        let mut endless = io::repeat(b'x');
        assert!(read_at_most(&mut endless, 1000, "a test").is_err());
        assert_eq!(read_at_most(&b"12345"[..], 5, "a test").unwrap(), b"12345");
    }
}
