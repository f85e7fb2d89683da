//! The text forms of ownership scopes and allowed actions (CLI flags, C options).

use ipvsrs::desired::{Action, ScopeRule};
use ipvsrs::model::{Family, Protocol, ServiceKey};

fn scope(text: &str) -> ScopeRule {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn scopes_of_addresses_and_ports() {
    let addresses = |network: &str, prefix, ports| ScopeRule::Addresses {
        protocol: None,
        network: network.parse().unwrap(),
        prefix,
        ports,
    };
    assert_eq!(scope("10.0.0.0/24"), addresses("10.0.0.0", 24, (0, 65535)));
    assert_eq!(scope("10.0.0.0/24:80"), addresses("10.0.0.0", 24, (80, 80)));
    assert_eq!(
        scope("10.0.0.7:80-443"),
        addresses("10.0.0.7", 32, (80, 443))
    );
    assert_eq!(
        scope("2001:db8::/32"),
        addresses("2001:db8::", 32, (0, 65535))
    );
    assert_eq!(
        scope("[2001:db8::]/48:443"),
        addresses("2001:db8::", 48, (443, 443))
    );
    assert_eq!(
        scope("2001:db8::1:5"),
        addresses("2001:db8::1:5", 128, (0, 65535))
    );
}

/// A service key, as models, `weight --service` and the Python module's `Service.key`
/// write it, is the scope of that one service.
#[test]
fn a_service_key_is_a_scope() {
    let service = |text: &str| text.parse::<ServiceKey>().unwrap();
    for key in [
        "tcp://10.0.0.1:80",
        "udp://[2001:db8::1]:53",
        "sctp://10.0.0.2:3868",
        "fwmark:7",
        "fwmark6:4294967295",
    ] {
        let rule = scope(key);
        assert!(rule.covers(&service(key)), "{key}");
        for other in [
            "tcp://10.0.0.1:81",
            "udp://10.0.0.1:80",
            "tcp://10.0.0.3:80",
            "tcp://[2001:db8::1]:53",
            "fwmark:8",
            "fwmark6:7",
        ] {
            assert!(!rule.covers(&service(other)), "{key} covers {other}");
        }
    }
    assert_eq!(
        scope("udp://10.0.0.0/24:53-54"),
        ScopeRule::Addresses {
            protocol: Some(Protocol::Udp),
            network: "10.0.0.0".parse().unwrap(),
            prefix: 24,
            ports: (53, 54)
        }
    );
    let all_ports = scope("tcp://10.0.0.1");
    assert!(all_ports.covers(&service("tcp://10.0.0.1:8080")));
    assert!(!all_ports.covers(&service("udp://10.0.0.1:8080")));
}

#[test]
fn scopes_of_fwmarks() {
    assert_eq!(
        scope("fwmark:1-100"),
        ScopeRule::Fwmarks {
            family: Family::Inet,
            marks: (1, 100)
        }
    );
    assert_eq!(
        scope("fwmark6:7"),
        ScopeRule::Fwmarks {
            family: Family::Inet6,
            marks: (7, 7)
        }
    );
}

#[test]
fn bad_scopes_are_refused() {
    for text in [
        "10.0.0.0/33",
        "10.0.0.0/24:90-80",
        "10.0.0.0/24:70000",
        "fwmark:5-1",
        "example.com",
        "fwmark:x",
        "fwmark:0",
        "fwmark6:0-3",
        "fwmark:1-4294967296",
        "http://10.0.0.1:80",
        "tcp://10.0.0.1:",
        "10.0.0.0/:80",
        "[2001:db8::1:80",
    ] {
        let err = text.parse::<ScopeRule>().expect_err(text);
        assert!(err.contains(text), "{err}");
    }
}

#[test]
fn allowed_action_lists() {
    assert_eq!(Action::parse_list("*").unwrap(), Action::ALL);
    assert_eq!(
        Action::parse_list("as, dd").unwrap(),
        [Action::AddService, Action::DelDest]
    );
    assert_eq!(
        Action::parse_list("ut,ay,dy").unwrap(),
        [
            Action::UpdateTimeouts,
            Action::StartDaemon,
            Action::StopDaemon
        ]
    );
    assert_eq!(
        Action::parse_list("add-service,stop-daemon").unwrap(),
        [Action::AddService, Action::StopDaemon]
    );
    assert!(Action::parse_list("as,xx").unwrap_err().contains("\"xx\""));
}
