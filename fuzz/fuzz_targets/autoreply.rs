//! The autoresponder reads the headers of any incoming message: deciding
//! whether to answer and building the answer must never panic, and the
//! answer must parse with the subject we asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_parser::MessageParser;
use mailhost_mailbox::autoreply;

fuzz_target!(|data: &[u8]| {
    let Some(msg) = MessageParser::default().parse_headers(data) else {
        return;
    };
    let names = ["me@x.example".to_string()];
    let _ = autoreply::refusal("a@o.example", &msg, &names);
    let reply = autoreply::build(
        "me@x.example",
        "a@o.example",
        None,
        "away",
        &msg,
        "mx.example",
    );
    assert!(MessageParser::default().parse(&reply).is_some());
});
