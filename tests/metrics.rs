//! Metrics rendering of a scrape built by hand: Influx line protocol with telegraf's
//! names and 64-bit values, and Prometheus text with HELP, TYPE and escaped labels.

use std::net::IpAddr;

use ipvsrs::metrics::{influx, prometheus, Scrape};
use ipvsrs::model::{
    DestEntry, Destination, Family, Forward, Service, ServiceEntry, ServiceKey, Stats,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Counters that tell the fields apart: conns 1, inpkts 2, ... outbps 10, plus `base`.
fn stats(base: u64) -> Stats {
    Stats {
        conns: base + 1,
        inpkts: base + 2,
        outpkts: base + 3,
        inbytes: base + 4,
        outbytes: base + 5,
        cps: base + 6,
        inpps: base + 7,
        outpps: base + 8,
        inbps: base + 9,
        outbps: base + 10,
    }
}

/// A TCP service with one NAT destination (beyond 32 bits), and an IPv6 fwmark service
/// with a /64 persistence prefix and an IPv6 destination.
fn scrape() -> Scrape {
    let mut web = Service::new(ServiceKey::tcp(ip("10.0.0.1"), 80), "wrr");
    web.netmask = 0xffff_ff00;
    let mut marked = Service::new(ServiceKey::fwmark(Family::Inet6, 7), "sh");
    marked.netmask = 64;
    let mut backend = Destination::new(ip("10.1.0.1"), 8080, Forward::Masq);
    backend.weight = 5;
    let mut backend6 = Destination::new(ip("2001:db8::2"), 0, Forward::Route);
    backend6.weight = 0;
    Scrape {
        services: vec![
            (
                ServiceEntry {
                    service: web,
                    stats: stats(1 << 40),
                },
                vec![DestEntry {
                    dest: backend,
                    active_conns: 3,
                    inactive_conns: 4,
                    persistent_conns: 0,
                    stats: stats(100),
                }],
            ),
            (
                ServiceEntry {
                    service: marked,
                    stats: stats(0),
                },
                vec![DestEntry {
                    dest: backend6,
                    active_conns: 0,
                    inactive_conns: 1,
                    persistent_conns: 0,
                    stats: stats(200),
                }],
            ),
        ],
    }
}

#[test]
fn influx_lines_carry_telegrafs_names() {
    let expected = "\
ipvs_virtual_server,address=10.0.0.1,address_family=inet,netmask=24,port=80,protocol=tcp,sched=wrr connections=1099511627777i,pkts_in=1099511627778i,pkts_out=1099511627779i,bytes_in=1099511627780i,bytes_out=1099511627781i,cps=1099511627782i,pps_in=1099511627783i,pps_out=1099511627784i,bps_in=1099511627785i,bps_out=1099511627786i 1700000000000000000
ipvs_real_server,address=10.1.0.1,address_family=inet,port=8080,virtual_address=10.0.0.1,virtual_port=80,virtual_protocol=tcp active_connections=3i,inactive_connections=4i,weight=5i,connections=101i,pkts_in=102i,pkts_out=103i,bytes_in=104i,bytes_out=105i,cps=106i,pps_in=107i,pps_out=108i,bps_in=109i,bps_out=110i 1700000000000000000
ipvs_virtual_server,address_family=inet6,fwmark=7,netmask=64,sched=sh connections=1i,pkts_in=2i,pkts_out=3i,bytes_in=4i,bytes_out=5i,cps=6i,pps_in=7i,pps_out=8i,bps_in=9i,bps_out=10i 1700000000000000000
ipvs_real_server,address=2001:db8::2,address_family=inet6,port=0,virtual_fwmark=7 active_connections=0i,inactive_connections=1i,weight=0i,connections=201i,pkts_in=202i,pkts_out=203i,bytes_in=204i,bytes_out=205i,cps=206i,pps_in=207i,pps_out=208i,bps_in=209i,bps_out=210i 1700000000000000000
";
    assert_eq!(influx(&scrape(), 1_700_000_000_000_000_000), expected);
}

#[test]
fn an_empty_table_has_no_lines() {
    assert_eq!(influx(&Scrape::default(), 1), "");
}

#[test]
fn prometheus_families_have_help_type_and_labels() {
    let text = prometheus(&scrape());
    let family = |name: &str| -> Vec<&str> {
        text.lines()
            .filter(|l| {
                l.split(['{', ' '])
                    .nth(if l.starts_with('#') { 2 } else { 0 })
                    == Some(name)
            })
            .collect()
    };
    assert_eq!(
        family("ipvs_virtual_server_connections_total"),
        [
            "# HELP ipvs_virtual_server_connections_total Connections scheduled (virtual server).",
            "# TYPE ipvs_virtual_server_connections_total counter",
            "ipvs_virtual_server_connections_total{address=\"10.0.0.1\",address_family=\"inet\",netmask=\"24\",port=\"80\",protocol=\"tcp\",sched=\"wrr\"} 1099511627777",
            "ipvs_virtual_server_connections_total{address_family=\"inet6\",fwmark=\"7\",netmask=\"64\",sched=\"sh\"} 1",
        ]
    );
    assert_eq!(
        family("ipvs_real_server_bps_out"),
        [
            "# HELP ipvs_real_server_bps_out Bytes per second to clients, as the kernel estimates it (real server).",
            "# TYPE ipvs_real_server_bps_out gauge",
            "ipvs_real_server_bps_out{address=\"10.1.0.1\",address_family=\"inet\",port=\"8080\",virtual_address=\"10.0.0.1\",virtual_port=\"80\",virtual_protocol=\"tcp\"} 110",
            "ipvs_real_server_bps_out{address=\"2001:db8::2\",address_family=\"inet6\",port=\"0\",virtual_fwmark=\"7\"} 210",
        ]
    );
    assert_eq!(family("ipvs_real_server_weight")[3], "ipvs_real_server_weight{address=\"2001:db8::2\",address_family=\"inet6\",port=\"0\",virtual_fwmark=\"7\"} 0");
    // 10 virtual server families, 3 real server gauges and 10 real server families.
    assert_eq!(
        text.lines().filter(|l| l.starts_with("# TYPE ")).count(),
        23
    );
    let counters = text
        .lines()
        .filter(|l| l.starts_with("# TYPE ") && l.ends_with(" counter"));
    assert!(counters.clone().all(|l| l.contains("_total ")), "{text}");
    assert_eq!(counters.count(), 10);
}
