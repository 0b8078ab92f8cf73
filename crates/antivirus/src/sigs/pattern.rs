//! ClamAV hex patterns (the body of `.ndb` signatures and `.ldb`
//! subsignatures, "Creating signatures for ClamAV", section "Hexadecimal
//! format"): parsed into a list of elements, matched by verification around
//! an anchor that the Aho-Corasick pass found.
//!
//! Supported: hex bytes, `??`, nibble wildcards `a?` / `?a`, `*`, `{n}`,
//! `{-n}`, `{n-}`, `{n-m}`, `[n-m]`, alternatives `(aa|bbcc)` and their
//! negation `!(aa|bb)` when every choice has the same length. Anything else
//! (`(B)`, `(L)`, generic alternatives of mixed lengths) is refused by the
//! parser with the feature named, so the loader can count it.

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elem {
    /// Bytes with a mask each: `(value, mask)`, a byte matches when
    /// `b & mask == value`. Mask 0xFF is a fixed byte, 0x00 is `??`.
    Bytes(Vec<(u8, u8)>),
    /// One of several strings of the same length (or none of them).
    Alt {
        choices: Vec<Vec<u8>>,
        negated: bool,
    },
    /// Any bytes, at least `min`, at most `max` (`None`: unbounded, `*`).
    Gap { min: usize, max: Option<usize> },
}

/// A parsed pattern and where its anchor (longest fixed run) lies.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub elems: Vec<Elem>,
    /// Element holding the anchor, and the anchor's first byte within it.
    pub anchor_elem: usize,
    pub anchor_at: usize,
    pub anchor: Vec<u8>,
    /// Shortest number of bytes a match spans.
    pub min_len: usize,
    /// Letters compare without regard to ASCII case (`.ldb` `::i`).
    pub nocase: bool,
}

/// Why a pattern was not taken; the text names the ClamAV feature.
pub type Unsupported = &'static str;

/// Fewest fixed bytes an anchor may have: ClamAV's own minimum is two.
pub const MIN_ANCHOR: usize = 2;

/// Verification steps allowed for one candidate, so a pattern full of
/// bounded gaps cannot cost unbounded time on hostile data.
const STEP_BUDGET: u32 = 20_000;

use mailhost_decode::hex_digit as hex;

fn number(s: &str) -> Result<usize, Unsupported> {
    s.trim().parse::<usize>().map_err(|_| "malformed gap")
}

