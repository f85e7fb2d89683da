//! The C compiler's verdict on a source: what the header tests compile to check.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// `source` checked by $CC (else cc) as C11, warnings as errors, with `args` added
/// (include directories, defines, more warnings); nothing is written.
pub fn check_c<A: AsRef<OsStr>>(source: &str, args: impl IntoIterator<Item = A>) -> Output {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut child = Command::new(cc)
        .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only"])
        .args(args)
        .args(["-x", "c", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the C compiler");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(source.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}
