//! BinHex 4.0 (`.hqx`).
//!
//! Reference: RFC 1741 (MIME Content Type for BinHex Encoded Files), whose
//! appendix holds Peter N. Lewis's "BinHex 4.0 Definition": after the line
//! `(This file must be converted with BinHex 4.0)` (macutils writes `(This
//! file must be converted; you knew that already.)`, so only the words both
//! share are looked for) comes a `:`-delimited run
//! of characters from a 64-character alphabet (whitespace between them is
//! ignored), each carrying 6 bits; the 8-bit stream is run-length encoded
//! with the marker 0x90 (`c 0x90 n` is `n` times `c`, `0x90 0x00` is a
//! literal 0x90) and holds a header (name length, name, version, type,
//! creator, flags, data length, resource length, CRC), the data fork and its
//! CRC, and the resource fork and its CRC. The CRCs are CRC-16/XMODEM
//! (polynomial 0x1021, initial 0), big-endian, like the lengths.

use crate::{Budget, Error, Limits, Member};

const MARKER: &[u8] = b"(This file must be converted";
const ALPHABET: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
const RLE: u8 = 0x90;

/// Whether the BinHex marker line is present.
pub fn looks_like(input: &[u8]) -> bool {
    find(input, MARKER).is_some()
}

/// The data fork (named as the file) and, when not empty, the resource fork
/// (named as the file plus `/rsrc`) of the first BinHex file in `input`.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Vec<Member>, Error> {
    let at = find(input, MARKER).ok_or(Error::Malformed("no BinHex marker line"))?;
    let after = input.get(at..).unwrap_or(&[]);
    let colon = after
        .iter()
        .position(|b| *b == b':')
        .ok_or(Error::Truncated)?;
    let mut s = Stream::new(after.get(colon + 1..).unwrap_or(&[]));
    let mut budget = Budget::new(limits);

    let mut header = Vec::with_capacity(64);
    let name_len = s.byte()?;
    header.push(name_len);
    for _ in 0..usize::from(name_len) + 1 + 4 + 4 + 2 + 4 + 4 {
        header.push(s.byte()?);
    }
    let name = header
        .get(1..=usize::from(name_len))
        .unwrap_or(&[])
        .to_vec();
    let lens = header.len().saturating_sub(8);
    let data_len = be32(header.get(lens..lens + 4));
    let rsrc_len = be32(header.get(lens + 4..lens + 8));
    check_crc(&mut s, crc16(&header), "header CRC mismatch")?;

    let mut members = Vec::new();
    budget.member()?;
    let data = fork(&mut s, data_len, limits, &mut budget)?;
    check_crc(&mut s, crc16(&data), "data fork CRC mismatch")?;
    members.push(Member {
        name: name.clone(),
        data,
        encrypted: false,
    });
    if rsrc_len > 0 {
        budget.member()?;
        let data = fork(&mut s, rsrc_len, limits, &mut budget)?;
        check_crc(&mut s, crc16(&data), "resource fork CRC mismatch")?;
        let mut name = name;
        name.extend_from_slice(b"/rsrc");
        members.push(Member {
            name,
            data,
            encrypted: false,
        });
    }
    Ok(members)
}

fn be32(b: Option<&[u8]>) -> u32 {
    match b {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn fork(s: &mut Stream, len: u32, limits: &Limits, budget: &mut Budget) -> Result<Vec<u8>, Error> {
    // Refuse a declared length over the limits before decoding any of it.
    if u64::from(len) > limits.max_member {
        return Err(Error::Limit("member too large"));
    }
    let mut out = Vec::new();
    for _ in 0..len {
        budget.put_byte(&mut out, s.byte()?)?;
    }
    Ok(out)
}

fn check_crc(s: &mut Stream, computed: u16, what: &'static str) -> Result<(), Error> {
    let stored = u16::from_be_bytes([s.byte()?, s.byte()?]);
    if stored != computed {
        return Err(Error::Malformed(what));
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The 6-bit value of each alphabet character, or 0xff.
const DECODE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

const CRC_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-16/XMODEM, as BinHex computes it.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[usize::from((crc >> 8) as u8 ^ b)]
    })
}

/// The 8-bit stream: 6-bit characters, then run-length expansion.
#[derive(Debug)]
struct Stream<'a> {
    input: &'a [u8],
    pos: usize,
    acc: u32,
    bits: u32,
    /// The byte a repeat marker repeats.
    last: Option<u8>,
    /// Copies of `last` still to come.
    repeat: u8,
}

impl<'a> Stream<'a> {
    fn new(input: &'a [u8]) -> Self {
        Stream {
            input,
            pos: 0,
            acc: 0,
            bits: 0,
            last: None,
            repeat: 0,
        }
    }

    /// The next byte before run-length expansion; the closing `:` or the
    /// end of the input is [`Error::Truncated`] (every caller needs a byte).
    fn raw(&mut self) -> Result<u8, Error> {
        while self.bits < 8 {
            let c = *self.input.get(self.pos).ok_or(Error::Truncated)?;
            self.pos += 1;
            match c {
                b':' => return Err(Error::Truncated),
                b' ' | b'\t' | b'\r' | b'\n' => continue,
                _ => {}
            }
            let v = DECODE[usize::from(c)];
            if v == 0xff {
                return Err(Error::Malformed("character outside the BinHex alphabet"));
            }
            self.acc = ((self.acc << 6) | u32::from(v)) & 0xfff;
            self.bits += 6;
        }
        self.bits -= 8;
        Ok((self.acc >> self.bits) as u8)
    }

    /// The next byte after run-length expansion.
    fn byte(&mut self) -> Result<u8, Error> {
        loop {
            if self.repeat > 0 {
                self.repeat -= 1;
                return self.last.ok_or(Error::Malformed("repeat of nothing"));
            }
            let b = self.raw()?;
            if b != RLE {
                self.last = Some(b);
                return Ok(b);
            }
            match self.raw()? {
                0 => {
                    self.last = Some(RLE);
                    return Ok(RLE);
                }
                // `n` counts the byte already written: n - 1 more copies.
                n => {
                    let prev = self.last.ok_or(Error::Malformed("repeat of nothing"))?;
                    if n >= 2 {
                        self.repeat = n - 2;
                        return Ok(prev);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
    }

    #[test]
    fn rle_expansion() {
        // Raw bytes 'A' 0x90 0x04 0x90 0x00 'B' as 6-bit characters.
        let raw = [b'A', RLE, 4, RLE, 0, b'B'];
        let mut chars = Vec::new();
        for c in raw.chunks(3) {
            let mut g = [0u8; 3];
            g[..c.len()].copy_from_slice(c);
            let v = u32::from_be_bytes([0, g[0], g[1], g[2]]);
            for k in (0..4).rev() {
                chars.push(ALPHABET[((v >> (6 * k)) & 63) as usize]);
            }
        }
        let mut s = Stream::new(&chars);
        let got: Vec<u8> = (0..6).map(|_| s.byte().unwrap()).collect();
        assert_eq!(got, b"AAAA\x90B");
    }

    #[test]
    fn repeat_with_nothing_before_is_malformed() {
        let v = u32::from_be_bytes([0, RLE, 3, 0]);
        let chars: Vec<u8> = (0..4)
            .rev()
            .map(|k| ALPHABET[((v >> (6 * k)) & 63) as usize])
            .collect();
        assert!(matches!(
            Stream::new(&chars).byte(),
            Err(Error::Malformed(_))
        ));
    }
}
