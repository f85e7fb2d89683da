//! Parameters in address strings, as ipvsctl has them: `${env.NAME}`, `${host.IFNAME}`,
//! `${host.IFNAME_N}` and flattened keys (`${ports.web}`) from YAML or JSON files.
//! Placeholders may nest: `${backends.${env.STAGE}}`. Values are inserted as they are,
//! never expanded again, so a value cannot name another source.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::reader::{Fatal, Item, Kind, Node, Reader, Resolved};
use super::{read_file_at_most, Limits, ModelError};

/// Where parameter values come from. The parser asks for a name without the `${` `}`
/// (`env.PORT`, `host.eth0`, `ports.web`); `None` means unknown, which is a model error.
/// The value is used as it is: a `${` in it is text, not another parameter.
pub trait ParamSource: Sync {
    fn lookup(&self, name: &str) -> Option<String>;
}

/// A source that knows no parameter: every placeholder is an error.
pub struct NoParams;

impl ParamSource for NoParams {
    fn lookup(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Why a parameter file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ParamFileError {
    #[error("cannot read parameter file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parameter file {path} is not YAML or JSON: {error}")]
    Syntax { path: String, error: ModelError },
}

/// The usual sources, chained in ipvsctl's order (first hit wins): interface addresses
/// (`host.`), environment variables (`env.`), then value files in the order added.
/// Build it empty and add what the caller enabled; tests add their own values.
#[derive(Clone, Debug, Default)]
pub struct Params {
    interfaces: HashMap<String, Vec<IpAddr>>,
    env: HashMap<String, String>,
    files: Vec<HashMap<String, String>>,
}

impl Params {
    /// No sources at all.
    pub fn new() -> Params {
        Params::default()
    }

    /// Adds an interface and its addresses, in the order `${host.NAME_N}` numbers them.
    pub fn with_interface(mut self, name: &str, addrs: Vec<IpAddr>) -> Params {
        self.interfaces
            .entry(name.to_owned())
            .or_default()
            .extend(addrs);
        self
    }

    /// Adds the addresses of the host's interfaces (`getifaddrs`), as `${host.NAME}`.
    pub fn with_host_interfaces(mut self) -> std::io::Result<Params> {
        for (name, addr) in host_interface_addresses()? {
            self.interfaces.entry(name).or_default().push(addr);
        }
        Ok(self)
    }

    /// Adds variables as `${env.NAME}`.
    pub fn with_env_vars<I, K, V>(mut self, vars: I) -> Params
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds this process's environment as `${env.NAME}`. Unlike ipvsctl, values that
    /// contain `=` are kept; names or values that are not UTF-8 are skipped.
    pub fn with_process_env(self) -> Params {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        self.with_env_vars(vars)
    }

    /// Adds the values of a YAML or JSON document (JSON is read as YAML), nested keys
    /// flattened with dots (`ports: {web: 8443}` gives `ports.web`), list items by index.
    /// `origin` names the document in errors.
    pub fn with_values_text(mut self, text: &str, origin: &str) -> Result<Params, ParamFileError> {
        let flat = flatten_text(text).map_err(|fatal| ParamFileError::Syntax {
            path: origin.to_owned(),
            error: ModelError::at(fatal.at, fatal.message),
        })?;
        self.files.push(flat);
        Ok(self)
    }

    /// Adds the values of a YAML or JSON file, as [`Params::with_values_text`]. A file
    /// over the size limit of a model ([`Limits::max_bytes`]) is refused: a regular file
    /// by its size, before it is read, anything else (a FIFO, `/dev/zero`) one byte past
    /// the limit.
    pub fn with_values_file(self, path: &Path) -> Result<Params, ParamFileError> {
        let shown = path.display().to_string();
        let unreadable = |source| ParamFileError::Read {
            path: shown.clone(),
            source,
        };
        let limit = Limits::default().max_bytes;
        let bytes = read_file_at_most(path, limit, "a parameter file").map_err(unreadable)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        self.with_values_text(&text, &shown)
    }

    fn interface_address(&self, spec: &str) -> Option<IpAddr> {
        if let Some(addrs) = self.interfaces.get(spec) {
            return addrs.first().copied();
        }
        // `eth0_1` is the second address of eth0 (checked after the exact name, since an
        // interface may itself be called `x_1`).
        let (name, index) = spec.rsplit_once('_')?;
        let index: usize = index.parse().ok()?;
        self.interfaces.get(name)?.get(index).copied()
    }
}

impl ParamSource for Params {
    fn lookup(&self, name: &str) -> Option<String> {
        let from_host = name
            .strip_prefix("host.")
            .and_then(|spec| self.interface_address(spec))
            .map(|addr| addr.to_string());
        let from_env = || {
            name.strip_prefix("env.")
                .and_then(|var| self.env.get(var).cloned())
        };
        let from_files = || self.files.iter().find_map(|file| file.get(name).cloned());
        from_host.or_else(from_env).or_else(from_files)
    }
}

/// The document's scalars by their dotted paths (an empty text has none).
fn flatten_text(text: &str) -> Result<HashMap<String, String>, Fatal> {
    let limits = Limits::default();
    super::check_size(text, &limits)?;
    let mut reader = Reader::new(text, &limits);
    let mut flat = HashMap::new();
    if let Some(root) = reader.document()? {
        flatten(&mut reader, String::new(), root, &mut flat)?;
    }
    reader.finish()?;
    Ok(flat)
}

/// Adds `node` (whose items `reader` gives next) under `path`.
fn flatten(
    reader: &mut Reader,
    path: String,
    node: Node,
    out: &mut HashMap<String, String>,
) -> Result<(), Fatal> {
    let join = |key: &str| match path.is_empty() {
        true => key.to_owned(),
        false => format!("{path}.{key}"),
    };
    match node.kind {
        Kind::Scalar(scalar) => {
            if scalar.resolve() != Resolved::Null {
                out.insert(path, scalar.text.into_owned());
            }
        }
        Kind::Seq => {
            let mut index = 0usize;
            while let Item::Node(item) = reader.next()? {
                flatten(reader, join(&index.to_string()), item, out)?;
                index += 1;
            }
        }
        Kind::Map => {
            while let Item::Node(key) = reader.next()? {
                let Item::Node(value) = reader.next()? else {
                    break;
                };
                match key.kind {
                    // Values under keys that are collections have no name to look up.
                    Kind::Seq | Kind::Map => {
                        reader.skip_rest()?;
                        if value.is_collection() {
                            reader.skip_rest()?;
                        }
                    }
                    Kind::Scalar(key) => flatten(reader, join(&key.text), value, out)?,
                }
            }
        }
    }
    Ok(())
}

/// Replaces every `${name}` in `text` in one pass. Placeholders may nest in `text`
/// (`${backends.${env.STAGE}}`: the inner value becomes part of the outer name), but a
/// value is inserted as it is, never scanned again: a value holding `${...}` cannot pull
/// in another source. Fails with a message naming the first unknown parameter.
pub(crate) fn substitute<'a>(
    text: &'a str,
    params: &dyn ParamSource,
) -> Result<Cow<'a, str>, String> {
    // Bounds what one address can make of the values (each may be 64 KiB).
    const MAX_PLACEHOLDERS: usize = 64;
    if !text.contains("${") {
        return Ok(Cow::Borrowed(text));
    }
    // The text resolved so far, then the names of the placeholders still open, innermost
    // last: a value is appended to the one below it.
    let mut open = vec![String::new()];
    let mut placeholders = 0;
    let mut rest = text;
    while let Some(at) = rest.find(['$', '}']) {
        let (literal, tail) = rest.split_at(at);
        let in_placeholder = open.len() > 1;
        let top = open.last_mut().expect("the resolved text is never popped");
        top.push_str(literal);
        if let Some(after) = tail.strip_prefix("${") {
            placeholders += 1;
            if placeholders > MAX_PLACEHOLDERS {
                return Err(format!("it has more than {MAX_PLACEHOLDERS} parameters"));
            }
            open.push(String::new());
            rest = after;
        } else if let Some(after) = tail.strip_prefix('}').filter(|_| in_placeholder) {
            let name = open.pop().expect("a placeholder is open");
            let Some(value) = params.lookup(&name) else {
                return Err(format!(
                    "parameter ${{{name}}} is not defined (sources: host.IFNAME[_N], env.NAME, parameter files and URLs)"
                ));
            };
            open.last_mut()
                .expect("the resolved text is never popped")
                .push_str(&value);
            rest = after;
        } else {
            // A `$` that opens nothing, or a `}` that closes nothing, is text.
            let (sign, after) = tail.split_at(1);
            top.push_str(sign);
            rest = after;
        }
    }
    if open.len() > 1 {
        return Err("it has a \"${\" without its closing \"}\"".to_owned());
    }
    let mut resolved = open.pop().expect("the resolved text is never popped");
    resolved.push_str(rest);
    Ok(Cow::Owned(resolved))
}

/// Addresses of the host's interfaces in `getifaddrs` order (IPv4 before IPv6 on Linux).
fn host_interface_addresses() -> std::io::Result<Vec<(String, IpAddr)>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list that we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string; ifa_addr points to a sockaddr whose
        // family says which larger struct it is.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let addr = unsafe { sockaddr_ip(entry.ifa_addr) };
        if let Some(addr) = addr {
            found.push((name, addr));
        }
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
}

/// # Safety
/// `sa` must point to a valid sockaddr of the size its family implies.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    match i32::from((*sa).sa_family) {
        libc::AF_INET => {
            let sin = &*(sa as *const libc::sockaddr_in);
            Some(IpAddr::from(
                u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
            ))
        }
        libc::AF_INET6 => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            Some(IpAddr::from(sin6.sin6_addr.s6_addr))
        }
        _ => None,
    }
}
