//! The command parser: never panics on what the framer lets through; a
//! parsed request has a tag a response can carry; a refusal names the
//! tag the command began with and a short printable reason. Also checks
//! modified UTF-7: whatever decodes re-encodes to the same bytes (the
//! decoder accepts only the canonical form).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_imap_proto::frame::{Frame, Framer, Limits};
use mailhost_imap_proto::{parse, utf7};

fuzz_target!(|data: &[u8]| {
    let mut f = Framer::new(Limits::default());
    f.push(data);
    while let Some(fr) = f.next_frame() {
        let Frame::Command(c) = fr else { continue };
        match parse::parse(&c) {
            Ok(r) => {
                assert!(!r.tag.is_empty());
                assert!(!r.tag.contains(' ') && r.tag != "*" && !r.tag.contains('+'));
                assert!(c.bytes.starts_with(r.tag.as_bytes()));
            }
            Err(e) => {
                if let Some(tag) = &e.tag {
                    assert!(!tag.is_empty());
                    let mut head = tag.as_bytes().to_vec();
                    head.push(b' ');
                    assert!(c.bytes.starts_with(&head) || c.bytes == tag.as_bytes());
                }
                assert!(!e.text.is_empty() && e.text.len() < 200, "{}", e.text);
                assert!(
                    e.text.bytes().all(|b| (0x20..0x7f).contains(&b)),
                    "{}",
                    e.text
                );
            }
        }
    }
    if let Some(name) = utf7::decode(data) {
        assert_eq!(utf7::encode(&name).as_bytes(), data);
    }
});
