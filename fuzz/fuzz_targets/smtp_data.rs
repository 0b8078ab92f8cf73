//! The SMTP DATA receiver: never panics, never emits a bare CR or LF, and
//! gives the same result however the input is split into reads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_smtp::data::{DataReceiver, Outcome};

fn run(chunks: &[&[u8]]) -> (Vec<u8>, Option<Outcome>, u64) {
    let mut r = DataReceiver::new(1 << 20);
    let mut out = Vec::new();
    let mut consumed = 0usize;
    for c in chunks {
        match r.feed(c, &mut out) {
            Outcome::NeedMore => consumed += c.len(),
            Outcome::Done(n) => return (out, Some(Outcome::Done(consumed + n)), r.size),
            Outcome::BareNewline(n) => {
                return (out, Some(Outcome::BareNewline(consumed + n)), r.size)
            }
        }
    }
    (out, None, r.size)
}

fuzz_target!(|data: &[u8]| {
    let (out, whole, size) = run(&[data]);
    // Output lines all end in CRLF: no bare LF or CR.
    for (i, &b) in out.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r');
        }
        if b == b'\r' {
            assert!(i + 1 < out.len() && out[i + 1] == b'\n' || i + 1 == out.len());
        }
    }
    assert_eq!(size as usize, out.len());
    if data.len() > 1 {
        let mid = data.len() / 2;
        let (out2, split, _) = run(&[&data[..mid], &data[mid..]]);
        if whole.is_some() || split.is_some() {
            assert_eq!(whole, split);
        }
        if let (Some(Outcome::Done(_)), Some(Outcome::Done(_))) = (whole, split) {
            assert_eq!(out, out2);
        }
    }
});
