//! YAML models: parsing to a `DesiredTable`, defaults, parameters, and every validation
//! error with its line and column. Expected values are written from the YAML.

use std::net::IpAddr;

use ipvsrs::desired::yaml::{parse, ModelError, NoParams, ParamSource, Params};
use ipvsrs::desired::{DesiredDest, DesiredService, DesiredTable, DestState};
use ipvsrs::model::{
    Daemon, DaemonRole, Destination, Family, Forward, Protocol, Service, ServiceFlags, ServiceKey,
    Timeouts, Tunnel, TunnelFlags, TunnelType,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn table(text: &str, params: &dyn ParamSource) -> DesiredTable {
    parse(text, params).unwrap_or_else(|errors| panic!("model rejected:\n{errors}"))
}

/// The errors as "line:column message".
fn errors(text: &str) -> Vec<String> {
    let Err(errors) = parse(text, &NoParams) else {
        panic!("model accepted: {text}");
    };
    errors
        .0
        .iter()
        .map(
            |ModelError {
                 line,
                 column,
                 message,
             }| format!("{line}:{column} {message}"),
        )
        .collect()
}

fn service(key: ServiceKey, scheduler: &str, dests: Vec<DesiredDest>) -> DesiredService {
    DesiredService {
        service: Service::new(key, scheduler),
        dests,
    }
}

fn dest(addr: &str, port: u16, forward: Forward, weight: i32) -> DesiredDest {
    let mut dest = Destination::new(ip(addr), port, forward);
    dest.weight = weight;
    DesiredDest {
        dest,
        state: DestState::Active,
    }
}

#[test]
fn empty_mapping_is_an_empty_table() {
    assert_eq!(table("{}", &NoParams), DesiredTable::default());
    assert_eq!(table("services: []\n", &NoParams), DesiredTable::default());
}

#[test]
fn ipvsctl_readme_example() {
    let text = "services:
- address: tcp://${host.eth0}:7656
  sched: rr
  destinations:
  - address: 10.50.0.1:${env.MYPORT}
    forward: nat
  - address: 10.50.0.2:${env.MYPORT}
    forward: nat
";
    let params = Params::new()
        .with_interface("eth0", vec![ip("10.1.2.3")])
        .with_env_vars([("MYPORT", "8080")]);
    let expected = DesiredTable {
        services: vec![service(
            ServiceKey::tcp(ip("10.1.2.3"), 7656),
            "rr",
            vec![
                dest("10.50.0.1", 8080, Forward::Masq, 1),
                dest("10.50.0.2", 8080, Forward::Masq, 1),
            ],
        )],
        ..DesiredTable::default()
    };
    assert_eq!(table(text, &params), expected);
}

/// ipvsctl's tests/fixtures/apply-defaults.yaml, with the values its bats test expects.
#[test]
fn ipvsctl_defaults_fixture() {
    let text = "defaults:
  port: 80
  sched: wrr
  forward: direct
  weight: 2
services:
  - address: tcp://1.2.3.4
    destinations: 
    - address: 10.0.0.1
      weight: 1
    - address: 10.0.0.2
    - address: 10.0.0.3
      weight: 3      
  - address: tcp://5.6.7.8:90
    destinations: 
    - address: 10.0.1.1:90
      forward: nat
    - address: 10.0.1.2:90
      forward: nat
  - address: tcp://9.10.11.12:80
    sched: rr 
    destinations: 
    - address: 10.0.2.1:100
      weight: 1
      forward: tunnel
    - address: 10.0.2.2:100
      weight: 1
      forward: tunnel
";
    let expected = vec![
        service(
            ServiceKey::tcp(ip("1.2.3.4"), 80),
            "wrr",
            vec![
                dest("10.0.0.1", 80, Forward::Route, 1),
                dest("10.0.0.2", 80, Forward::Route, 2),
                dest("10.0.0.3", 80, Forward::Route, 3),
            ],
        ),
        service(
            ServiceKey::tcp(ip("5.6.7.8"), 90),
            "wrr",
            vec![
                dest("10.0.1.1", 90, Forward::Masq, 2),
                dest("10.0.1.2", 90, Forward::Masq, 2),
            ],
        ),
        service(
            ServiceKey::tcp(ip("9.10.11.12"), 80),
            "rr",
            vec![
                dest("10.0.2.1", 100, Forward::Tunnel, 1),
                dest("10.0.2.2", 100, Forward::Tunnel, 1),
            ],
        ),
    ];
    assert_eq!(table(text, &NoParams).services, expected);
}

/// The example in the module documentation: every field.
#[test]
fn model_doc_example_every_field() {
    let text = "defaults: { port: 80, weight: 1, sched: wrr, forward: nat }
timeouts: { tcp: 900, tcpfin: 120, udp: 300 }
daemons:
  - { role: master, interface: eth0, syncid: 1, maxlen: 1472, group: 224.0.0.81, port: 8848, ttl: 1 }
services:
  - address: tcp://10.1.2.3:80
    sched: sh
    flags: [sh-port, sh-fallback, flag-3]
    persistence: { timeout: 600, netmask: 255.255.255.0, engine: sip }
    destinations:
      - address: 10.50.0.1:8080
        forward: tunnel
        weight: 100
        thresholds: { upper: 1000, lower: 100 }
        tunnel: { type: gue, port: 6080, checksum: remcsum }
        state: draining
      - address: 10.50.0.2
        state: maintenance
";
    let got = table(text, &NoParams);
    assert_eq!(
        got.timeouts,
        Some(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        })
    );
    let mut daemon = Daemon::new(DaemonRole::Master, "eth0", 1);
    daemon.sync_maxlen = 1472;
    daemon.mcast_group = Some(ip("224.0.0.81"));
    daemon.mcast_port = 8848;
    daemon.mcast_ttl = 1;
    assert_eq!(got.daemons, Some(vec![daemon]));

    let mut svc = Service::new(ServiceKey::tcp(ip("10.1.2.3"), 80), "sh");
    svc.flags = ServiceFlags::SH_PORT
        | ServiceFlags::SH_FALLBACK
        | ServiceFlags::SCHED3
        | ServiceFlags::PERSISTENT;
    svc.timeout = 600;
    svc.netmask = 0xffff_ff00;
    svc.pe_name = Some("sip".to_owned());
    let mut tunnelled = dest("10.50.0.1", 8080, Forward::Tunnel, 100);
    tunnelled.dest.upper_threshold = 1000;
    tunnelled.dest.lower_threshold = 100;
    tunnelled.dest.tunnel = Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        flags: TunnelFlags::REMCSUM,
    };
    tunnelled.state = DestState::Draining;
    let mut kept = dest("10.50.0.2", 80, Forward::Masq, 1);
    kept.state = DestState::Maintenance;
    assert_eq!(
        got.services,
        vec![DesiredService {
            service: svc,
            dests: vec![tunnelled, kept]
        }]
    );
}

