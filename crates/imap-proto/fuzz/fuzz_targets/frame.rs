//! The command framer: never panics, keeps within its bounds, and frames
//! the same bytes the same way however they are split into reads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_imap_proto::frame::{Frame, Framer, Limits};

const LIMITS: Limits = Limits {
    line: 256,
    literal: 512,
    nonsync: Some(64),
};

fn run(chunks: &[&[u8]]) -> Vec<Frame> {
    let mut f = Framer::new(LIMITS);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(fr) = f.next_frame() {
            if let Frame::Command(c) = &fr {
                let text = c.bytes.len() - c.literals.iter().map(|r| r.len()).sum::<usize>();
                assert!(text <= LIMITS.line + 4 * c.literals.len());
                assert!(c.literals.iter().all(|r| r.len() as u64 <= LIMITS.literal));
            }
            out.push(fr);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = run(&[data]);
    let split: Vec<&[u8]> = data.chunks(7).collect();
    assert_eq!(whole, run(&split));
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(whole, run(&bytes));
});
