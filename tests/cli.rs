//! The `ipvsrs` binary without a kernel: validation, usage errors and help.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const VALID: &str = "\
services:
  - address: tcp://10.0.0.1:80
    sched: wrr
    destinations:
      - address: 10.1.0.1:8080
        weight: 3
";

/// Two errors: line 3 has an unknown scheduler, line 5 a destination without a port.
const INVALID: &str = "\
services:
  - address: tcp://10.0.0.1:80
    sched: fastest
    destinations:
      - address: 10.1.0.1:99999
";

/// Runs the binary with `args`, feeding `stdin`.
fn ipvsrs(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipvsrs"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ipvsrs");
    // A process that exits before reading (a usage error) closes the pipe: not a failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn model_file(name: &str, content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("ipvsrs-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn a_valid_model_passes_silently() {
    let path = model_file("valid.yaml", VALID);
    let out = ipvsrs(&["validate", "-f", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn an_invalid_model_reports_every_error_with_its_position() {
    let path = model_file("invalid.yaml", INVALID);
    let path = path.to_str().unwrap();
    let out = ipvsrs(&["validate", &format!("--file={path}")], "");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with(&format!("ipvsrs: {path}: line 3, column 12: ")));
    assert!(lines[0].contains("\"fastest\""), "{stderr}");
    assert!(lines[1].starts_with(&format!("ipvsrs: {path}: line 5, column 18: ")));
    assert!(lines[1].contains("99999"), "{stderr}");
}

#[test]
fn stdin_is_read_with_dash() {
    let valid = ipvsrs(&["validate", "-f", "-"], VALID);
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid.stderr));
    assert_eq!(text(&valid.stdout) + &text(&valid.stderr), "");
    let invalid = ipvsrs(&["validate", "-f", "-"], INVALID);
    assert_eq!(invalid.status.code(), Some(3));
    assert!(text(&invalid.stderr).contains("ipvsrs: <stdin>: line 3, column 12: "));
}

#[test]
fn parameters_resolve_from_the_environment_only_when_asked() {
    let model = VALID.replace("10.1.0.1", "${env.BACKEND}");
    let run = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ipvsrs"));
        child.args(args).env("BACKEND", "10.1.0.9");
        let path = model_file("params.yaml", &model);
        child.args(["validate", "-f", path.to_str().unwrap()]);
        child.output().unwrap().status.code()
    };
    assert_eq!(run(&["--params-env"]), Some(0));
    assert_eq!(run(&[]), Some(3));
}

#[test]
fn a_parameter_value_is_not_expanded_again() {
    let path = model_file(
        "params-twice.yaml",
        &VALID.replace("10.1.0.1", "${env.BACKEND}"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ipvsrs"))
        .args(["--params-env", "validate", "-f", path.to_str().unwrap()])
        .env("BACKEND", "${env.SECRET}")
        .env("SECRET", "10.1.0.9")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("\"${env.SECRET}:8080\""), "{stderr}");
    assert!(!stderr.contains("10.1.0.9"), "{stderr}");
}

#[test]
fn a_missing_file_is_an_invalid_model() {
    let out = ipvsrs(&["validate", "-f", "/nonexistent/ipvsrs.yaml"], "");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("/nonexistent/ipvsrs.yaml"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["validate", "--bogus"],
        &["validate", "-f"],
        &["validate", "--dry-run"],
        &["validate", "-v"],
        &["diff", "--verbose", "-f", "-"],
        &["get", "extra"],
        &["diff", "--format", "json", "-f", "-"],
        &["apply", "--allowed-actions=as,xx", "-f", "-"],
        &[
            "weight",
            "--service=tcp://10.0.0.1:80",
            "--destination=10.1.0.1:80",
        ],
        &[
            "weight",
            "70000",
            "--service=tcp://10.0.0.1:80",
            "--destination=10.1.0.1:80",
        ],
        &[
            "weight",
            "5",
            "--service=http://10.0.0.1:80",
            "--destination=10.1.0.1:80",
        ],
    ] {
        let out = ipvsrs(args, VALID);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).starts_with("ipvsrs: "), "{args:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    for flag in ["--help", "-h"] {
        let out = ipvsrs(&[flag], "");
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        for command in ["validate", "diff", "apply", "get", "weight", "--netns"] {
            assert!(help.contains(command), "{command} missing from help");
        }
        for code in 0..=5 {
            assert!(
                help.contains(&format!("  {code} ")),
                "exit code {code} missing"
            );
        }
    }
    let version = ipvsrs(&["--version"], "");
    assert_eq!(
        text(&version.stdout),
        format!("ipvsrs {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_misspelt_option_or_command_gets_a_suggestion() {
    for (args, suggestion) in [
        (&["apply", "--dryrun"][..], "'--dry-run'"),
        (&["aply"], "'apply'"),
        (&["list", "--stat"], "'--stats'"),
    ] {
        let out = ipvsrs(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("ipvsrs: ") && l.contains(suggestion)),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn help_of_a_command_names_its_options() {
    for args in [&["help", "list"][..], &["list", "--help"]] {
        let out = ipvsrs(args, "");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        for option in ["--stats", "--rate", "--json", "--netns"] {
            assert!(
                help.contains(option),
                "{args:?}: {option} missing from {help}"
            );
        }
    }
}

/// `apply` and `diff` report an invalid model as `validate` does (exit 3, every error),
/// whether or not this kernel has IPVS: the model is read before the kernel's failure.
#[test]
fn an_invalid_model_is_reported_whether_or_not_ipvs_is_there() {
    let path = model_file("invalid-apply.yaml", INVALID);
    let path = path.to_str().unwrap();
    for command in ["apply", "diff"] {
        let out = ipvsrs(&[command, "-f", path], "");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        assert_eq!(stderr.lines().count(), 2, "{command}: {stderr}");
        assert!(
            stderr.contains("line 3, column 12: "),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("line 5, column 18: "),
            "{command}: {stderr}"
        );
    }
    let outside = model_file("outside-scope.yaml", VALID);
    let out = ipvsrs(
        &[
            "apply",
            "-f",
            outside.to_str().unwrap(),
            "--scope",
            "192.0.2.0/24",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("outside the scope"));
}
