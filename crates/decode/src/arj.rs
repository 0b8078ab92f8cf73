//! ARJ archives, methods 0 (stored) to 4 (fastest).
//!
//! Reference: Robert K. Jung's ARJ technical information (`technote.txt`,
//! distributed with ARJ 2.x): every header starts with the id `60 EA` and a
//! 16-bit basic header size (0 ends the archive, at most 2600), then the
//! basic header — its own length (`first_hdr_size`), versions, host OS,
//! flags (0x01 garbled, i.e. encrypted), method, file type, the sizes and
//! the CRC-32 of the original file, the name and a comment, both
//! NUL-terminated — then the CRC-32 of the basic header and a chain of
//! extended headers (a 16-bit size, 0 ends it, then the data and a CRC-32).
//! The first header is the archive's main header; each following one
//! describes a file whose packed data comes right after it.
//!
//! Methods 1 to 3 are LZ77 with static Huffman blocks, the same coding as
//! LHA's `-lh7-` (16-bit block counts, NT = 19 / TBIT = 5 code-length
//! codes, 510 command codes, NP = 17 / PBIT = 5 offset codes) over a window
//! of 26,624 bytes, which the `-lh7-` 64 KiB window covers: they are decoded
//! by `delharc`'s decoder. Method 4 is ARJ's own "fastest" coding, decoded
//! here: MSB-first bits; a length code in unary then binary (0 is a literal
//! byte of 8 bits, n is a match of n + 2 bytes), then a distance code in
//! unary then binary starting at 9 bits and capped at 13.

use delharc::decode::{Decoder, Lh7Decoder};

use crate::{Budget, Cursor, Error, Limits, Member};

const HEADER_ID: [u8; 2] = [0x60, 0xea];
const MAX_BASIC_HEADER: u16 = 2600;
/// The smallest `first_hdr_size` the technote describes (up to "last chapter").
const MIN_FIRST_HDR: u8 = 30;

const FLAG_GARBLED: u8 = 0x01;
const FLAG_VOLUME: u8 = 0x04;

const TYPE_BINARY: u8 = 0;
const TYPE_TEXT: u8 = 1;

/// Whether `input` starts with an ARJ main header whose CRC is right.
pub fn looks_like(input: &[u8]) -> bool {
    matches!(header(&mut Cursor::new(input)), Ok(Some(_)))
}

/// The files of an ARJ archive. Garbled (password-protected) files are
/// returned as `encrypted` members without data; directories and labels are
/// skipped.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Vec<Member>, Error> {
    let mut c = Cursor::new(input);
    header(&mut c)?.ok_or(Error::Malformed("no ARJ main header"))?;
    let mut budget = Budget::new(limits);
    let mut members = Vec::new();
    while let Some(h) = header(&mut c)? {
        let packed = c.take_u32_len(h.packed_size)?;
        if !matches!(h.file_type, TYPE_BINARY | TYPE_TEXT) {
            continue; // directory, volume or chapter label: no content
        }
        budget.member()?;
        if h.flags & FLAG_GARBLED != 0 {
            members.push(Member {
                name: h.name,
                data: Vec::new(),
                encrypted: true,
            });
            continue;
        }
        if h.flags & FLAG_VOLUME != 0 {
            // The file continues in the next volume, which we do not have.
            return Err(Error::Unsupported("multi-volume ARJ"));
        }
        if u64::from(h.original_size) > limits.max_member {
            return Err(Error::Limit("member too large"));
        }
        let mut data = Vec::new();
        match h.method {
            0 => budget.put(&mut data, packed)?,
            1..=3 => lh7(packed, h.original_size, &mut data, &mut budget)?,
            4 => fastest(packed, h.original_size, &mut data, &mut budget)?,
            _ => return Err(Error::Unsupported("ARJ method")),
        }
        if u64::try_from(data.len()).ok() != Some(u64::from(h.original_size)) {
            return Err(Error::Malformed("ARJ member size mismatch"));
        }
        if crc32fast::hash(&data) != h.crc {
            return Err(Error::Malformed("ARJ member CRC mismatch"));
        }
        members.push(Member {
            name: h.name,
            data,
            encrypted: false,
        });
    }
    Ok(members)
}

/// What we use of a basic header.
#[derive(Debug)]
struct Header {
    flags: u8,
    method: u8,
    file_type: u8,
    packed_size: u32,
    original_size: u32,
    crc: u32,
    name: Vec<u8>,
}

/// One header and its extended headers; `None` at the end-of-archive
/// marker (basic header size 0).
fn header(c: &mut Cursor) -> Result<Option<Header>, Error> {
    if c.array::<2>()? != HEADER_ID {
        return Err(Error::Malformed("ARJ header id"));
    }
    let size = c.u16()?;
    if size == 0 {
        return Ok(None);
    }
    if size > MAX_BASIC_HEADER {
        return Err(Error::Malformed("ARJ header too large"));
    }
    let basic = c.take(usize::from(size))?;
    if c.u32()? != crc32fast::hash(basic) {
        return Err(Error::Malformed("ARJ header CRC mismatch"));
    }
    // Extended headers: none are defined that matter to the content.
    loop {
        let n = c.u16()?;
        if n == 0 {
            break;
        }
        c.take(usize::from(n))?;
        c.u32()?;
    }
    let mut b = Cursor::new(basic);
    let first = b.u8()?;
    if first < MIN_FIRST_HDR || usize::from(first) > basic.len() {
        return Err(Error::Malformed("ARJ first header size"));
    }
    let _version = b.u8()?;
    let _min_version = b.u8()?;
    let _host_os = b.u8()?;
    let flags = b.u8()?;
    let method = b.u8()?;
    let file_type = b.u8()?;
    let _reserved = b.u8()?;
    let _mtime = b.u32()?;
    let packed_size = b.u32()?;
    let original_size = b.u32()?;
    let crc = b.u32()?;
    // The name starts after the fixed part and its extra data.
    let mut rest = Cursor::new(basic.get(usize::from(first)..).unwrap_or(&[]));
    let name = rest.cstr()?.to_vec();
    Ok(Some(Header {
        flags,
        method,
        file_type,
        packed_size,
        original_size,
        crc,
        name,
    }))
}

