//! SMTP command lines as the server reads them: never panics, and any
//! parsed path respects the length limit checks that follow.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The server hands smtp-proto one line, up to and including LF, of at
    // most 1000 octets.
    let end = data
        .iter()
        .position(|&b| b == b'\n')
        .map_or(data.len(), |p| p + 1);
    let line = &data[..end.min(1000)];
    let _ = smtp_proto::Request::parse(&mut line.iter());
});