impl Pattern {
    /// Parses ClamAV's hex syntax.
    pub fn parse(src: &str) -> Result<Pattern, Unsupported> {
        let b = src.as_bytes();
        let mut elems: Vec<Elem> = Vec::new();
        let mut i = 0;
        let push_byte = |elems: &mut Vec<Elem>, v: (u8, u8)| {
            if let Some(Elem::Bytes(bs)) = elems.last_mut() {
                bs.push(v);
            } else {
                elems.push(Elem::Bytes(vec![v]));
            }
        };
        while i < b.len() {
            match b[i] {
                b'*' => {
                    elems.push(Elem::Gap { min: 0, max: None });
                    i += 1;
                }
                b'{' | b'[' => {
                    let close = if b[i] == b'{' { b'}' } else { b']' };
                    let end = b[i..]
                        .iter()
                        .position(|&c| c == close)
                        .ok_or("unclosed gap")?;
                    let inner = &src[i + 1..i + end];
                    let (min, max) = match inner.split_once('-') {
                        None => {
                            let n = number(inner)?;
                            (n, Some(n))
                        }
                        Some(("", m)) => (0, Some(number(m)?)),
                        Some((n, "")) => (number(n)?, None),
                        Some((n, m)) => (number(n)?, Some(number(m)?)),
                    };
                    if max.is_some_and(|m| m < min) {
                        return Err("malformed gap");
                    }
                    elems.push(Elem::Gap { min, max });
                    i += end + 1;
                }
                b'!' | b'(' => {
                    let negated = b[i] == b'!';
                    if negated {
                        i += 1;
                        if b.get(i) != Some(&b'(') {
                            return Err("malformed negation");
                        }
                    }
                    let end = b[i..]
                        .iter()
                        .position(|&c| c == b')')
                        .ok_or("unclosed alternative")?;
                    let inner = &src[i + 1..i + end];
                    if matches!(inner, "B" | "L" | "W") {
                        return Err("boundary anchors (B)/(L)/(W)");
                    }
                    let mut choices = Vec::new();
                    for c in inner.split('|') {
                        let cb = c.as_bytes();
                        if cb.is_empty() || !cb.len().is_multiple_of(2) {
                            return Err("alternative of mixed or odd length");
                        }
                        let mut v = Vec::with_capacity(cb.len() / 2);
                        for p in cb.chunks(2) {
                            match (hex(p[0]), hex(p[1])) {
                                (Some(h), Some(l)) => v.push(h << 4 | l),
                                _ => return Err("wildcards inside an alternative"),
                            }
                        }
                        choices.push(v);
                    }
                    let len = choices.first().map_or(0, Vec::len);
                    if choices.len() < 2 && !negated || choices.iter().any(|c| c.len() != len) {
                        return Err("alternative of mixed or odd length");
                    }
                    elems.push(Elem::Alt { choices, negated });
                    i += end + 1;
                }
                _ => {
                    let (hi, lo) = (b[i], *b.get(i + 1).ok_or("odd number of hex digits")?);
                    let v = match (hi, lo) {
                        (b'?', b'?') => (0, 0),
                        (b'?', l) => (hex(l).ok_or("bad hex digit")?, 0x0F),
                        (h, b'?') => (hex(h).ok_or("bad hex digit")? << 4, 0xF0),
                        (h, l) => (
                            hex(h).ok_or("bad hex digit")? << 4 | hex(l).ok_or("bad hex digit")?,
                            0xFF,
                        ),
                    };
                    push_byte(&mut elems, v);
                    i += 2;
                }
            }
        }
        Self::finish(elems)
    }

    fn finish(elems: Vec<Elem>) -> Result<Pattern, Unsupported> {
        if elems.is_empty() {
            return Err("empty pattern");
        }
        // The anchor: the longest run of fixed bytes.
        let (mut best, mut at, mut len) = (0, 0, 0);
        for (k, e) in elems.iter().enumerate() {
            if let Elem::Bytes(bs) = e {
                let mut run = 0;
                for (j, &(_, m)) in bs.iter().enumerate() {
                    run = if m == 0xFF { run + 1 } else { 0 };
                    if run > len {
                        (best, at, len) = (k, j + 1 - run, run);
                    }
                }
            }
        }
        if len < MIN_ANCHOR {
            return Err("fewer than two fixed bytes in a row");
        }
        let Elem::Bytes(bs) = &elems[best] else {
            unreachable!("the anchor lies in a Bytes element")
        };
        let anchor = bs[at..at + len].iter().map(|&(v, _)| v).collect();
        let min_len = elems
            .iter()
            .map(|e| match e {
                Elem::Bytes(b) => b.len(),
                Elem::Alt { choices, .. } => choices.first().map_or(1, Vec::len),
                Elem::Gap { min, .. } => *min,
            })
            .sum();
        Ok(Pattern {
            elems,
            anchor_elem: best,
            anchor_at: at,
            anchor,
            min_len,
            nocase: false,
        })
    }

    /// The same pattern as UTF-16LE text (`.ldb` `::w`): every byte is
    /// followed by a zero byte.
    pub fn wide(&self) -> Result<Pattern, Unsupported> {
        let elems = self
            .elems
            .iter()
            .map(|e| match e {
                Elem::Bytes(bs) => Elem::Bytes(bs.iter().flat_map(|&b| [b, (0, 0xFF)]).collect()),
                Elem::Alt { choices, negated } => Elem::Alt {
                    choices: choices
                        .iter()
                        .map(|c| c.iter().flat_map(|&b| [b, 0]).collect())
                        .collect(),
                    negated: *negated,
                },
                Elem::Gap { min, max } => Elem::Gap {
                    min: min * 2,
                    max: max.map(|m| m * 2),
                },
            })
            .collect();
        let mut p = Self::finish(elems)?;
        p.nocase = self.nocase;
        Ok(p)
    }

