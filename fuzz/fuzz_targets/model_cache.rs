//! Two models, split at the first NUL byte (without one, the same model twice), read one
//! after the other with one cache (the second with other parameter values when the first
//! byte is odd; within a scope when its second bit is set): the second reading, and a
//! third of the same text, give exactly what reading it without a cache gives, table or
//! errors.
#![no_main]

use ipvsrs::desired::yaml::{parse_cached, parse_in_scope, ModelCache, Params};
use ipvsrs::desired::ScopeRule;
use libfuzzer_sys::fuzz_target;

fn params(port: &str) -> Params {
    Params::new()
        .with_env_vars([("PORT", port), ("VIP", "10.0.0.1"), ("NEST", "${env.PORT}")])
        .with_interface("eth0", vec!["192.0.2.1".parse().unwrap()])
}

fuzz_target!(|data: &[u8]| {
    let (first, second) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let (Ok(first), Ok(second)) = (std::str::from_utf8(first), std::str::from_utf8(second)) else {
        return;
    };
    let before = params("8080");
    let after = match data.first() {
        Some(byte) if byte % 2 == 1 => params("8081"),
        _ => params("8080"),
    };
    let scope = match data.first() {
        Some(byte) if byte & 2 != 0 => ScopeRule::parse_list("10.0.0.0/8,fwmark:1-9").unwrap(),
        _ => Vec::new(),
    };
    let mut cache = ModelCache::new();
    let first_whole = parse_in_scope(first, &before, &scope);
    assert_eq!(parse_cached(first, &before, &scope, &mut cache), first_whole);
    let expected = parse_in_scope(second, &after, &scope);
    assert_eq!(parse_cached(second, &after, &scope, &mut cache), expected, "after the first");
    assert_eq!(parse_cached(second, &after, &scope, &mut cache), expected, "read again");
});
