//! The pieces of `desired::converge` that need no kernel: which parameter sources are on,
//! reading and validating the model, and the errors with their errno.

use std::path::PathBuf;

use ipvsrs::desired::yaml::ParamSource;
use ipvsrs::desired::{Action, ConvergeError, ConvergeOptions, ModelSource, ParamSources};

fn temp_file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ipvsrs-converge-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

const MODEL: &str = "services:\n  - address: tcp://${vip}:80\n";

#[test]
fn every_source_is_off_unless_enabled() {
    std::env::set_var("IPVSRS_CONVERGE_TEST", "10.0.0.9");
    let none = ParamSources::default().resolve().unwrap();
    assert_eq!(none.lookup("env.IPVSRS_CONVERGE_TEST"), None);
    assert_eq!(none.lookup("host.lo"), None);
    let env = ParamSources {
        env: true,
        ..Default::default()
    };
    let env = env.resolve().unwrap();
    assert_eq!(
        env.lookup("env.IPVSRS_CONVERGE_TEST").as_deref(),
        Some("10.0.0.9")
    );
    assert_eq!(env.lookup("host.lo"), None);
    let network = ParamSources {
        network: true,
        ..Default::default()
    };
    let network = network.resolve().unwrap();
    assert_eq!(network.lookup("host.lo").as_deref(), Some("127.0.0.1"));
    assert_eq!(network.lookup("env.IPVSRS_CONVERGE_TEST"), None);
}

#[test]
fn files_then_documents_the_first_that_knows_a_name_wins() {
    let first = temp_file("first.yaml", "vip: 10.0.0.1\n");
    let second = temp_file("second.json", "{\"vip\": \"10.0.0.2\", \"port\": 8080}");
    let sources = ParamSources {
        files: vec![first, second],
        documents: vec![("{vip: 10.0.0.3, dest: 10.1.0.1}".into(), "a URL".into())],
        ..Default::default()
    };
    let params = sources.resolve().unwrap();
    assert_eq!(params.lookup("vip").as_deref(), Some("10.0.0.1"));
    assert_eq!(params.lookup("port").as_deref(), Some("8080"));
    assert_eq!(params.lookup("dest").as_deref(), Some("10.1.0.1"));
}

#[test]
fn unreadable_and_broken_parameter_files() {
    let missing = ParamSources {
        files: vec!["/nonexistent/values.yaml".into()],
        ..Default::default()
    };
    let e = missing.resolve().unwrap_err();
    assert!(matches!(e, ConvergeError::Params(_)), "{e:?}");
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(e.to_string().contains("/nonexistent/values.yaml"), "{e}");
    let broken = ParamSources {
        files: vec![temp_file("broken.yaml", "vip: [10.0.0.1\n")],
        ..Default::default()
    };
    let e = broken.resolve().unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert!(e.to_string().contains("is not YAML or JSON"), "{e}");
}

#[test]
fn a_model_loads_with_its_parameters() {
    let params = ParamSources {
        documents: vec![("vip: 10.0.0.1".into(), "values".into())],
        ..Default::default()
    };
    let table = ModelSource::Text(MODEL)
        .load(&params.resolve().unwrap())
        .unwrap();
    assert_eq!(
        table.services[0].service.key.to_string(),
        "tcp://10.0.0.1:80"
    );
    let path = temp_file("model.yaml", MODEL);
    let from_file = ModelSource::File(&path).load(&params.resolve().unwrap());
    assert_eq!(from_file.unwrap(), table);
}

#[test]
fn model_errors_name_the_model_on_every_line() {
    let path = temp_file(
        "invalid.yaml",
        "services:\n  - address: tcp://${vip}:80\n    sched: nosuch\n",
    );
    let e = ModelSource::File(&path)
        .load(&ParamSources::default().resolve().unwrap())
        .unwrap_err();
    assert!(matches!(e, ConvergeError::ModelInvalid { .. }), "{e:?}");
    assert_eq!(e.errno(), libc::EINVAL);
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let origin = format!("{}: line ", path.display());
    assert!(lines.iter().all(|l| l.starts_with(&origin)), "{text}");
    assert!(
        lines[0].contains("parameter ${vip} is not defined"),
        "{text}"
    );
    let text_model = ModelSource::Text("services: [").load(&Default::default());
    assert!(text_model
        .unwrap_err()
        .to_string()
        .starts_with("model: line "));
}

#[test]
fn an_unreadable_model() {
    let e = ModelSource::File("/nonexistent/model.yaml".as_ref())
        .load(&Default::default())
        .unwrap_err();
    assert!(matches!(e, ConvergeError::ModelUnreadable { .. }), "{e:?}");
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/model.yaml: "),
        "{e}"
    );
}

#[test]
fn the_default_options() {
    let options = ConvergeOptions::default();
    assert_eq!(options.allowed, Action::ALL);
    assert!(!options.dry_run);
    let params = &options.params;
    assert!(!params.env && !params.network && params.files.is_empty());
    assert!(params.documents.is_empty() && options.diff.scope.is_empty());
}

/// `ipvs_apply_yaml` reports an invalid model (`EINVAL`, every error with its place)
/// whether or not this kernel has IPVS.
#[test]
fn the_c_apply_reports_an_invalid_model_whether_or_not_ipvs_is_there() {
    use ipvsrs::capi::desired::ipvs_apply_yaml;
    use ipvsrs::capi::ipvsrs_last_error;
    let model = c"services:\n  - address: tcp://10.0.0.1:80\n    sched: fastest\n";
    let rc = ipvs_apply_yaml(
        std::ptr::null_mut(),
        model.as_ptr(),
        std::ptr::null(),
        std::ptr::null_mut(),
    );
    let errno = std::io::Error::last_os_error().raw_os_error();
    // SAFETY: the library's NUL-terminated string, valid until this thread's next call.
    let message = unsafe { std::ffi::CStr::from_ptr(ipvsrs_last_error()) };
    let message = message.to_string_lossy();
    assert_eq!((rc, errno), (-1, Some(libc::EINVAL)), "{message}");
    assert!(message.contains("line 3, column 12: "), "{message}");
    assert!(message.contains("\"fastest\""), "{message}");
}
