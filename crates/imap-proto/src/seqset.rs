//! Sequence sets (RFC 9051 §9 `sequence-set`): `1:4,7,9:*`, and `$`, the
//! result saved by SEARCH RES (RFC 5182).
//!
//! A set is kept as the ranges the client wrote — a 64 KB line of single
//! UIDs is ~10,000 ranges, so memory follows the line limit — and resolved
//! against the mailbox's largest number only when used: `*` is that
//! number, `n:m` and `m:n` are the same range (§9: "the order is
//! irrelevant"), and the result is sorted and merged so that lookups are a
//! binary search.

use std::ops::RangeInclusive;

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Num(u32),
    /// `*`: the largest number in use (or, in an empty mailbox, none).
    Star,
}

/// A parsed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqSet {
    Ranges(Vec<(SeqNum, SeqNum)>),
    /// `$` (RFC 5182).
    Saved,
}

/// Why a set does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    Empty,
    /// A number that is 0, has a sign, or passes 2^32 - 1 (§9 nz-number).
    BadNumber,
    Syntax,
}

fn number(s: &[u8]) -> Result<SeqNum, Error> {
    match s {
        b"*" => Ok(SeqNum::Star),
        [] => Err(Error::Syntax),
        [b'0', ..] => Err(Error::BadNumber), // nz-number = digit-nz *DIGIT
        _ if s.iter().all(u8::is_ascii_digit) => std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<u32>().ok())
            .map(SeqNum::Num)
            .ok_or(Error::BadNumber),
        _ => Err(Error::Syntax),
    }
}

impl SeqSet {
    pub fn parse(s: &[u8]) -> Result<SeqSet, Error> {
        if s.is_empty() {
            return Err(Error::Empty);
        }
        if s == b"$" {
            return Ok(SeqSet::Saved);
        }
        let mut ranges = Vec::with_capacity(s.iter().filter(|b| **b == b',').count() + 1);
        for part in s.split(|b| *b == b',') {
            let mut ends = part.splitn(2, |b| *b == b':');
            let a = number(ends.next().unwrap_or(&[]))?;
            let b = match ends.next() {
                Some(e) => number(e)?,
                None => a,
            };
            ranges.push((a, b));
        }
        Ok(SeqSet::Ranges(ranges))
    }

    /// The numbers meant when the largest in use is `max` (0 in an empty
    /// mailbox, where a range with `*` means nothing), sorted and merged. Numbers above `max` stay: a UID set may name UIDs that
    /// do not exist, which simply match nothing. `$` resolves to nothing
    /// here; the session substitutes the saved set.
    pub fn resolve(&self, max: u32) -> Vec<RangeInclusive<u32>> {
        let SeqSet::Ranges(ranges) = self else {
            return Vec::new();
        };
        let end = |n: SeqNum| match n {
            SeqNum::Num(n) => Some(n),
            SeqNum::Star => (max > 0).then_some(max),
        };
        let mut out: Vec<RangeInclusive<u32>> = ranges
            .iter()
            .filter_map(|&(a, b)| {
                let (a, b) = (end(a)?, end(b)?);
                Some(a.min(b)..=a.max(b))
            })
            .collect();
        out.sort_by_key(|r| *r.start());
        let mut merged: Vec<RangeInclusive<u32>> = Vec::with_capacity(out.len());
        for r in out {
            match merged.last_mut() {
                Some(last) if *r.start() <= last.end().saturating_add(1) => {
                    if r.end() > last.end() {
                        *last = *last.start()..=*r.end();
                    }
                }
                _ => merged.push(r),
            }
        }
        merged
    }
}

/// Whether `n` is in a resolved set.
pub fn contains(resolved: &[RangeInclusive<u32>], n: u32) -> bool {
    let i = resolved.partition_point(|r| *r.end() < n);
    resolved.get(i).is_some_and(|r| r.contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_resolve() {
        let s = SeqSet::parse(b"9:*,1:4,7,3,5:2").unwrap();
        assert_eq!(s.resolve(12), vec![1..=5, 7..=7, 9..=12]);
        // `*` below the other end, and an empty mailbox.
        assert_eq!(SeqSet::parse(b"20:*").unwrap().resolve(12), vec![12..=20]);
        assert_eq!(SeqSet::parse(b"1:*").unwrap().resolve(0), vec![]);
        assert_eq!(SeqSet::parse(b"$").unwrap(), SeqSet::Saved);
        let r = SeqSet::parse(b"4294967295,1").unwrap().resolve(3);
        assert!(contains(&r, 1) && contains(&r, u32::MAX) && !contains(&r, 2));
    }

    #[test]
    fn refused() {
        for (s, e) in [
            (&b""[..], Error::Empty),
            (b"0", Error::BadNumber),
            (b"01", Error::BadNumber),
            (b"4294967296", Error::BadNumber),
            (b"1,", Error::Syntax),
            (b"1:2:3", Error::Syntax),
            (b"a", Error::Syntax),
            (b"-1", Error::Syntax),
            (b"1:", Error::Syntax),
            (b"$,1", Error::Syntax),
        ] {
            assert_eq!(SeqSet::parse(s), Err(e), "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn a_64_kb_set_of_single_uids() {
        let s: Vec<u8> = (1..=10_000u32)
            .map(|i| (i * 2).to_string())
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        let r = SeqSet::parse(&s).unwrap().resolve(u32::MAX);
        assert_eq!(r.len(), 10_000);
        assert!(contains(&r, 20_000) && !contains(&r, 19_999));
    }
}
