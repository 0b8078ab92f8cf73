//! POP3 receiver fuzz target: the command parser, the SASL PLAIN decoder
//! and the RETR/TOP output path must never panic, and byte-stuffing must
//! round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailhost_pop3::parse::{parse_command, sasl_plain, MAX_COMMAND_LINE};
use mailhost_pop3::retr::{dot_stuff, top_len, DotStuffer};

fuzz_target!(|data: &[u8]| {
    let cmd = parse_command(data);
    if data.len() > MAX_COMMAND_LINE {
        assert!(cmd.is_err());
    }
    let _ = sasl_plain(data);

    // Stuffing: no line of the output is a lone "." before the terminator,
    // and removing one leading "." per line gives back the input (plus the
    // CRLF added to an unterminated last line).
    let out = dot_stuff(data);
    assert!(out.ends_with(b".\r\n"));
    let body = &out[..out.len() - 3];
    let mut unstuffed = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        assert!(
            line != b".\r\n" && line != b".\n",
            "unstuffed terminator in output"
        );
        unstuffed.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    assert!(unstuffed.starts_with(data));
    assert!(unstuffed.len() - data.len() <= 2);

    // Streaming in uneven pieces gives the same bytes.
    let split = data.first().map_or(1, |&b| usize::from(b) % 7 + 1);
    let mut st = DotStuffer::new();
    let mut chunked = Vec::new();
    for piece in data.chunks(split) {
        st.push(piece, &mut chunked);
    }
    st.finish(&mut chunked);
    assert_eq!(chunked, out);

    let lines = data.last().copied().unwrap_or(0) as u32;
    assert!(top_len(data, lines) <= data.len());
});
