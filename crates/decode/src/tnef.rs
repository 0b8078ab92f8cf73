//! TNEF (`winmail.dat`, `application/ms-tnef`): the attachments.
//!
//! Reference: [MS-OXTNEF] "Transport Neutral Encapsulation Format (TNEF)
//! Data Algorithm". §2.1.3.1: the stream is the signature 0x223E9F78, a
//! 16-bit key, then attributes: a level byte (1 message, 2 attachment), a
//! 32-bit attribute id, a 32-bit length, the data and a 16-bit checksum (the
//! sum of the data bytes mod 65536). §2.1.3.3: `attAttachRendData` begins an
//! attachment, `attAttachTitle` is its (short) name, `attAttachData` its
//! content, and `attAttachment` its MAPI properties, encoded as in §2.1.3.4
//! (count, then per property a type, an id, a named-property block for ids
//! at or above 0x8000, and the value, padded to 4 bytes). From those we take
//! `PidTagAttachLongFilename` (0x3707), `PidTagAttachFilename` (0x3704) and
//! `PidTagAttachDataBinary`/`PidTagAttachDataObject` (0x3701, PtypBinary or
//! PtypObject; an object starts with the 16-byte interface id, skipped).
//!
//! An embedded message is itself a TNEF stream inside a PtypObject: it is
//! returned as a member and the caller opens it again.
//!
//! Names: an 8-bit name is returned as stored; a PtypString (UTF-16LE) name
//! is returned converted to UTF-8, so that the caller matches extensions on
//! one encoding. A trailing NUL is removed from either.

use crate::{Budget, Cursor, Error, Limits, Member};

/// The stream signature, little-endian.
pub const SIGNATURE: u32 = 0x223E_9F78;

const LVL_MESSAGE: u8 = 1;
const LVL_ATTACHMENT: u8 = 2;

// [MS-OXTNEF] §2.1.3.3: the attribute ids (type in the high word).
const ATT_ATTACH_REND_DATA: u32 = 0x0006_9002;
const ATT_ATTACH_TITLE: u32 = 0x0001_8010;
const ATT_ATTACH_DATA: u32 = 0x0006_800F;
const ATT_ATTACHMENT: u32 = 0x0006_9005;
const ATT_MAPI_PROPS: u32 = 0x0006_9003;

// [MS-OXPROPS] property ids and [MS-OXCDATA] §2.11.1 property types.
const PID_ATTACH_DATA: u16 = 0x3701;
const PID_ATTACH_FILENAME: u16 = 0x3704;
const PID_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const MV_FLAG: u16 = 0x1000;

/// Whether `input` starts with the TNEF signature.
pub fn looks_like(input: &[u8]) -> bool {
    input.get(..4) == Some(&SIGNATURE.to_le_bytes()[..])
}

/// The attachments of a TNEF stream.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Vec<Member>, Error> {
    let mut c = Cursor::new(input);
    if c.u32()? != SIGNATURE {
        return Err(Error::Malformed("not a TNEF signature"));
    }
    let _legacy_key = c.u16()?;
    let mut budget = Budget::new(limits);
    let mut members = Vec::new();
    let mut current: Option<Attachment> = None;
    while c.remaining() > 0 {
        let level = c.u8()?;
        let id = c.u32()?;
        let len = c.u32()?;
        let data = c.take_u32_len(len)?;
        let checksum = c.u16()?;
        let sum = data.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
        if sum != checksum {
            return Err(Error::Malformed("attribute checksum mismatch"));
        }
        match level {
            LVL_MESSAGE => continue, // message attributes hold no files
            LVL_ATTACHMENT => {}
            _ => return Err(Error::Malformed("attribute level")),
        }
        if id == ATT_ATTACH_REND_DATA {
            if let Some(a) = current.take() {
                a.emit(&mut members, &mut budget)?;
            }
            current = Some(Attachment::default());
            continue;
        }
        // Leniency: an attachment attribute before any attAttachRendData
        // starts an attachment (some writers omit the rendering data).
        let a = current.get_or_insert_with(Attachment::default);
        match id {
            ATT_ATTACH_TITLE => a.title = Some(trim_nul(data)),
            ATT_ATTACH_DATA => a.data = Some(data),
            // attMAPIProps at attachment level is not in the spec; accepted
            // as attAttachment since the encoding is the same.
            ATT_ATTACHMENT | ATT_MAPI_PROPS => a.props(data)?,
            _ => {}
        }
    }
    if let Some(a) = current.take() {
        a.emit(&mut members, &mut budget)?;
    }
    Ok(members)
}

/// What has been seen of one attachment; the data stays in the input until
/// the attachment ends.
#[derive(Debug, Default)]
struct Attachment<'a> {
    title: Option<&'a [u8]>,
    short_name: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
    data: Option<&'a [u8]>,
    /// PidTagAttachDataBinary / PidTagAttachDataObject values.
    mapi_data: Vec<&'a [u8]>,
}