/// Methods 1–3 through delharc's `-lh7-` decoder, `size` bytes out.
fn lh7(packed: &[u8], size: u32, out: &mut Vec<u8>, budget: &mut Budget) -> Result<(), Error> {
    let mut d = Lh7Decoder::new(packed);
    let mut left = usize::try_from(size).map_err(|_| Error::Limit("member too large"))?;
    let mut buf = vec![0u8; 16 * 1024];
    while left > 0 {
        let n = left.min(buf.len());
        let chunk = buf.get_mut(..n).ok_or(Error::Truncated)?;
        d.fill_buffer(chunk)
            .map_err(|_| Error::Malformed("ARJ compressed data"))?;
        budget.put(out, chunk)?;
        left -= n;
    }
    Ok(())
}

/// MSB-first bit reader; reading past the end is [`Error::Truncated`].
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, Error> {
        let byte = self.data.get(self.pos / 8).ok_or(Error::Truncated)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Result<u32, Error> {
        (0..n).try_fold(0, |v, _| Ok((v << 1) | self.bit()?))
    }

    /// A value coded as up to `stop - start` one-bits ending in a zero (the
    /// zero is omitted at the cap), then `width` bits, where `width` starts
    /// at `start` and grows by one per one-bit; each one-bit adds `2^width`.
    fn unary_binary(&mut self, start: u32, stop: u32) -> Result<u32, Error> {
        let mut plus = 0;
        let mut width = start;
        while width < stop {
            if self.bit()? == 0 {
                break;
            }
            plus += 1 << width;
            width += 1;
        }
        Ok(plus + self.bits(width)?)
    }
}

/// Method 4, `size` bytes out.
fn fastest(packed: &[u8], size: u32, out: &mut Vec<u8>, budget: &mut Budget) -> Result<(), Error> {
    const THRESHOLD: usize = 3;
    let size = usize::try_from(size).map_err(|_| Error::Limit("member too large"))?;
    let mut bits = Bits {
        data: packed,
        pos: 0,
    };
    let start = out.len();
    while out.len() - start < size {
        let len = bits.unary_binary(0, 7)?;
        if len == 0 {
            let byte = bits.bits(8)? as u8;
            budget.put_byte(out, byte)?;
            continue;
        }
        let count = len as usize - 1 + THRESHOLD;
        let distance = bits.unary_binary(9, 13)? as usize + 1;
        let produced = out.len() - start;
        if distance > produced {
            return Err(Error::Malformed("ARJ match before the start"));
        }
        // A match may run past the declared size; ARJ stops at the size.
        let count = count.min(size - produced);
        budget.grow(out, count)?;
        let from = out.len() - distance;
        for k in 0..count {
            let b = *out.get(from + k).ok_or(Error::Malformed("ARJ match"))?;
            out.push(b);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bits MSB first, the way method 4 is read.
    struct W(Vec<u8>, u32);
    impl W {
        fn bits(&mut self, v: u32, n: u32) {
            for k in (0..n).rev() {
                if self.1.is_multiple_of(8) {
                    self.0.push(0);
                }
                if (v >> k) & 1 == 1 {
                    *self.0.last_mut().unwrap() |= 0x80 >> (self.1 % 8);
                }
                self.1 += 1;
            }
        }
    }

    #[test]
    fn method_4_literals_and_a_match() {
        // "abc" then a match of 6 at distance 3: "abcabcabc".
        let mut w = W(Vec::new(), 0);
        for b in b"abc" {
            w.bits(0, 1); // length code 0: literal
            w.bits(u32::from(*b), 8);
        }
        // length 6 = code 4: unary "1 1 0" (plus 1 + 2 = 3), then 2 bits = 1.
        w.bits(0b110, 3);
        w.bits(1, 2);
        // distance 3 = ptr 2: unary "0", then 9 bits = 2.
        w.bits(0, 1);
        w.bits(2, 9);
        let mut b = Budget::new(&crate::test_limits());
        let mut out = Vec::new();
        fastest(&w.0, 9, &mut out, &mut b).unwrap();
        assert_eq!(out, b"abcabcabc");
    }

    #[test]
    fn method_4_refuses_a_match_before_the_start() {
        let mut w = W(Vec::new(), 0);
        w.bits(0b10, 2);
        w.bits(0, 1);
        w.bits(0, 1);
        w.bits(5, 9);
        let mut b = Budget::new(&crate::test_limits());
        assert!(matches!(
            fastest(&w.0, 10, &mut Vec::new(), &mut b),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn method_4_truncated() {
        let mut b = Budget::new(&crate::test_limits());
        assert_eq!(
            fastest(&[0x00], 5, &mut Vec::new(), &mut b),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn headers_are_checked() {
        assert!(!looks_like(b"\x60\xea"));
        assert!(!looks_like(b"\x60\xea\x00\x00"));
        assert!(!looks_like(b"\x60\xea\x05\x00abcde\0\0\0\0\0\0"));
        assert_eq!(
            decode(b"PK\x03\x04", &crate::test_limits()),
            Err(Error::Malformed("ARJ header id"))
        );
    }
}
