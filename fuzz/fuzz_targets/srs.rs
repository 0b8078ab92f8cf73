//! SRS addresses come from the world (RCPT TO of bounces): decoding any
//! local part must return an error or an address, never panic, and an
//! address we made must decode to what we encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailhost_mailbox::Srs;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let srs = Srs::new(b"fuzz key", Duration::from_secs(21 * 86_400));
    let now = 1_796_000_000;
    let _ = srs.reverse(s, now);
    // Round trip for senders that look like addresses.
    if let Some((local, host)) = s.rsplit_once('@') {
        if !local.is_empty() && !host.is_empty() && !host.contains('@') && !host.contains('=') {
            let fwd = srs.forward(s, "fwd.example", now);
            let back = srs.reverse(fwd.rsplit_once('@').unwrap().0, now);
            if !mailhost_mailbox::srs::is_srs(local) {
                assert_eq!(back.as_deref(), Ok(s), "{fwd}");
            }
        }
    }
});
