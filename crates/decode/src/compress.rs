//! unix `compress` (`.Z`), LZW with 9 to 16 bit codes.
//!
//! Reference: there is no standard; the format is what `compress` 4.x
//! (ncompress 4.2.4, `compress42.c`, whose `decompress()` this follows)
//! writes: the magic `1F 9D`, one byte holding the largest code width in its
//! low 5 bits and "block mode" in 0x80, then LZW codes packed LSB first.
//! Codes start 9 bits wide and widen by one when the next free table entry
//! passes the current width; in block mode code 256 (CLEAR) resets the table
//! and the width to 9.
//!
//! The historical quirk: `compress` emits codes in groups of eight, i.e. in
//! blocks of `width` bytes, and when the width changes or a CLEAR is
//! emitted, it pads the block it is in to its full length. A decoder must
//! skip that padding — round the bit position up to the next multiple of
//! `width * 8` bits, counted from where the current width began — or real
//! output decodes to garbage after the first width change.

use crate::{Budget, Error, Limits};

const CLEAR: u32 = 256;
const INIT_BITS: u32 = 9;

/// Decompresses a `.Z` stream.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Vec<u8>, Error> {
    let (magic, rest) = input.split_at_checked(2).ok_or(Error::Truncated)?;
    if magic != [0x1f, 0x9d] {
        return Err(Error::Malformed("not compress magic"));
    }
    let (&flags, codes) = rest.split_first().ok_or(Error::Truncated)?;
    let max_bits = u32::from(flags & 0x1f);
    let block_mode = flags & 0x80 != 0;
    if !(INIT_BITS..=16).contains(&max_bits) {
        return Err(Error::Unsupported("code width outside 9..=16"));
    }
    // 0x60 is reserved; ncompress ignores it, and so do we.
    let max_max_code = 1u32 << max_bits;

    let mut budget = Budget::new(limits);
    let mut out = Vec::new();
    // prefix[c] and suffix[c]: the string of code c is string(prefix) + suffix.
    let mut prefix = vec![0u16; 1 << 16];
    let mut suffix: Vec<u8> = (0..=u16::MAX).map(|c| c as u8).collect();
    let mut stack: Vec<u8> = Vec::with_capacity(1 << 16);

    let total_bits = (codes.len() as u64).saturating_mul(8);
    let mut bits = Bits { codes, pos: 0 };
    let mut group_start: u64 = 0;
    let mut n_bits = INIT_BITS;
    let mut max_code = (1u32 << n_bits) - 1;
    let mut free_ent: u32 = if block_mode { CLEAR + 1 } else { CLEAR };
    let mut old_code: Option<u32> = None;
    let mut fin_char: u8 = 0;

    loop {
        if free_ent > max_code {
            // Width change: skip the padding of the current group.
            bits.pos = round_up(bits.pos, group_start, n_bits);
            group_start = bits.pos;
            n_bits += 1;
            max_code = if n_bits >= max_bits {
                max_max_code
            } else {
                (1u32 << n_bits) - 1
            };
            continue;
        }
        if bits.pos.saturating_add(u64::from(n_bits)) > total_bits {
            break; // the trailing partial code is padding
        }
        let code = bits.read(n_bits);
        let Some(prev) = old_code else {
            // The first code is a literal byte.
            if code >= CLEAR {
                return Err(Error::Malformed("first code is not a literal"));
            }
            fin_char = code as u8;
            budget.put_byte(&mut out, fin_char)?;
            old_code = Some(code);
            continue;
        };
        if code == CLEAR && block_mode {
            // Entry 256 is rewritten by the next code and never read, so
            // old_code is kept, as compress42.c does.
            free_ent = CLEAR;
            bits.pos = round_up(bits.pos, group_start, n_bits);
            group_start = bits.pos;
            n_bits = INIT_BITS;
            max_code = (1u32 << n_bits) - 1;
            continue;
        }
        stack.clear();
        let mut c = code;
        if c >= free_ent {
            // The KwKwK case: the code being defined right now.
            if c > free_ent {
                return Err(Error::Malformed("code not yet defined"));
            }
            stack.push(fin_char);
            c = prev;
        }
        // Every entry's prefix is an older entry, so this walk ends; the
        // bound only guards the invariant.
        while c >= CLEAR {
            let i = c as usize;
            if stack.len() >= 1 << 16 {
                return Err(Error::Malformed("code chain loops"));
            }
            stack.push(*suffix.get(i).ok_or(Error::Malformed("code out of range"))?);
            c = u32::from(*prefix.get(i).ok_or(Error::Malformed("code out of range"))?);
        }
        fin_char = c as u8;
        stack.push(fin_char);
        budget.grow(&mut out, stack.len())?;
        out.extend(stack.iter().rev());
        if free_ent < max_max_code {
            let i = free_ent as usize;
            if let (Some(p), Some(s)) = (prefix.get_mut(i), suffix.get_mut(i)) {
                *p = prev as u16;
                *s = fin_char;
            }
            free_ent += 1;
        }
        old_code = Some(code);
    }
    Ok(out)
}

/// The next multiple of `n_bits * 8` bits after `group_start`, at or after
/// `pos`.
fn round_up(pos: u64, group_start: u64, n_bits: u32) -> u64 {
    let group = u64::from(n_bits) * 8;
    let into = (pos - group_start) % group;
    if into == 0 {
        pos
    } else {
        pos + (group - into)
    }
}

/// LSB-first code reader; `pos` may run past the end, reads there are 0.
struct Bits<'a> {
    codes: &'a [u8],
    pos: u64,
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> u32 {
        let byte = usize::try_from(self.pos / 8).unwrap_or(usize::MAX);
        let shift = (self.pos % 8) as u32;
        let mut w: u32 = 0;
        for k in 0..3 {
            let b = self.codes.get(byte.saturating_add(k)).copied().unwrap_or(0);
            w |= u32::from(b) << (8 * k);
        }
        self.pos += u64::from(n);
        (w >> shift) & ((1 << n) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_the_group() {
        assert_eq!(round_up(0, 0, 9), 0);
        assert_eq!(round_up(9, 0, 9), 72);
        assert_eq!(round_up(72, 0, 9), 72);
        assert_eq!(round_up(100, 72, 10), 152);
    }

    #[test]
    fn header_checks() {
        let l = crate::test_limits();
        assert_eq!(decode(b"\x1f", &l), Err(Error::Truncated));
        assert_eq!(
            decode(b"\x1f\x9e\x90", &l),
            Err(Error::Malformed("not compress magic"))
        );
        assert!(matches!(
            decode(b"\x1f\x9d\x91", &l),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            decode(b"\x1f\x9d\x88", &l),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(decode(b"\x1f\x9d\x90", &l), Ok(Vec::new()));
    }
}
