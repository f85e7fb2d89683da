//! Kernel replies, as a socket receives them: splitting into messages and decoding every
//! kind of IPVS answer never panics, whatever the bytes.
#![no_main]

use ipvsrs::model::Family;
use ipvsrs::wire::ctrl;
use ipvsrs::wire::ipvs::{
    cmd_attr, decode_daemon, decode_dest, decode_info, decode_service, decode_stats,
    decode_timeouts, top_level_nest,
};
use ipvsrs::wire::netlink::{messages, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for message in messages(data) {
        let Ok(message) = message else {
            break;
        };
        let Ok(Reply::Data { attrs, .. }) = message.reply() else {
            continue;
        };
        let _ = ctrl::decode_family(attrs);
        let _ = decode_info(attrs);
        let _ = decode_timeouts(attrs);
        let _ = decode_stats(attrs);
        if let Ok(nest) = top_level_nest(attrs, cmd_attr::SERVICE) {
            let _ = decode_service(nest);
        }
        if let Ok(nest) = top_level_nest(attrs, cmd_attr::DEST) {
            let _ = decode_dest(nest, Family::Inet);
            let _ = decode_dest(nest, Family::Inet6);
        }
        if let Ok(nest) = top_level_nest(attrs, cmd_attr::DAEMON) {
            let _ = decode_daemon(nest);
        }
    }
});
