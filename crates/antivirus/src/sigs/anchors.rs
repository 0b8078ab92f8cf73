//! The first pass of matching: every place where an anchor (a pattern's
//! longest fixed run) occurs.
//!
//! Why not one Aho-Corasick DFA over all anchors: with 10,000 signatures of
//! random bytes its table is ~100 MB, and binary input walks all of it, so
//! every byte is a cache miss (30 MB/s measured). Instead, anchors of four
//! bytes or more are found through their first four bytes: a 128 KiB bitmap
//! of hashed 4-grams rejects almost every position with one load that stays
//! in cache, and the rare hit is looked up exactly, then compared in full —
//! the "shift-or / bucket filter" idea of Hyperscan's FDR, in its simplest
//! form. Anchors shorter than four bytes (ClamAV allows two) go through a
//! small Aho-Corasick automaton. Both report every occurrence, overlapping.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

const GRAM: usize = 4;
const BITS: u32 = 20; // a 2^20-bit (128 KiB) filter

pub(crate) struct Anchors {
    anchors: Vec<Vec<u8>>,
    /// Fixed size, so that the index (`slot` < 2^20, over 64) needs no check.
    filter: Box<[u64; 1 << (BITS - 6)]>,
    /// First four bytes → anchors that start with them.
    by_gram: HashMap<u32, Vec<u32>>,
    /// Anchors under four bytes, and their ids.
    short: Option<(AhoCorasick, Vec<u32>)>,
    nocase: bool,
}

fn slot(g: u32) -> usize {
    (g.wrapping_mul(0x9e37_79b1) >> (32 - BITS)) as usize
}

fn gram(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..GRAM)?.try_into().ok()?))
}

impl Anchors {
    /// `anchors` are lower case already when `nocase`.
    pub(crate) fn build(anchors: Vec<Vec<u8>>, nocase: bool) -> Option<Anchors> {
        if anchors.is_empty() {
            return None;
        }
        let mut filter: Box<[u64; 1 << (BITS - 6)]> = vec![0u64; 1 << (BITS - 6)]
            .into_boxed_slice()
            .try_into()
            .expect("the length is the array's");
        let mut by_gram: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut short = Vec::new();
        let mut short_ids = Vec::new();
        for (id, a) in anchors.iter().enumerate() {
            match gram(a) {
                Some(g) => {
                    let s = slot(g);
                    filter[s / 64] |= 1 << (s % 64);
                    by_gram.entry(g).or_default().push(id as u32);
                }
                None => {
                    short.push(a.clone());
                    short_ids.push(id as u32);
                }
            }
        }
        let short = (!short.is_empty()).then(|| {
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(nocase)
                .build(&short)
                .expect("anchors are plain byte strings");
            (ac, short_ids)
        });
        Some(Anchors {
            anchors,
            filter,
            by_gram,
            short,
            nocase,
        })
    }

    /// Calls `f(anchor, start)` for every occurrence until it returns true.
    pub(crate) fn each(&self, data: &[u8], mut f: impl FnMut(usize, usize) -> bool) -> bool {
        if let Some((ac, ids)) = &self.short {
            for m in ac.find_overlapping_iter(data) {
                if f(ids[m.pattern().as_usize()] as usize, m.start()) {
                    return true;
                }
            }
        }
        let folded;
        let hay: &[u8] = if self.nocase {
            folded = data.to_ascii_lowercase();
            &folded
        } else {
            data
        };
        if hay.len() < GRAM {
            return false;
        }
        // The 4-gram ending at byte `j`, rolled one byte at a time (building
        // it from four byte loads stalls store forwarding: 17 ns a byte).
        let mut g = u32::from_le_bytes([0, hay[0], hay[1], hay[2]]);
        for (j, &b) in hay.iter().enumerate().skip(GRAM - 1) {
            g = (g >> 8) | (u32::from(b) << 24);
            let i = j + 1 - GRAM;
            let s = slot(g);
            if self.filter[s >> 6] & (1 << (s & 63)) == 0 {
                continue;
            }
            let Some(ids) = self.by_gram.get(&g) else {
                continue;
            };
            for &id in ids {
                let a = &self.anchors[id as usize];
                if hay[i..].starts_with(a) && f(id as usize, i) {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_occurrence_long_and_short() {
        let a = Anchors::build(
            vec![b"abcd".to_vec(), b"bcdef".to_vec(), b"xy".to_vec()],
            false,
        )
        .unwrap();
        let mut seen = Vec::new();
        a.each(b"zabcdefxyabcd", |id, at| {
            seen.push((id, at));
            false
        });
        seen.sort();
        assert_eq!(seen, vec![(0, 1), (0, 9), (1, 2), (2, 7)]);
        let n = Anchors::build(vec![b"eicar".to_vec()], true).unwrap();
        assert!(n.each(b"..EiCaR..", |_, at| at == 2));
        assert!(!n.each(b"eic", |_, _| true));
    }
}
