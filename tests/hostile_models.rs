//! Hostile and unusual YAML: each refused with one positioned error as soon as a limit is
//! crossed (the bench's host section measures their time and memory), and the YAML
//! features a model may use (anchors, tags, quoting) keeping their meaning.

use std::process::{Command, Stdio};

use ipvsrs::desired::yaml::{parse, parse_with_limits, Limits, NoParams, Params};

/// The errors as "line:column message".
fn errors(text: &str) -> Vec<String> {
    errors_within(text, &Limits::default())
}

fn errors_within(text: &str, limits: &Limits) -> Vec<String> {
    match parse_with_limits(text, &NoParams, limits) {
        Ok(_) => panic!("model accepted: {}", &text[..text.len().min(200)]),
        Err(errors) => errors
            .0
            .iter()
            .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
            .collect(),
    }
}

/// `ipvsrs validate` of `text` (in a file): its exit code and standard error.
fn validate(name: &str, text: &str) -> (Option<i32>, String) {
    let path = std::env::temp_dir().join(format!("ipvsrs-hostile-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let result = validate_file(&path);
    std::fs::remove_file(&path).unwrap();
    result
}

fn validate_file(path: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ipvsrs"))
        .args(["validate", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("start ipvsrs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts the CLI refuses `text` with exit code 3 and exactly `error` (after the file name).
fn refused(name: &str, text: &str, error: &str) {
    let (code, stderr) = validate(name, text);
    assert_eq!(code, Some(3), "{stderr}");
    let reported = stderr.lines().next().unwrap_or_default();
    let message = reported.split_once(": ").map_or("", |(_, rest)| rest);
    let message = message.split_once(": ").map_or("", |(_, rest)| rest);
    assert_eq!(message, error, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn deep_flow_nesting_stops_at_the_depth_limit() {
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(errors(&text), vec!["1:33 nested deeper than 32 levels"]);
    refused(
        "flow",
        &text,
        "line 1, column 33: nested deeper than 32 levels",
    );
}

#[test]
fn deep_block_nesting_stops_at_the_depth_limit() {
    // Each line opens a mapping one level deeper: "a:\n b:\n  c: ...".
    let text: String = (0..10_000)
        .map(|depth| format!("{}k:\n", " ".repeat(depth)))
        .collect();
    assert_eq!(errors(&text), vec!["33:33 nested deeper than 32 levels"]);
    refused(
        "block",
        &text,
        "line 33, column 33: nested deeper than 32 levels",
    );
}

#[test]
fn an_alias_bomb_stops_at_the_expansion_limit() {
    // Ten levels of ten aliases each: 10^10 nodes if expanded.
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with("aliases expand to more than 100000 nodes"),
        "{errors:?}"
    );
    let (code, stderr) = validate("bomb", &text);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("aliases expand to more than 100000 nodes"),
        "{stderr}"
    );
}

#[test]
fn a_huge_value_is_refused_without_being_echoed() {
    let text = format!("services: {}\n", "a".repeat(10_000_000));
    assert_eq!(
        errors(&text),
        vec!["1:11 a value of 10000000 bytes is longer than the limit of 65536 bytes"]
    );
    refused(
        "scalar",
        &text,
        "line 1, column 11: a value of 10000000 bytes is longer than the limit of 65536 bytes",
    );
}

#[test]
fn a_second_document_is_refused_where_it_starts() {
    let text = "---\n{}\n".repeat(10_000);
    assert_eq!(
        errors(&text),
        vec!["3:1 a model is one YAML document; another one starts here"]
    );
    refused(
        "documents",
        &text,
        "line 3, column 1: a model is one YAML document; another one starts here",
    );
}

#[test]
fn a_text_over_the_size_limit_is_refused_before_parsing() {
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let text = format!("services: []\n#{}\n", "x".repeat(200));
    assert_eq!(
        errors_within(&text, &limits),
        vec!["1:1 the text has 215 bytes, more than the limit of 100"]
    );
}

#[test]
fn long_values_in_messages_are_cut() {
    let address = "x".repeat(1000);
    let errors = errors(&format!("services:\n  - address: {address}\n"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!(
            "2:14 service address \"{}...\" (1000 bytes): ",
            "x".repeat(60)
        )),
        "{errors:?}"
    );
}

#[test]
fn a_key_given_twice_is_an_error_at_the_second() {
    assert_eq!(
        errors("services:\n  - address: tcp://10.0.0.1:80\n    address: tcp://10.0.0.2:80\n"),
        vec!["3:5 \"address\" is given twice in a service"]
    );
}

#[test]
fn anchors_and_aliases_mean_what_they_expand_to() {
    let aliased = "\
services:
  - address: tcp://10.0.0.1:80
    destinations: &pool
      - { address: 10.1.0.1:80, weight: 2 }
      - { address: 10.1.0.2:80, weight: 3 }
  - address: tcp://10.0.0.2:80
    destinations: *pool
";
    let expanded = "\
services:
  - address: tcp://10.0.0.1:80
    destinations:
      - { address: 10.1.0.1:80, weight: 2 }
      - { address: 10.1.0.2:80, weight: 3 }
  - address: tcp://10.0.0.2:80
    destinations:
      - { address: 10.1.0.1:80, weight: 2 }
      - { address: 10.1.0.2:80, weight: 3 }
";
    let table = parse(aliased, &NoParams).unwrap();
    assert_eq!(table, parse(expanded, &NoParams).unwrap());
    assert_eq!(table.services[1].dests.len(), 2);
    assert_eq!(table.services[1].dests[1].dest.weight, 3);
}

#[test]
fn quoting_and_core_tags_decide_what_is_a_number() {
    let model = |weight: &str| {
        format!("services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - {{ address: 10.1.0.1:80, weight: {weight} }}\n")
    };
    let weight =
        |text: &str| parse(&model(text), &NoParams).map(|t| t.services[0].dests[0].dest.weight);
    assert_eq!(weight("7"), Ok(7));
    assert_eq!(weight("0x10"), Ok(16));
    assert_eq!(weight("0o17"), Ok(15));
    assert_eq!(weight("!!int \"9\""), Ok(9));
    assert_eq!(
        errors(&model("\"7\"")),
        vec!["4:41 weight must be a whole number in 0..65535, found \"7\""]
    );
    assert_eq!(
        errors(&model("2.5")),
        vec!["4:41 weight must be a whole number in 0..65535, found 2.5"]
    );
    assert_eq!(
        errors(&model("99999999999999999999999")),
        vec!["4:41 weight 99999999999999999999999 is not in 0..65535"]
    );
    assert_eq!(
        errors(&model("!custom 7")),
        vec!["4:49 weight must be a whole number in 0..65535, found a value tagged !custom"]
    );
}

#[test]
fn an_alias_inside_its_own_anchor_is_refused() {
    assert_eq!(
        errors("services: &s [*s]\n"),
        vec!["1:15 an alias inside the node it refers to"]
    );
}

#[test]
fn a_model_file_over_the_size_limit_is_not_read_to_its_end() {
    let path = std::env::temp_dir().join(format!("ipvsrs-hostile-{}-huge", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: a file of 64 GiB costs nothing to make.
    file.set_len(64 << 30).unwrap();
    let (code, stderr) = validate_file(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code, Some(3), "{stderr}");
    let limit = Limits::default().max_bytes;
    assert!(
        stderr.contains(&format!("a model is at most {limit} bytes")),
        "{stderr}"
    );
}

/// Found by fuzzing (fuzz/fuzz_targets/yaml_model.rs): the parameter error repeated a long
/// address uncut.
#[test]
fn a_long_address_with_a_broken_parameter_is_cut_once() {
    let address = format!("tcp://${{{}", "6".repeat(1000));
    assert_eq!(
        errors(&format!("services:\n  - address: {address}\n")),
        vec![format!(
            "2:14 address \"tcp://${{{}...\" (1008 bytes): it has a \"${{\" without its closing \"}}\"",
            "6".repeat(52)
        )]
    );
}

/// Found by fuzzing: a grammar error repeated a long piece of the address uncut.
#[test]
fn a_long_address_piece_is_cut_in_the_reason_too() {
    let mark = "x".repeat(1000);
    let errors = errors(&format!("services:\n  - address: fwmark:{mark}\n"));
    assert_eq!(
        errors,
        vec![format!(
            "2:14 service address \"fwmark:{}...\" (1007 bytes): fwmark \"{}...\" is not a number in 1..4294967295",
            "x".repeat(53),
            "x".repeat(40)
        )]
    );
}

#[test]
fn an_address_of_more_than_64_parameters_is_refused() {
    let params = Params::new().with_env_vars([("A", "1")]);
    let address = |count: usize| format!("tcp://10.0.0.1:{}", "${env.A}".repeat(count));
    let key = |count: usize| {
        parse(
            &format!("services: [{{ address: '{}' }}]\n", address(count)),
            &params,
        )
        .map(|table| table.services[0].service.key.to_string())
    };
    assert_eq!(key(2).unwrap(), "tcp://10.0.0.1:11");
    let errors = key(65).unwrap_err().to_string();
    assert!(
        errors.ends_with("it has more than 64 parameters"),
        "{errors}"
    );
}

#[test]
fn a_parameter_file_over_the_size_limit_is_refused_by_its_size() {
    let path = std::env::temp_dir().join(format!("ipvsrs-hostile-{}-params", std::process::id()));
    let limit = Limits::default().max_bytes;
    // Sparse, one byte over the limit: refused before it is read.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(limit as u64 + 1).unwrap();
    let refused = Params::new().with_values_file(&path);
    std::fs::remove_file(&path).unwrap();
    let message = refused.unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "cannot read parameter file {}: a parameter file is at most {limit} bytes",
            path.display()
        )
    );
}
