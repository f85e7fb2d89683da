//! A long-lived caller's model cache: whatever the edit between two readings (none, a
//! weight, a service moved down by a new one, its parameters' values, the defaults, an
//! error, a duplicate at shifted lines), a cached reading gives exactly what a reading
//! without the cache gives, and reads only the services whose text or parameters changed.

use ipvsrs::desired::yaml::{parse, parse_cached, ModelCache, Params};

/// `services` services of two destinations each; service `with_param` (if any) takes its
/// port from `${env.PORT}`.
fn model(head: &str, services: usize, weight_of: impl Fn(usize) -> u32) -> String {
    let mut text = format!("{head}services:\n");
    for i in 0..services {
        text.push_str(&format!(
            "  - address: tcp://10.0.{}.{}:80\n    sched: wrr\n    destinations:\n      \
             - {{ address: 10.1.{}.{}:8080, weight: {} }}\n      - address: 10.2.{}.{}:8080\n",
            i / 256,
            i % 256,
            i / 256,
            i % 256,
            weight_of(i),
            i / 256,
            i % 256,
        ));
    }
    text
}

fn env(port: &str) -> Params {
    Params::new().with_env_vars([("PORT", port)])
}

/// Reads `text` with the cache and without; asserts both agree; how many services the
/// cached reading read.
fn read(cache: &mut ModelCache, text: &str, params: &Params) -> usize {
    let cached = parse_cached(text, params, &[], cache);
    assert_eq!(cached, parse(text, params));
    cache.services_read()
}

#[test]
fn a_cached_reading_equals_a_whole_one_and_reads_only_what_changed() {
    let params = env("8080");
    let base = model("", 300, |_| 5);
    let mut cache = ModelCache::new();
    assert_eq!(
        read(&mut cache, &base, &params),
        300,
        "a cold cache reads all"
    );
    assert_eq!(cache.len(), 300);
    assert_eq!(read(&mut cache, &base, &params), 0, "nothing changed");

    let one_weight = model("", 300, |i| if i == 17 { 6 } else { 5 });
    assert_eq!(read(&mut cache, &one_weight, &params), 1);

    // A service added at the top moves every other one down two lines.
    let moved = one_weight.replacen(
        "services:\n",
        "services:\n  - address: udp://10.9.0.1:53\n    destinations: []\n",
        1,
    );
    assert_eq!(read(&mut cache, &moved, &params), 1);

    let defaults = format!("defaults: {{ weight: 3, sched: rr }}\n{moved}");
    assert_eq!(
        read(&mut cache, &defaults, &params),
        0,
        "defaults apply afterwards"
    );
    let table = parse_cached(&defaults, &params, &[], &mut cache).unwrap();
    assert_eq!(table.services[0].service.scheduler, "rr");
}

#[test]
fn a_service_with_parameters_is_read_again_when_their_values_change() {
    let base = model("", 50, |_| 5).replacen("tcp://10.0.0.7:80", "tcp://10.0.0.7:${env.PORT}", 1);
    let mut cache = ModelCache::new();
    assert_eq!(read(&mut cache, &base, &env("8080")), 50);
    assert_eq!(read(&mut cache, &base, &env("8080")), 0);
    assert_eq!(read(&mut cache, &base, &env("9090")), 1, "its port changed");
    let table = parse_cached(&base, &env("9090"), &[], &mut cache).unwrap();
    assert!(table
        .services
        .iter()
        .any(|s| s.service.key.to_string() == "tcp://10.0.0.7:9090"));
    // An unknown parameter is an error, the same one either way, and empties the cache.
    assert!(parse_cached(&base, &Params::new(), &[], &mut cache).is_err());
    assert_eq!(read(&mut cache, &base, &Params::new()), 0);
    assert!(cache.is_empty());
}

#[test]
fn errors_are_those_of_a_whole_reading_at_their_own_lines() {
    let params = env("8080");
    let base = model("", 100, |_| 5);
    let mut cache = ModelCache::new();
    read(&mut cache, &base, &params);
    // A duplicate of service 3 at the end: the cached services sit two lines lower than
    // when they were read (service 3 at line 19, not 17); the messages name today's.
    let duplicate = format!("defaults: {{ port: 80 }}\n\n{base}  - address: tcp://10.0.0.3:80\n");
    let errors = parse_cached(&duplicate, &params, &[], &mut cache).unwrap_err();
    assert_eq!(Err(errors.clone()), parse(&duplicate, &params));
    assert!(
        errors
            .to_string()
            .contains("already defined at line 19, column 14"),
        "{errors}"
    );
    let invalid = base.replacen("weight: 5", "weight: 70000", 1);
    read(&mut cache, &base, &params);
    assert!(parse_cached(&invalid, &params, &[], &mut cache).is_err());
    assert_eq!(read(&mut cache, &invalid, &params), 0);
    assert_eq!(
        read(&mut cache, &base, &params),
        100,
        "an error empties the cache"
    );
}

#[test]
fn a_model_that_cannot_be_cut_is_read_whole() {
    let params = env("8080");
    let anchored = model("x: &w 5\n", 20, |_| 5);
    let mut cache = ModelCache::new();
    assert!(read(&mut cache, &anchored, &params) == 0 || cache.is_empty());
    assert!(cache.is_empty());
}

#[test]
fn a_parameter_named_in_a_value_is_no_dependency_of_its_service() {
    let base = model("", 20, |_| 5).replacen("tcp://10.0.0.7:80", "tcp://10.0.0.7:${env.PORT}", 1);
    let params = |port: &str, secret: &str| {
        Params::new().with_env_vars([("PORT", port), ("SECRET", secret)])
    };
    let mut cache = ModelCache::new();
    // The value `${env.SECRET}` stays text: the same error either way, whatever SECRET is.
    let errors = parse_cached(&base, &params("${env.SECRET}", "80"), &[], &mut cache)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("\"tcp://10.0.0.7:${env.SECRET}\""),
        "{errors}"
    );
    assert_eq!(read(&mut cache, &base, &params("8080", "80")), 20);
    assert_eq!(
        read(&mut cache, &base, &params("8080", "81")),
        0,
        "SECRET is not used"
    );
}