#[test]
fn defaults_without_a_defaults_section() {
    let text = "services:
  - address: udp://10.0.0.1:53
    destinations:
      - address: 10.0.0.2
      - address: 10.0.0.3:5353
        weight: 0
";
    let got = table(text, &NoParams);
    // rr, direct routing, weight 1, the service's port; an explicit 0 stays 0.
    let expected = service(
        ServiceKey::udp(ip("10.0.0.1"), 53),
        "rr",
        vec![
            dest("10.0.0.2", 53, Forward::Route, 1),
            dest("10.0.0.3", 5353, Forward::Route, 0),
        ],
    );
    assert_eq!(got.services, vec![expected]);
    assert_eq!(got.timeouts, None);
    assert_eq!(got.daemons, None);
}

#[test]
fn explicit_zero_weight_beats_default_weight() {
    let text = "defaults: { weight: 5 }
services:
  - address: tcp://10.0.0.1:80
    destinations: [{ address: 10.0.0.2, weight: 0 }, { address: 10.0.0.3 }]
";
    let weights: Vec<i32> = table(text, &NoParams).services[0]
        .dests
        .iter()
        .map(|d| d.dest.weight)
        .collect();
    assert_eq!(weights, vec![0, 5]);
}

#[test]
fn ipv6_services_and_destinations() {
    let text = "services:
  - address: tcp://[2001:db8::1]:0443
    persistence: { prefix: 64 }
    destinations:
      - address: '[2001:db8::10]:8443'
      - address: 2001:db8::11
      - address: 10.0.0.5:8443
        forward: tunnel
";
    let got = table(text, &NoParams);
    let mut svc = Service::new(ServiceKey::tcp(ip("2001:db8::1"), 443), "rr");
    svc.flags = ServiceFlags::PERSISTENT;
    svc.timeout = 300;
    svc.netmask = 64;
    assert_eq!(
        got.services,
        vec![DesiredService {
            service: svc,
            dests: vec![
                dest("2001:db8::10", 8443, Forward::Route, 1),
                dest("2001:db8::11", 443, Forward::Route, 1),
                dest("10.0.0.5", 8443, Forward::Tunnel, 1),
            ],
        }]
    );
}

