//! A model and a parameter file, split at the first NUL byte: parsing either never panics,
//! every error has a position inside the text, and wherever the model can be read in
//! pieces (however small) that reading gives the table that reading it whole does.
#![no_main]

use ipvsrs::desired::yaml::{parse, parse_cut, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (values, model) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let (Ok(values), Ok(model)) = (std::str::from_utf8(values), std::str::from_utf8(model)) else {
        return;
    };
    let params = Params::new()
        .with_env_vars([("PORT", "8080"), ("VIP", "10.0.0.1"), ("NEST", "${env.PORT}")])
        .with_interface("eth0", vec!["192.0.2.1".parse().unwrap()]);
    let params = match params.with_values_text(values, "fuzz") {
        Ok(params) => params,
        Err(_) => return,
    };
    let whole = parse(model, &params);
    for pieces in 2..=4 {
        if let Some(table) = parse_cut(model, &params, pieces) {
            assert_eq!(whole.as_ref(), Ok(&table), "read in {pieces} pieces");
        }
    }
    if let Err(errors) = whole {
        assert!(!errors.0.is_empty());
        // YAML breaks lines at \n, \r\n and a lone \r.
        let lines = model.replace("\r\n", "\n").matches(['\n', '\r']).count() + 1;
        for error in &errors.0 {
            assert!(error.line >= 1 && error.column >= 1, "{error}");
            assert!(error.line <= lines, "{error} (text has {lines} lines)");
            assert!(error.message.len() <= 1024, "a message of {} bytes", error.message.len());
        }
    }
});
