//! A big model is read in pieces on several threads: the table and the errors are those
//! of reading it whole. A model with an `&` anywhere is never cut (an anchor could span
//! pieces), so appending the comment `# &` gives the one-pass reading to compare with.

use ipvsrs::desired::yaml::{parse, parse_cut, ModelErrors, Params};
use ipvsrs::desired::DesiredTable;

const WHOLE: &str = "# & (not cut)\n";

fn params() -> Params {
    Params::new().with_env_vars([("PORT", "8080")])
}

fn read(text: &str) -> Result<DesiredTable, ModelErrors> {
    parse(text, &params())
}

/// A model of `services` services in the shapes a model may take, `defaults` first, and
/// the line each service's address is on.
fn big_model(services: usize) -> (String, Vec<usize>) {
    let mut text =
        "defaults: { weight: 7, sched: sh }\ntimeouts: { tcp: 900 }\nservices:\n".to_owned();
    let mut lines = 3;
    let mut address_lines = Vec::with_capacity(services);
    for i in 0..services {
        let (high, low) = (i >> 8, i & 255);
        if i % 100 == 0 {
            text.push_str("# a comment at the margin\n\n");
            lines += 2;
        }
        let service = match i % 4 {
            0 => format!(
                "  - address: tcp://10.0.{high}.{low}:${{env.PORT}}\n    flags: [sh-port]\n    destinations:\n      - address: 10.1.0.1\n        weight: 3\n      - {{ address: \"10.1.0.2:81\", forward: nat }}\n"
            ),
            1 => format!(
                "  - address: 'udp://[2001:db8::{high:x}:{low:x}]:53'\n    persistence: {{ timeout: 60 }}\n    destinations: [ {{ address: \"[2001:db8:1::1]:53\" }},\n      {{ address: \"[2001:db8:1::2]:53\", weight: 0 }} ]\n"
            ),
            2 => format!("  - address: fwmark:{}\n    sched: rr\n", i + 1),
            _ => format!(
                "  -\n    address: \"sctp://10.2.{high}.{low}:9\"   # - not an item\n    destinations:\n    - address: 10.3.0.1:9\n      state: maintenance\n"
            ),
        };
        address_lines.push(lines + 1 + (i % 4 == 3) as usize);
        lines += service.matches('\n').count();
        text.push_str(&service);
    }
    (text, address_lines)
}

#[test]
fn a_big_model_reads_the_same_in_pieces_as_whole() {
    let (text, _) = big_model(40_000);
    assert!(
        text.len() > 4 << 20,
        "{} bytes: big enough to be cut",
        text.len()
    );
    assert!(parse_cut(&text, &params(), 4).is_some(), "the model is cut");
    let cut = read(&text).expect("valid");
    let whole = read(&format!("{text}{WHOLE}")).expect("valid");
    assert_eq!(cut.services.len(), 40_000);
    assert_eq!(cut, whole);
    // The defaults written before the services reach every piece.
    let last = cut.services.last().expect("a service");
    assert_eq!(last.dests[0].dest.weight, 7);
    assert_eq!(last.service.scheduler, "sh");
}

#[test]
fn errors_in_a_big_model_are_those_of_reading_it_whole() {
    let (mut text, lines) = big_model(40_000);
    // A bad scheduler in the middle piece (service 20002 is a fwmark service, its
    // `sched` on the line after its address), and the first service again at the end.
    let sched_line = lines[20_002] + 1;
    let at = text
        .find("  - address: fwmark:20003\n    sched: rr\n")
        .expect("service 20002");
    let sched = at + "  - address: fwmark:20003\n    sched: ".len();
    text.replace_range(sched..sched + 2, "nope");
    // The last service (a `sctp` one) ends three lines after its address.
    let duplicate_line = lines[39_999] + 4;
    text.push_str("  - address: tcp://10.0.0.0:${env.PORT}\n");
    let cut = read(&text).expect_err("invalid");
    let whole = read(&format!("{text}{WHOLE}")).expect_err("invalid");
    assert_eq!(cut, whole);
    let first: Vec<String> = cut.0.iter().take(3).map(ToString::to_string).collect();
    let at: Vec<(usize, usize)> = cut.0.iter().map(|e| (e.line, e.column)).take(3).collect();
    assert_eq!(at, [(sched_line, 12), (duplicate_line, 14)], "{first:?}");
    let already = format!("already defined at line {}, column 14", lines[0]);
    assert!(cut.0[1].message.contains(&already), "{first:?}");
}

/// Models whose lines could mislead a cut: wherever one is read in pieces, the table is
/// what reading it whole gives.
#[test]
fn a_model_read_in_pieces_never_disagrees_with_reading_it_whole() {
    let services = "  - address: tcp://10.0.0.1:80\n  - address: tcp://10.0.0.2:80\n  - address: tcp://10.0.0.3:80\n";
    let cut_cleanly = [
        format!("services:\n{services}"),
        "defaults: { port: 8080 }\nservices:\n- address: tcp://10.0.0.1\n- address: tcp://10.0.0.2\n".to_owned(),
        format!("services: # the list\n\n# between\n{services}# after\n\n"),
        format!("services:\r\n{}", services.replace('\n', "\r\n")),
        "services:\n  - address: tcp://10.0.0.1:80\n    destinations:\n      - address: 10.1.0.1\n      - address: 10.1.0.2\n  - address: tcp://10.0.0.2:80\n".to_owned(),
    ];
    let misleading = [
        // A quoted value whose second line looks like an item.
        "services:\n  - address: \"tcp://10.0.0.1:80\n  - x\"\n  - address: tcp://10.0.0.2:80\n".to_owned(),
        // A flow mapping across such a line.
        "services:\n  - { address: tcp://10.0.0.1:80,\n  - x: 1 }\n  - address: tcp://10.0.0.2:80\n".to_owned(),
        "services:\n  - address: tcp://10.0.0.1:80\n    destinations: [ { address: 10.1.0.1 },\n  - { address: 10.1.0.2 } ]\n  - address: tcp://10.0.0.2:80\n".to_owned(),
        // A quoted value that swallows the `services:` line.
        "timeouts: \"x\nservices:\n  - address: tcp://10.0.0.1:80\n  - y\"\n".to_owned(),
        // A single-quoted one, valid as a whole.
        "services:\n  - address: 'tcp://10.0.0.1:80'\n    sched: 'w\n  - rr'\n  - address: tcp://10.0.0.2:80\n".to_owned(),
        // The same service in two pieces.
        format!("services:\n{services}{services}"),
        // `services` twice.
        format!("services:\n{services}services:\n{services}"),
        // A block scalar.
        "services:\n  - address: |\n      tcp://10.0.0.1:80\n  - address: tcp://10.0.0.2:80\n".to_owned(),
    ];
    for text in cut_cleanly.iter().chain(&misleading) {
        for pieces in 2..=4 {
            if let Some(table) = parse_cut(text, &params(), pieces) {
                assert_eq!(read(text), Ok(table), "{text:?} in {pieces} pieces");
            }
        }
    }
    for text in &cut_cleanly {
        assert!(parse_cut(text, &params(), 2).is_some(), "{text:?} is cut");
    }
}
