//! Sequence sets: never panic; a resolved set is sorted, merged, and
//! `contains` agrees with the ranges as written.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_imap_proto::seqset::{contains, SeqNum, SeqSet};

fuzz_target!(|data: &[u8]| {
    let (max, text) = match data.split_first() {
        Some((m, t)) => (u32::from(*m) * 1000, t),
        None => return,
    };
    let Ok(set) = SeqSet::parse(text) else { return };
    let r = set.resolve(max);
    for w in r.windows(2) {
        assert!(w[0].end().saturating_add(1) < *w[1].start());
    }
    let SeqSet::Ranges(ranges) = &set else { return };
    let end = |n: SeqNum| match n {
        SeqNum::Num(n) => Some(n),
        SeqNum::Star => (max > 0).then_some(max),
    };
    for n in [1u32, 2, 3, max, max.saturating_add(1), 1000, u32::MAX] {
        let naive = ranges.iter().any(|&(a, b)| match (end(a), end(b)) {
            (Some(a), Some(b)) => a.min(b) <= n && n <= a.max(b),
            _ => false,
        });
        assert_eq!(contains(&r, n), naive, "{n}");
    }
});
