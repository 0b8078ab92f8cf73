//! Hand-written, I/O-free decoders for the legacy encodings and archives
//! that the virus scanner (`mailhost-antivirus`) opens inside mail.
//!
//! # Layout
//! One module per format, all of the same shape — bytes and [`Limits`] in,
//! decoded [`Member`]s (or bytes) or an [`Error`] out:
//! - [`uu`] — `begin … end` uuencode blocks and `begin-base64` (uuencode -m);
//! - [`binhex`] — BinHex 4.0 (RFC 1741): data and resource forks;
//! - [`compress`] — unix compress `.Z` (LZW, 9–16 bits);
//! - [`tnef`] — TNEF / `winmail.dat` (MS-OXTNEF): the attachments;
//! - [`rtf`] — RTF `\objdata` embedded objects (OLE1, MS-OLEDS), with the
//!   file inside a `Package` object;
//! - [`arj`] — ARJ archives, methods 0–4.
//!
//! # Place in the whole
//! The scanner's recursion engine owns one budget per message and calls a
//! decoder with what is left of it; the members it gets back are scanned and
//! opened again in turn (a TNEF inside a TNEF, an ARJ inside a `.Z`, …). No
//! decoder here recurses, touches the filesystem or interprets a path: names
//! are returned as the raw bytes stored in the input.
//!
//! # Rules every decoder keeps (the input is hostile)
//! - It never panics: no slice indexing that can go out of bounds, no
//!   unchecked arithmetic on input-derived numbers, no `unwrap` on them.
//! - It never allocates more than the [`Limits`] allow: output grows through
//!   [`Budget`], which checks the limits *before* a byte is added and reserves
//!   capacity with a cap at what the limits still allow; a length read from
//!   the input is checked against the input that is left before it is used.
//! - It always ends, in time linear in input plus output.

pub mod arj;
pub mod binhex;
pub mod compress;
pub mod rtf;
pub mod tnef;
pub mod uu;

/// What a decoder may produce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of output over all members together.
    pub max_total: u64,
    /// Bytes of output in any one member.
    pub max_member: u64,
    /// Number of members.
    pub max_members: u32,
}

/// One decoded file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// The name as stored in the input, raw bytes (may be empty, may hold a
    /// path with `..` or a drive letter: the caller decides what to do).
    pub name: Vec<u8>,
    /// The decoded content; empty when `encrypted`.
    pub data: Vec<u8>,
    /// The content could not be read because it is encrypted or garbled.
    pub encrypted: bool,
}

/// Why a decoder stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the format said it would.
    #[error("truncated")]
    Truncated,
    /// The input breaks the format (bad magic, bad code, checksum mismatch).
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// Decoding further would pass one of the [`Limits`].
    #[error("over a limit: {0}")]
    Limit(&'static str),
    /// A valid feature of the format that this crate does not decode.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// The output accounting that every decoder goes through.
///
/// Invariant: `total` is the sum of the bytes added so far over all members
/// and never exceeds `limits.max_total`; `members` never exceeds
/// `limits.max_members`; no member grows past `limits.max_member`, and no
/// member's capacity is reserved past what the limits still allow.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: Limits,
    total: u64,
    members: u32,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Budget {
            limits: *limits,
            total: 0,
            members: 0,
        }
    }

    /// Counts one more member. Call it before decoding the member's data.
    pub(crate) fn member(&mut self) -> Result<(), Error> {
        if self.members >= self.limits.max_members {
            return Err(Error::Limit("too many members"));
        }
        self.members += 1;
        Ok(())
    }

    /// Accounts for `add` more bytes in `out` and makes room for them.
    pub(crate) fn grow(&mut self, out: &mut Vec<u8>, add: usize) -> Result<(), Error> {
        let add64 = u64::try_from(add).map_err(|_| Error::Limit("member too large"))?;
        let len64 = u64::try_from(out.len()).map_err(|_| Error::Limit("member too large"))?;
        let new_len = len64
            .checked_add(add64)
            .filter(|n| *n <= self.limits.max_member)
            .ok_or(Error::Limit("member too large"))?;
        let total = self
            .total
            .checked_add(add64)
            .filter(|n| *n <= self.limits.max_total)
            .ok_or(Error::Limit("total output too large"))?;
        self.total = total;
        if out.capacity() - out.len() < add {
            // Geometric growth, capped at what this member may still reach.
            let room = (self.limits.max_member - new_len).min(self.limits.max_total - total);
            let cap = new_len.saturating_add(room);
            let want = (out.capacity() as u64)
                .saturating_mul(2)
                .max(new_len)
                .max(256)
                .min(cap);
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            out.reserve_exact(want.saturating_sub(out.len()));
        }
        Ok(())
    }

    /// Appends `data` to `out` within the limits.
    pub(crate) fn put(&mut self, out: &mut Vec<u8>, data: &[u8]) -> Result<(), Error> {
        self.grow(out, data.len())?;
        out.extend_from_slice(data);
        Ok(())
    }

    /// Appends one byte to `out` within the limits.
    pub(crate) fn put_byte(&mut self, out: &mut Vec<u8>, byte: u8) -> Result<(), Error> {
        self.grow(out, 1)?;
        out.push(byte);
        Ok(())
    }
}

