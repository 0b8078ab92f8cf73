//! The SMTP DATA receiver, in both `smtp.bare_lf` modes: never panics,
//! never emits a bare CR or LF, ends the data only at `<CRLF>.<CRLF>`
//! (no smuggling), and gives the same result however the input is split
//! into reads. Input without a bare LF reads the same in both modes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_smtp::data::{BareLf, DataReceiver, Outcome};

fn run(mode: BareLf, chunks: &[&[u8]]) -> (Vec<u8>, Option<Outcome>, u64) {
    let mut r = DataReceiver::new(u64::MAX, mode);
    let mut out = Vec::new();
    let mut consumed = 0usize;
    for c in chunks {
        match r.feed(c, &mut out) {
            Outcome::NeedMore => consumed += c.len(),
            Outcome::Done(n) => return (out, Some(Outcome::Done(consumed + n)), r.size),
            Outcome::BareCr(n) => return (out, Some(Outcome::BareCr(consumed + n)), r.size),
            Outcome::BareLf(n) => return (out, Some(Outcome::BareLf(consumed + n)), r.size),
        }
    }
    (out, None, r.size)
}

fuzz_target!(|data: &[u8]| {
    let mut results = Vec::new();
    for mode in [BareLf::Normalize, BareLf::Reject] {
        let (out, whole, size) = run(mode, &[data]);
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
        if let Some(Outcome::Done(n)) = whole {
            let seen = &data[..n];
            assert!(seen == b".\r\n" || seen.ends_with(b"\r\n.\r\n"), "{seen:?}");
        }
        if mode == BareLf::Normalize {
            assert!(!matches!(whole, Some(Outcome::BareLf(_))));
        }
        if data.len() > 1 {
            let mid = data.len() / 2;
            let (out2, split, _) = run(mode, &[&data[..mid], &data[mid..]]);
            if whole.is_some() || split.is_some() {
                assert_eq!(whole, split);
            }
            if let (Some(Outcome::Done(_)), Some(Outcome::Done(_))) = (whole, split) {
                assert_eq!(out, out2);
            }
        }
        results.push((out, whole));
    }
    if !matches!(results[1].1, Some(Outcome::BareLf(_))) {
        assert_eq!(results[0], results[1]);
    }
});