#[test]
fn fwmark_services() {
    let text = "services:
  - address: fwmark:7
    destinations: [{ address: 10.0.0.2 }]
  - address: fwmark6:7
    sched: mh
    flags: [mh-port]
  - address: sctp://10.0.0.1:9
";
    let got = table(text, &NoParams);
    let keys: Vec<ServiceKey> = got.services.iter().map(|s| s.service.key).collect();
    assert_eq!(
        keys,
        vec![
            ServiceKey::fwmark(Family::Inet, 7),
            ServiceKey::fwmark(Family::Inet6, 7),
            ServiceKey::Addr {
                protocol: Protocol::Sctp,
                addr: ip("10.0.0.1"),
                port: 9
            },
        ]
    );
    // A fwmark service has no port: its destinations get 0 unless they say otherwise.
    assert_eq!(got.services[0].dests[0].dest.port, 0);
    assert_eq!(got.services[1].service.flags, ServiceFlags::MH_PORT);
    assert_eq!(got.services[1].service.netmask, 128);
}

#[test]
fn parameters_from_env_host_and_files() {
    let params = Params::new()
        .with_interface("eth0", vec![ip("10.1.2.3"), ip("10.1.2.4")])
        .with_env_vars([("STAGE", "test"), ("PORT", "8080")])
        .with_values_text("some:\n  ip: \"10.5.4.3\"\n  port: 1234\n", "a.yaml")
        .unwrap()
        .with_values_text(
            r#"{"backends": {"test": "192.168.1.10"}, "some": {"ip": "9.9.9.9"}}"#,
            "b.json",
        )
        .unwrap();
    let text = "services:
  - address: tcp://${some.ip}:${some.port}
    destinations:
      - address: ${host.eth0_1}:${env.PORT}
      - address: ${backends.${env.STAGE}}
";
    let got = table(text, &params);
    // First file wins for some.ip; eth0_1 is eth0's second address; nested names resolve.
    assert_eq!(
        got.services[0].service.key,
        ServiceKey::tcp(ip("10.5.4.3"), 1234)
    );
    let dests: Vec<(IpAddr, u16)> = got.services[0]
        .dests
        .iter()
        .map(|d| (d.dest.addr, d.dest.port))
        .collect();
    assert_eq!(
        dests,
        vec![(ip("10.1.2.4"), 8080), (ip("192.168.1.10"), 1234)]
    );
}

#[test]
fn parameters_from_a_file_on_disk() {
    let path = std::env::temp_dir().join(format!("ipvsrs-params-{}.yaml", std::process::id()));
    std::fs::write(&path, "ports:\n  web: 8443\n").unwrap();
    let params = Params::new().with_values_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let got = table(
        "services: [{ address: 'tcp://10.0.0.1:${ports.web}' }]",
        &params,
    );
    assert_eq!(
        got.services[0].service.key,
        ServiceKey::tcp(ip("10.0.0.1"), 8443)
    );
    assert!(Params::new().with_values_file(&path).is_err());
    assert!(Params::new().with_values_text("a: [1", "bad.yaml").is_err());
}

#[test]
fn a_parameter_value_is_inserted_as_it_is_never_expanded_again() {
    // A value from one source that holds a placeholder must not reach into another.
    let params = Params::new()
        .with_env_vars([("BACKEND", "${env.SECRET}"), ("SECRET", "10.9.9.9")])
        .with_values_text("web: \"${env.SECRET}\"\n", "values.yaml")
        .unwrap();
    for placeholder in ["${env.BACKEND}", "${web}"] {
        let text = format!("services:\n  - address: tcp://{placeholder}:80\n");
        let Err(errors) = parse(&text, &params) else {
            panic!("{placeholder} expanded twice into an address");
        };
        let messages = errors.to_string();
        assert!(!messages.contains("10.9.9.9"), "{messages}");
        assert_eq!(errors.0.len(), 1, "{messages}");
        assert_eq!(
            (errors.0[0].line, errors.0[0].column),
            (2, 14),
            "{messages}"
        );
        assert!(
            errors.0[0].message.contains("\"tcp://${env.SECRET}:80\""),
            "{messages}"
        );
    }
}

