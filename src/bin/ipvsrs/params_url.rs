//! `--params-url`: parameter values fetched with an HTTP GET, as ipvsctl's flag of that
//! name. Plain `http://` only; the body is YAML or JSON, like a `--params-file`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long connecting, sending and each read may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The body of a `200` answer to `GET url`, or what went wrong, naming the URL.
pub fn fetch(url: &str) -> Result<String, String> {
    let failed = |what: String| format!("--params-url {url}: {what}");
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| failed("only http:// URLs are supported".into()))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    if authority.is_empty() {
        return Err(failed("no host".into()));
    }
    // A port follows the last colon, unless that colon is inside an IPv6 literal.
    let has_port = authority
        .rfind(':')
        .is_some_and(|colon| !authority[colon..].contains(']'));
    let address = match has_port {
        true => authority.to_owned(),
        false => format!("{authority}:80"),
    };
    let target = address
        .to_socket_addrs()
        .map_err(|e| failed(format!("cannot resolve {address}: {e}")))?
        .next()
        .ok_or_else(|| failed(format!("{address} has no address")))?;
    let mut stream = TcpStream::connect_timeout(&target, TIMEOUT)
        .map_err(|e| failed(format!("cannot connect to {target}: {e}")))?;
    let io = |e: std::io::Error| failed(e.to_string());
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    // HTTP/1.0: the server closes the connection after a plain (never chunked) body.
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(io)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| failed("the answer is not HTTP".into()))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(failed(format!("the server answered {status:?}")));
    }
    String::from_utf8(answer[split + 4..].to_vec())
        .map_err(|_| failed("the body is not UTF-8".into()))
}