    /// Whether the whole pattern matches with its anchor at `pos` in
    /// `data`; `start_ok` says whether a match may begin at an offset.
    /// Returns the offset where the match begins.
    pub fn verify(
        &self,
        data: &[u8],
        pos: usize,
        start_ok: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let Elem::Bytes(anchor_bytes) = &self.elems[self.anchor_elem] else {
            return None;
        };
        let elem_start = pos.checked_sub(self.anchor_at)?;
        let end = elem_start + anchor_bytes.len();
        if end > data.len() || !self.bytes_match(anchor_bytes, &data[elem_start..end]) {
            return None;
        }
        let mut steps = STEP_BUDGET;
        // Everything after the anchor element must match forwards; then
        // everything before it backwards, and the start must fit the offset.
        if !self.forward(self.anchor_elem + 1, data, end, &mut steps) {
            return None;
        }
        self.backward(self.anchor_elem, data, elem_start, &mut steps, start_ok)
    }

    fn eq(&self, a: u8, b: u8) -> bool {
        a == b || self.nocase && a.eq_ignore_ascii_case(&b)
    }

    fn bytes_match(&self, pat: &[(u8, u8)], data: &[u8]) -> bool {
        pat.iter().zip(data).all(
            |(&(v, m), &d)| {
                if m == 0xFF {
                    self.eq(v, d)
                } else {
                    d & m == v
                }
            },
        )
    }

    fn alt_match(&self, choices: &[Vec<u8>], negated: bool, data: &[u8]) -> bool {
        let any = choices
            .iter()
            .any(|c| c.iter().zip(data).all(|(&a, &b)| self.eq(a, b)));
        any != negated
    }

    /// Fixed-length element `k` against `data` at `at`: its length on a match.
    fn fixed_at(&self, k: usize, data: &[u8], at: usize) -> Option<usize> {
        match &self.elems[k] {
            Elem::Bytes(bs) => {
                let end = at.checked_add(bs.len()).filter(|&e| e <= data.len())?;
                self.bytes_match(bs, &data[at..end]).then_some(bs.len())
            }
            Elem::Alt { choices, negated } => {
                let n = choices.first().map_or(1, Vec::len);
                let end = at.checked_add(n).filter(|&e| e <= data.len())?;
                self.alt_match(choices, *negated, &data[at..end])
                    .then_some(n)
            }
            Elem::Gap { .. } => None,
        }
    }

    fn forward(&self, k: usize, data: &[u8], at: usize, steps: &mut u32) -> bool {
        if *steps == 0 {
            return false;
        }
        *steps -= 1;
        let Some(e) = self.elems.get(k) else {
            return true;
        };
        match e {
            Elem::Gap { min, max } => {
                let lo = at.saturating_add(*min);
                let hi = max.map_or(data.len(), |m| at.saturating_add(m).min(data.len()));
                if k + 1 == self.elems.len() {
                    return lo <= data.len();
                }
                let mut p = lo;
                while p <= hi {
                    if self.forward(k + 1, data, p, steps) {
                        return true;
                    }
                    if *steps == 0 {
                        return false;
                    }
                    p += 1;
                }
                false
            }
            _ => match self.fixed_at(k, data, at) {
                Some(n) => self.forward(k + 1, data, at + n, steps),
                None => false,
            },
        }
    }

