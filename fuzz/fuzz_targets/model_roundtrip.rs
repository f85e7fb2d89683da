//! Whatever a valid model puts in the kernel, written back as a model (what `ipvsrs get`
//! prints) parses to the same kernel table.
#![no_main]

use ipvsrs::desired::yaml::{parse, to_yaml, NoParams};
use ipvsrs::desired::{DesiredTable, DestState, KernelTable};
use ipvsrs::model::{DestEntry, Forward, Tunnel};
use libfuzzer_sys::fuzz_target;

/// The table an apply of `model` to an empty kernel leaves, in a canonical order.
fn kernel_of(model: &DesiredTable) -> KernelTable {
    let mut services: Vec<_> = model
        .services
        .iter()
        .map(|s| {
            let mut dests: Vec<DestEntry> = s
                .dests
                .iter()
                .filter(|d| d.state != DestState::Draining)
                .map(|d| {
                    let mut dest = d.dest.clone();
                    if d.state != DestState::Active {
                        dest.weight = 0;
                    }
                    if dest.forward != Forward::Tunnel {
                        dest.tunnel = Tunnel::default();
                    }
                    DestEntry {
                        dest,
                        active_conns: 0,
                        inactive_conns: 0,
                        persistent_conns: 0,
                        stats: Default::default(),
                    }
                })
                .collect();
            dests.sort_by_key(|d| d.dest.key());
            (s.service.clone(), dests)
        })
        .collect();
    services.sort_by_key(|(s, _)| s.key);
    KernelTable {
        services,
        timeouts: model.timeouts.unwrap_or_default(),
        daemons: model.daemons.clone().unwrap_or_default(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = parse(text, &NoParams) else {
        return;
    };
    let kernel = kernel_of(&model);
    let written = to_yaml(&kernel);
    let reread = parse(&written, &NoParams)
        .unwrap_or_else(|e| panic!("the written model does not parse:\n{written}\n{e}"));
    assert_eq!(kernel_of(&reread), kernel, "{written}");
});