impl<'a> Attachment<'a> {
    /// Reads the properties we want from an attAttachment block.
    fn props(&mut self, block: &'a [u8]) -> Result<(), Error> {
        let mut c = Cursor::new(block);
        let count = c.u32()?;
        for _ in 0..count {
            // Each property takes at least 8 bytes: a count past the block
            // ends here as Truncated, so this loop is bounded by the input.
            let ty = c.u16()?;
            let id = c.u16()?;
            if id >= 0x8000 {
                skip_property_name(&mut c)?;
            }
            let base = ty & !MV_FLAG;
            let multi = ty & MV_FLAG != 0;
            match base {
                PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT => {
                    let n = c.u32()?;
                    for _ in 0..n {
                        let len = c.u32()?;
                        let value = c.take_u32_len(len)?;
                        c.take(pad4(value.len()))?;
                        self.value(id, base, value);
                    }
                }
                _ => {
                    let size = fixed_size(base).ok_or(Error::Malformed("MAPI property type"))?;
                    let n = if multi { c.u32()? } else { 1 };
                    for _ in 0..n {
                        c.take(size)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn value(&mut self, id: u16, ty: u16, value: &'a [u8]) {
        match (id, ty) {
            (PID_ATTACH_DATA, PT_BINARY) => self.mapi_data.push(value),
            (PID_ATTACH_DATA, PT_OBJECT) => {
                // The interface id (IID_IMessage, IID_IStorage, …) first.
                self.mapi_data.push(value.get(16..).unwrap_or(&[]));
            }
            (PID_ATTACH_LONG_FILENAME, PT_STRING8) => {
                self.long_name = Some(trim_nul(value).to_vec())
            }
            (PID_ATTACH_LONG_FILENAME, PT_UNICODE) => self.long_name = Some(utf16_name(value)),
            (PID_ATTACH_FILENAME, PT_STRING8) => self.short_name = Some(trim_nul(value).to_vec()),
            (PID_ATTACH_FILENAME, PT_UNICODE) => self.short_name = Some(utf16_name(value)),
            _ => {}
        }
    }

    /// One member per distinct content: attAttachData first, then any MAPI
    /// data that differs from it (a reader may show either one, so the
    /// scanner must see both).
    fn emit(self, members: &mut Vec<Member>, budget: &mut Budget) -> Result<(), Error> {
        let name = self
            .long_name
            .or_else(|| self.title.map(<[u8]>::to_vec))
            .or(self.short_name)
            .unwrap_or_default();
        let mut contents: Vec<&[u8]> = Vec::new();
        for d in self.data.into_iter().chain(self.mapi_data) {
            if !contents.contains(&d) {
                contents.push(d);
            }
        }
        if contents.is_empty() && !name.is_empty() {
            contents.push(&[]);
        }
        for d in contents {
            budget.member()?;
            let mut data = Vec::new();
            budget.put(&mut data, d)?;
            members.push(Member {
                name: name.clone(),
                data,
                encrypted: false,
            });
        }
        Ok(())
    }
}

/// [MS-OXTNEF] §2.1.3.4: GUID, kind, then a 32-bit id (kind 0) or a
/// length-prefixed UTF-16 name padded to 4 bytes (kind 1).
fn skip_property_name(c: &mut Cursor) -> Result<(), Error> {
    c.take(16)?;
    match c.u32()? {
        0 => {
            c.u32()?;
        }
        1 => {
            let len = c.u32()?;
            let name = c.take_u32_len(len)?;
            c.take(pad4(name.len()))?;
        }
        _ => return Err(Error::Malformed("named property kind")),
    }
    Ok(())
}

/// The size in the stream of a fixed-size property value ([MS-OXTNEF]
/// §2.1.3.4: 16-bit values are padded to 4 bytes).
fn fixed_size(ty: u16) -> Option<usize> {
    Some(match ty {
        0x0001 | 0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => 4,
        0x0005..=0x0007 | 0x0014 | 0x0040 => 8,
        0x0048 => 16,
        _ => return None,
    })
}

fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

fn trim_nul(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    s.get(..end).unwrap_or(&[])
}

fn utf16_name(value: &[u8]) -> Vec<u8> {
    let units = value
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .take_while(|u| *u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(trim_nul(b"a.txt\0\0"), b"a.txt");
        assert_eq!(trim_nul(b"\0"), b"");
        assert_eq!(utf16_name(b"a\0.\0\xe9\0\0\0x\0"), "a.é".as_bytes());
        assert_eq!(pad4(5), 3);
        assert_eq!(pad4(8), 0);
    }

    #[test]
    fn signature_only() {
        let l = crate::test_limits();
        assert_eq!(decode(b"\x78\x9f\x3e\x22\x00\x00", &l), Ok(Vec::new()));
        assert_eq!(
            decode(b"\x78\x9f\x3e\x23\x00\x00", &l),
            Err(Error::Malformed("not a TNEF signature"))
        );
        assert_eq!(decode(b"\x78\x9f", &l), Err(Error::Truncated));
    }
}