/// A little-endian cursor over the input: every read is checked and a
/// short read is [`Error::Truncated`].
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Takes `n` bytes where `n` came from the input as a `u32`.
    pub(crate) fn take_u32_len(&mut self, n: u32) -> Result<&'a [u8], Error> {
        self.take(usize::try_from(n).map_err(|_| Error::Truncated)?)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A NUL-terminated string (without the NUL); the NUL is consumed.
    pub(crate) fn cstr(&mut self) -> Result<&'a [u8], Error> {
        let rest = self.rest();
        let n = rest.iter().position(|b| *b == 0).ok_or(Error::Truncated)?;
        let s = self.take(n)?;
        self.pos += 1;
        Ok(s)
    }
}

/// The value of one hexadecimal digit, either case.
pub fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Generous limits for unit tests.
#[cfg(test)]
pub(crate) fn test_limits() -> Limits {
    Limits {
        max_total: 1 << 24,
        max_member: 1 << 24,
        max_members: 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: u64, member: u64, members: u32) -> Limits {
        Limits {
            max_total: total,
            max_member: member,
            max_members: members,
        }
    }

    #[test]
    fn budget_checks_member_total_and_count() {
        let mut b = Budget::new(&limits(10, 6, 2));
        let mut a = Vec::new();
        b.member().unwrap();
        b.put(&mut a, b"123456").unwrap();
        assert_eq!(
            b.put_byte(&mut a, b'7'),
            Err(Error::Limit("member too large"))
        );
        b.member().unwrap();
        let mut c = Vec::new();
        b.put(&mut c, b"1234").unwrap();
        assert_eq!(
            b.put_byte(&mut c, b'5'),
            Err(Error::Limit("total output too large"))
        );
        assert_eq!(b.member(), Err(Error::Limit("too many members")));
        assert!(
            a.capacity() <= 6 && c.capacity() <= 4,
            "{} {}",
            a.capacity(),
            c.capacity()
        );
    }

    #[test]
    fn budget_never_reserves_past_the_limits() {
        let mut b = Budget::new(&limits(1000, 300, 1));
        let mut out = Vec::new();
        for _ in 0..300 {
            b.put_byte(&mut out, 0).unwrap();
            assert!(out.capacity() <= 300);
        }
    }

    #[test]
    fn cursor_reads_are_checked() {
        let mut c = Cursor::new(b"\x01\x02\x03abc\0");
        assert_eq!(c.u16(), Ok(0x0201));
        assert_eq!(c.u8(), Ok(3));
        assert_eq!(c.cstr(), Ok(&b"abc"[..]));
        assert_eq!(c.remaining(), 0);
        assert_eq!(c.u8(), Err(Error::Truncated));
        assert_eq!(c.take(usize::MAX), Err(Error::Truncated));
        assert_eq!(Cursor::new(b"ab").cstr(), Err(Error::Truncated));
    }
}
