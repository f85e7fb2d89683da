//! The address, scope and action grammars never panic, and a key's text parses back to
//! the same key.
#![no_main]

use ipvsrs::desired::{Action, ScopeRule};
use ipvsrs::model::{DestAddress, DestKey, ServiceAddress, ServiceKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = text.parse::<ServiceAddress>();
    let _ = text.parse::<DestAddress>();
    let _ = text.parse::<ScopeRule>();
    let _ = Action::parse_list(text);
    if let Ok(key) = text.parse::<ServiceKey>() {
        assert_eq!(key.to_string().parse::<ServiceKey>(), Ok(key), "{text:?}");
        // A service's key is also the scope that owns exactly it.
        assert!(key.to_string().parse::<ScopeRule>().is_ok(), "{key}");
    }
    if let Ok(key) = text.parse::<DestKey>() {
        assert_eq!(key.to_string().parse::<DestKey>(), Ok(key), "{text:?}");
    }
});