    /// Elements before `k` end at `at`; returns where the match starts.
    fn backward(
        &self,
        k: usize,
        data: &[u8],
        at: usize,
        steps: &mut u32,
        start_ok: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        if *steps == 0 {
            return None;
        }
        *steps -= 1;
        if k == 0 {
            return start_ok(at).then_some(at);
        }
        match &self.elems[k - 1] {
            Elem::Gap { min, max } => {
                let hi = at.checked_sub(*min)?;
                let lo = max.map_or(0, |m| at.saturating_sub(m));
                let mut p = hi;
                loop {
                    if let Some(s) = self.backward(k - 1, data, p, steps, start_ok) {
                        return Some(s);
                    }
                    if p == lo || *steps == 0 {
                        return None;
                    }
                    p -= 1;
                }
            }
            e => {
                let n = match e {
                    Elem::Bytes(bs) => bs.len(),
                    Elem::Alt { choices, .. } => choices.first().map_or(1, Vec::len),
                    Elem::Gap { .. } => 0,
                };
                let from = at.checked_sub(n)?;
                self.fixed_at(k - 1, data, from)?;
                self.backward(k - 1, data, from, steps, start_ok)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(p: &str, data: &[u8]) -> Option<usize> {
        let p = Pattern::parse(p).unwrap();
        let f = memchr::memmem::find_iter(data, &p.anchor).collect::<Vec<_>>();
        f.into_iter().find_map(|pos| p.verify(data, pos, &|_| true))
    }

    #[test]
    fn syntax() {
        assert_eq!(find("414243", b"xxABCxx"), Some(2));
        assert_eq!(find("4142??44", b"xABzDx"), Some(1));
        assert_eq!(find("4142?444", b"xABtDx"), Some(1));
        assert_eq!(find("4142?444", b"xABEDx"), None);
        assert_eq!(find("41424?", b"ABO"), Some(0));
        assert_eq!(find("41424?", b"ABP"), None);
        assert_eq!(find("4142*5859", b"AB.........XY"), Some(0));
        assert_eq!(find("4142{2}5859", b"AB..XY"), Some(0));
        assert_eq!(find("4142{2}5859", b"AB...XY"), None);
        assert_eq!(find("4142{1-3}5859", b"AB...XY"), Some(0));
        assert_eq!(find("4142[1-3]5859", b"AB....XY"), None);
        assert_eq!(find("4142{-2}5859", b"ABXY"), Some(0));
        assert_eq!(find("4142{3-}5859", b"AB.XY"), None);
        assert_eq!(find("4142{3-}5859", b"AB........XY"), Some(0));
        assert_eq!(find("4142(43|44)45", b"ABDE"), Some(0));
        assert_eq!(find("4142(43|44)45", b"ABFE"), None);
        assert_eq!(find("4142!(43|44)45", b"ABFE"), Some(0));
        assert_eq!(find("4142!(43|44)45", b"ABCE"), None);
        // The prefix before the anchor is checked backwards.
        assert_eq!(find("??41*425859", b"zA...BXY"), Some(0));
        assert_eq!(find("61{2}425859", b"a..BXYa"), Some(0));
    }

    #[test]
    fn unsupported_is_named() {
        assert!(Pattern::parse("4142(B)4344").is_err());
        assert!(Pattern::parse("41??42").is_err(), "no two fixed bytes");
        assert!(Pattern::parse("414").is_err());
        assert!(Pattern::parse("4142{3-1}").is_err());
        assert!(Pattern::parse("4142(43|4445)").is_err());
        assert!(Pattern::parse("4142{").is_err());
    }

    #[test]
    fn offsets_and_nocase() {
        let p = Pattern::parse("41424344").unwrap();
        assert_eq!(p.verify(b"xxABCD", 2, &|s| s == 2), Some(2));
        assert_eq!(p.verify(b"xxABCD", 2, &|s| s == 0), None);
        let mut p = Pattern::parse("61626364").unwrap();
        p.nocase = true;
        assert_eq!(p.verify(b"aBcD", 0, &|_| true), Some(0));
        let w = Pattern::parse("4142").unwrap().wide().unwrap();
        assert_eq!(w.anchor, b"A\0B\0");
    }

    #[test]
    fn hostile_gaps_are_bounded() {
        let p = Pattern::parse("4142{0-1000}43{0-1000}44{0-1000}4545").unwrap();
        let data = vec![b'C'; 100_000];
        let mut d = b"AB".to_vec();
        d.extend_from_slice(&data);
        let t = std::time::Instant::now();
        let _ = p.verify(&d, 0, &|_| true);
        assert!(t.elapsed().as_secs() < 2);
    }
}
