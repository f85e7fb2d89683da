//! `--params-url`: parameter values fetched with an HTTP GET, as ipvsctl's flag of that
//! name. Plain `http://` only; the body is YAML or JSON, like a `--params-file`, and has
//! the same size limit. The whole fetch has a deadline, so a server that answers slowly
//! without end cannot hold the command.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ipvsrs::desired::yaml::Limits;

/// How long connecting, sending and each read may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How long the whole fetch (connecting, sending, reading the answer) may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// The body of a `200` answer to `GET url`, or what went wrong, naming the URL: within
/// [`DEADLINE`], and no larger than a parameter file may be.
pub fn fetch(url: &str) -> Result<String, String> {
    fetch_within(url, DEADLINE, Limits::default().max_bytes)
}

/// [`fetch`] with another deadline and body size limit.
fn fetch_within(url: &str, deadline: Duration, max_body: usize) -> Result<String, String> {
    let started = Instant::now();
    let failed = |what: String| format!("--params-url {url}: {what}");
    let late = || {
        failed(format!(
            "no whole answer within the deadline of {deadline:?}"
        ))
    };
    // What is left of the deadline, at most TIMEOUT: the bound of the next step.
    let step_timeout = || {
        let left = deadline.saturating_sub(started.elapsed());
        (!left.is_zero())
            .then(|| left.min(TIMEOUT))
            .ok_or_else(late)
    };
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
    let mut stream = TcpStream::connect_timeout(&target, step_timeout()?)
        .map_err(|e| failed(format!("cannot connect to {target}: {e}")))?;
    let io = |e: std::io::Error| failed(e.to_string());
    stream
        .set_write_timeout(Some(step_timeout()?))
        .map_err(io)?;
    // HTTP/1.0: the server closes the connection after a plain (never chunked) body.
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut answer = Vec::new();
    // Where the body starts, once the head's empty line has come.
    let mut body_start = None;
    let mut chunk = vec![0; 64 << 10];
    loop {
        let wait = step_timeout()?;
        stream.set_read_timeout(Some(wait)).map_err(io)?;
        let read = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // A wait cut short by the deadline: the next step reports it.
            Err(e) if is_timeout(&e) && wait < TIMEOUT => continue,
            Err(e) if is_timeout(&e) => {
                return Err(failed(format!("the server sent nothing for {TIMEOUT:?}")))
            }
            Err(e) => return Err(io(e)),
        };
        // The empty line may straddle two reads.
        let searched_from = answer.len().saturating_sub(3);
        answer.extend_from_slice(&chunk[..read]);
        if body_start.is_none() {
            body_start = (answer[searched_from..].windows(4))
                .position(|w| w == b"\r\n\r\n")
                .map(|at| searched_from + at + 4);
        }
        // Until the head has ended, all of the answer counts.
        if answer.len() - body_start.unwrap_or(0) > max_body {
            return Err(failed(format!(
                "the body has more than the limit of {max_body} bytes"
            )));
        }
    }
    let body_start = body_start.ok_or_else(|| failed("the answer is not HTTP".into()))?;
    let head = String::from_utf8_lossy(&answer[..body_start]);
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(failed(format!("the server answered {status:?}")));
    }
    answer.drain(..body_start);
    String::from_utf8(answer).map_err(|_| failed("the body is not UTF-8".into()))
}

/// Whether a read failed because its timeout passed (`WouldBlock` on Linux).
fn is_timeout(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;
    use std::time::Instant;

    use super::*;

    /// A server on a free loopback port that reads one request and hands the connection
    /// to `answer`, in a thread of its own; the URL it serves.
    fn serve(answer: impl FnOnce(TcpStream) + Send + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/values.yaml", listener.local_addr().unwrap());
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8];
            while !request.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
                request.push(byte[0]);
            }
            answer(stream);
        });
        url
    }

    const OK: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: application/yaml\r\n\r\n";

    #[test]
    fn a_body_up_to_the_limit_is_read() {
        let body = format!("a: 1\n#{}\n", "x".repeat(993));
        assert_eq!(body.len(), 1000);
        let sent = body.clone();
        let url = serve(move |mut stream| {
            let _ = stream.write_all(&[OK, sent.as_bytes()].concat());
        });
        assert_eq!(fetch_within(&url, Duration::from_secs(20), 1000), Ok(body));
    }

    #[test]
    fn an_answer_trickled_without_end_is_cut_at_the_deadline() {
        let url = serve(|mut stream| {
            let _ = stream.write_all(OK);
            // A byte at a time, well within the per-read timeout, until the client hangs up.
            while stream.write_all(b"#").is_ok() {
                thread::sleep(Duration::from_millis(20));
            }
        });
        let started = Instant::now();
        let error = fetch_within(&url, Duration::from_millis(300), 1000).unwrap_err();
        assert_eq!(
            error,
            format!("--params-url {url}: no whole answer within the deadline of 300ms")
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    }

    #[test]
    fn a_body_over_the_limit_is_refused_before_the_answer_ends() {
        let url = serve(|mut stream| {
            let _ = stream.write_all(&[OK, &[b'#'; 1001]].concat());
            // Held open: the limit, not the end of the answer, must stop the client.
            let _ = stream.read(&mut [0u8]);
        });
        let started = Instant::now();
        let error = fetch_within(&url, Duration::from_secs(20), 1000).unwrap_err();
        assert_eq!(
            error,
            format!("--params-url {url}: the body has more than the limit of 1000 bytes")
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    }
}