#[test]
fn missing_parameter_is_an_error_at_its_address() {
    assert_eq!(
        errors("services:\n  - address: tcp://${env.NOPE}:80\n"),
        vec!["2:14 address \"tcp://${env.NOPE}:80\": parameter ${env.NOPE} is not defined (sources: host.IFNAME[_N], env.NAME, parameter files and URLs)"]
    );
}

#[test]
fn yaml_syntax_error_has_its_position() {
    assert_eq!(
        errors("services:\n  - address: [1\n"),
        vec!["2:14 YAML syntax: unclosed bracket '['"]
    );
    assert_eq!(
        errors(""),
        vec!["1:1 the model is empty; write {} for an empty table"]
    );
}

/// One error per case: the model, then "line:column message".
#[test]
fn each_validation_error_with_its_position() {
    let service = |address: &str| format!("services:\n  - address: {address}\n");
    let cases: Vec<(String, &str)> = vec![
        (service("10.0.0.1:80"), "2:14 service address \"10.0.0.1:80\": expected PROTOCOL://IP[:PORT] (tcp, udp, sctp; IPv6 as [IP]), fwmark:N or fwmark6:N"),
        (service("icmp://10.0.0.1:80"), "2:14 service address \"icmp://10.0.0.1:80\": protocol \"icmp\" is not one of tcp, udp, sctp"),
        (service("tcp://10.0.0.1:99999"), "2:14 service address \"tcp://10.0.0.1:99999\": port \"99999\" is not a number in 0..65535"),
        (service("tcp://10.0.0.1:http"), "2:14 service address \"tcp://10.0.0.1:http\": port \"http\" is not a number in 0..65535"),
        (service("tcp://10.0.0.1"), "2:14 service address \"tcp://10.0.0.1\": it has no port and there is no defaults.port"),
        (service("tcp://10.0.0.1:0"), "2:14 service address \"tcp://10.0.0.1:0\": port 0 (all ports) needs persistence"),
        (service("tcp://example.org:80"), "2:14 service address \"tcp://example.org:80\": \"example.org\" is not an IP address (IPv4, or IPv6 in brackets)"),
        (service("fwmark:0"), "2:14 service address \"fwmark:0\": fwmark \"0\" is not a number in 1..4294967295"),
        (service("fwmark:x"), "2:14 service address \"fwmark:x\": fwmark \"x\" is not a number in 1..4294967295"),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    sched: fastest\n".into(),
            "3:12 scheduler \"fastest\" is not one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    flags: [sh-prot]\n".into(),
            "3:13 flag \"sh-prot\" is not one of sh-fallback, sh-port, mh-fallback, mh-port, flag-1, flag-2, flag-3, one-packet",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    sched: mh\n    flags: [mh-port, sh-port]\n".into(),
            "4:22 flag sh-port needs scheduler sh, not mh",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    flags: [one-packet]\n".into(),
            "3:13 flag one-packet is for udp services only",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        forward: bridge\n".into(),
            "5:18 forward \"bridge\" is not one of nat, direct, tunnel, local",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - { address: 10.0.0.2, weight: 65536 }\n".into(),
            "4:38 weight 65536 is not in 0..65535",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - { address: 10.0.0.2, weight: -1 }\n".into(),
            "4:38 weight -1 is not in 0..65535",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - { address: 10.0.0.2, weight: heavy }\n".into(),
            "4:38 weight must be a whole number in 0..65535, found \"heavy\"",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        thresholds: { upper: 10, lower: 20 }\n".into(),
            "5:41 lower threshold 20 is above the upper threshold 10",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        forward: tunnel\n        tunnel: { type: gue }\n".into(),
            "6:17 tunnel type gue needs a port (1..65535)",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        forward: tunnel\n        tunnel: { type: gre, port: 5 }\n".into(),
            "6:36 a tunnel port is for type gue only",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        forward: nat\n        tunnel:\n          type: ipip\n".into(),
            "7:11 tunnel settings need forward: tunnel",
        ),
        (
            "services:\n  - address: tcp://[2001:db8::1]:80\n    persistence:\n      netmask: 255.255.255.0\n".into(),
            "4:16 netmask is for IPv4 services; use prefix: 1..128 for IPv6",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    persistence:\n      prefix: 24\n".into(),
            "4:15 prefix is for IPv6 services; use netmask (like 255.255.255.0) for IPv4",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    persistence:\n      netmask: 255.255.0.256\n".into(),
            "4:16 netmask \"255.255.0.256\" is not an IPv4 netmask like 255.255.255.0",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n  - address: tcp://10.0.0.1:0080\n".into(),
            "3:14 service tcp://10.0.0.1:80 is already defined at line 2, column 14",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n      - address: 10.0.0.2:80\n".into(),
            "5:18 destination 10.0.0.2:80 is already defined at line 4, column 18",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: '[2001:db8::2]:80'\n".into(),
            "4:18 IPv6 destination 2001:db8::2 under an IPv4 service needs forward: tunnel",
        ),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        wieght: 3\n".into(),
            "5:9 unknown key \"wieght\" in a destination; allowed: address, forward, weight, thresholds, tunnel, state",
        ),
        ("service: []\n".into(), "1:1 unknown key \"service\" in the model; allowed: defaults, timeouts, daemons, services"),
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.0.0.2\n        state: up\n".into(),
            "5:16 state \"up\" is not one of active, maintenance, draining",
        ),
        ("services:\n  - sched: rr\n".into(), "2:5 a service needs \"address\""),
        ("services: tcp://10.0.0.1:80\n".into(), "1:11 services must be a list, found \"tcp://10.0.0.1:80\""),
        ("defaults: { forward: bridge }\n".into(), "1:22 forward \"bridge\" is not one of nat, direct, tunnel, local"),
        ("defaults: { port: 0 }\n".into(), "1:19 port 0 is not in 1..65535"),
        ("timeouts: { tcp: -5 }\n".into(), "1:18 timeout tcp -5 is not in 0..2147483"),
        // The kernel refuses more than INT_MAX / HZ seconds (HZ is at most 1000)...
        ("timeouts: { udp: 2147484 }\n".into(), "1:18 timeout udp 2147484 is not in 0..2147483"),
        // ... and keeps timeout * HZ of a service in 32 bits: ipvsadm's 31 days fit.
        (
            "services:\n  - address: tcp://10.0.0.1:80\n    persistence: { timeout: 2678401 }\n".into(),
            "3:29 persistence timeout 2678401 is not in 1..2678400",
        ),
        (
            "daemons:\n  - { role: master, interface: eth0 }\n  - { role: master, interface: eth1 }\n".into(),
            "3:13 a daemon with role master is already defined at line 2, column 13",
        ),
        ("daemons:\n  - { role: primary, interface: eth0 }\n".into(), "2:13 role \"primary\" is not one of master, backup"),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter(|(text, expected)| errors(text) != vec![expected.to_string()])
        .map(|(text, expected)| {
            format!(
                "model:\n{text}expected: {expected}\ngot: {:?}",
                errors(text)
            )
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn several_errors_are_reported_together_in_text_order() {
    let text = "defaults:
  sched: nope
services:
  - address: tcp://10.0.0.1:80
    destinations:
      - address: 10.0.0.2
        forward: bridge
        wieght: 3
      - address: 10.0.0.300
  - address: udp://10.0.0.1:80
    sched: sh
    flags: [mh-port]
";
    assert_eq!(
        errors(text),
        vec![
            "2:10 scheduler \"nope\" is not one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos",
            "7:18 forward \"bridge\" is not one of nat, direct, tunnel, local",
            "8:9 unknown key \"wieght\" in a destination; allowed: address, forward, weight, thresholds, tunnel, state",
            "9:18 destination address \"10.0.0.300\": \"10.0.0.300\" is not an IP address (IPv4, or IPv6 in brackets)",
            "12:13 flag mh-port needs scheduler mh, not sh",
        ]
    );
}

#[test]
fn errors_display_one_per_line() {
    let Err(errors) = parse("services:\n  - {}\n  - 3\n", &NoParams) else {
        panic!("accepted");
    };
    assert_eq!(
        errors.to_string(),
        "line 2, column 5: a service needs \"address\"\nline 3, column 5: a service must be a mapping, found 3"
    );
}

#[test]
fn host_interfaces_come_from_getifaddrs() {
    let params = Params::new().with_host_interfaces().unwrap();
    assert_eq!(params.lookup("host.lo").as_deref(), Some("127.0.0.1"));
    assert_eq!(params.lookup("host.no-such-interface"), None);
}
