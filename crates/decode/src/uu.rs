//! uuencoded blocks anywhere in a text.
//!
//! Reference: POSIX.1-2017 XCU `uuencode` (Extended Description: the
//! `begin <mode> <name>` line, lines of a length character and 4-character
//! groups of 6 bits offset by 0x20, the `end` line), and for `begin-base64`
//! (written by `uuencode -m`) the base64 alphabet of RFC 4648 §4 ending with
//! a `====` line.
//!
//! Leniencies, each because mailers damage uuencoded text in transit:
//! - lines may end in CRLF or LF;
//! - trailing spaces may have been stripped from a line, so missing
//!   characters of a group count as spaces (zero bits), and an empty line
//!   counts as a zero-length line;
//! - a block whose `end` (or `====`) line never comes, or that is followed by
//!   a line that is not uuencoded data (a signature, another part), still
//!   yields what was decoded up to there: a mail client decodes as much.

use crate::{Budget, Error, Limits, Member};

/// Whether a `begin <octal mode> <name>` (or `begin-base64 …`) line exists.
pub fn looks_like(input: &[u8]) -> bool {
    // Only lines that start with "begin" are looked at (memmem is fast;
    // splitting every line of a large attachment is not).
    memchr::memmem::find_iter(input, b"begin").any(|at| {
        let line_start = at == 0 || input.get(at - 1) == Some(&b'\n');
        let rest = input.get(at..).unwrap_or(&[]);
        let line = rest.split(|b| *b == b'\n').next().unwrap_or(&[]);
        line_start && begin_line(line.strip_suffix(b"\r").unwrap_or(line)).is_some()
    })
}

/// Every uuencoded block in `input`, in order.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Vec<Member>, Error> {
    let mut budget = Budget::new(limits);
    let mut members = Vec::new();
    let mut rest = input;
    while let Some((line, next)) = split_line(rest) {
        rest = next;
        let Some((kind, name)) = begin_line(line) else {
            continue;
        };
        budget.member()?;
        let mut data = Vec::new();
        rest = match kind {
            Kind::Uu => uu_block(rest, &mut data, &mut budget)?,
            Kind::Base64 => base64_block(rest, &mut data, &mut budget)?,
        };
        members.push(Member {
            name: name.to_vec(),
            data,
            encrypted: false,
        });
    }
    Ok(members)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uu,
    Base64,
}

/// The next line (without its `\n` and a trailing `\r`) and what follows.
fn split_line(input: &[u8]) -> Option<(&[u8], &[u8])> {
    if input.is_empty() {
        return None;
    }
    let (line, next) = match input.iter().position(|b| *b == b'\n') {
        Some(i) => (input.get(..i)?, input.get(i + 1..)?),
        None => (input, &[][..]),
    };
    Some((line.strip_suffix(b"\r").unwrap_or(line), next))
}

/// `begin <mode> <name>`: mode is 1 to 8 octal digits, then spaces, then the
/// name up to the end of the line (it may contain spaces, or be empty).
fn begin_line(line: &[u8]) -> Option<(Kind, &[u8])> {
    let (kind, rest) = if let Some(r) = line.strip_prefix(b"begin-base64 ") {
        (Kind::Base64, r)
    } else {
        (Kind::Uu, line.strip_prefix(b"begin ")?)
    };
    let digits = rest
        .iter()
        .take_while(|b| (b'0'..=b'7').contains(b))
        .count();
    if digits == 0 || digits > 8 {
        return None;
    }
    let after = rest.get(digits..)?;
    if !after.is_empty() && after.first() != Some(&b' ') {
        return None;
    }
    let spaces = after.iter().take_while(|b| **b == b' ').count();
    Some((kind, after.get(spaces..)?))
}

fn is_end(line: &[u8], word: &[u8]) -> bool {
    line.trim_ascii_end() == word
}

/// The 6-bit value of a uuencoded character (` and space both mean 0).
fn uu_value(c: u8) -> Option<u8> {
    c.checked_sub(0x20).filter(|v| *v <= 0x40).map(|v| v & 0x3f)
}

/// Decodes the lines of one `begin` block; returns the input after it.
fn uu_block<'a>(
    mut rest: &'a [u8],
    out: &mut Vec<u8>,
    budget: &mut Budget,
) -> Result<&'a [u8], Error> {
    while let Some((line, next)) = split_line(rest) {
        if is_end(line, b"end") {
            return Ok(next);
        }
        let Some(bytes) = uu_line(line) else {
            // Not uuencoded data: the block ends here, and this line is
            // looked at again (it may begin the next block).
            return Ok(rest);
        };
        budget.put(out, &bytes)?;
        rest = next;
    }
    Ok(rest)
}

/// The bytes of one data line (at most 63: the length character has 6
/// bits), or `None` when the line is not uuencoded data.
fn uu_line(line: &[u8]) -> Option<Vec<u8>> {
    let Some((&first, chars)) = line.split_first() else {
        return Some(Vec::new()); // empty line: a stripped zero-length line
    };
    let n = usize::from(uu_value(first)?);
    let mut bytes = Vec::with_capacity(n + 2);
    let mut i = 0usize;
    while bytes.len() < n {
        let mut v = [0u8; 4];
        for (k, slot) in v.iter_mut().enumerate() {
            *slot = match chars.get(i + k) {
                Some(&c) => uu_value(c)?,
                None => 0, // stripped trailing spaces
            };
        }
        bytes.extend_from_slice(&[
            (v[0] << 2) | (v[1] >> 4),
            (v[1] << 4) | (v[2] >> 2),
            (v[2] << 6) | v[3],
        ]);
        i += 4;
    }
    bytes.truncate(n);
    Some(bytes)
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes the lines of one `begin-base64` block; returns the input after it.
fn base64_block<'a>(
    mut rest: &'a [u8],
    out: &mut Vec<u8>,
    budget: &mut Budget,
) -> Result<&'a [u8], Error> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut padded = false;
    while let Some((line, next)) = split_line(rest) {
        if is_end(line, b"====") {
            return Ok(next);
        }
        let valid = line
            .iter()
            .all(|c| base64_value(*c).is_some() || matches!(c, b'=' | b' ' | b'\t'));
        if !valid {
            return Ok(rest); // not base64: the block ends, see module doc
        }
        for &c in line {
            if c == b'=' {
                padded = true;
                continue;
            }
            let Some(v) = base64_value(c) else { continue };
            if padded {
                continue; // nothing counts after the padding
            }
            acc = ((acc << 6) | u32::from(v)) & 0xff_ffff;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                budget.put_byte(out, (acc >> bits) as u8)?;
            }
        }
        rest = next;
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_lines() {
        assert_eq!(
            begin_line(b"begin 644 a b.txt"),
            Some((Kind::Uu, &b"a b.txt"[..]))
        );
        assert_eq!(
            begin_line(b"begin-base64 0755 x"),
            Some((Kind::Base64, &b"x"[..]))
        );
        assert_eq!(begin_line(b"begin 644"), Some((Kind::Uu, &b""[..])));
        assert_eq!(begin_line(b"begin the story"), None);
        assert_eq!(begin_line(b"begin 648 x"), None);
        assert_eq!(begin_line(b"begin 123456789 x"), None);
        assert_eq!(begin_line(b"  begin 644 x"), None);
    }

    #[test]
    fn classic_line() {
        // "Cat" uuencoded by hand: 0x43 0x61 0x74.
        let m = decode(b"begin 644 c\n#0V%T\n`\nend\n", &crate::test_limits()).unwrap();
        assert_eq!(m[0].data, b"Cat");
    }
}
