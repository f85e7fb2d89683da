//! The text forms of ownership scopes and allowed actions (CLI flags, C options).

use ipvsrs::desired::{Action, ScopeRule};
use ipvsrs::model::Family;

fn scope(text: &str) -> ScopeRule {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn scopes_of_addresses_and_ports() {
    let addresses = |network: &str, prefix, ports| ScopeRule::Addresses {
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
