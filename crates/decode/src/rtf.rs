//! Embedded objects in RTF: the `\objdata` (and `\datastore`) destinations.
//!
//! Reference: Microsoft's RTF Specification 1.9.1, "Objects": an object's
//! data is the `\objdata` destination, the object in its OLE1 form written as
//! hexadecimal text (or as raw bytes after `\binN`). The OLE1 form is
//! [MS-OLEDS] §2.2.4 `ObjectHeader` + `EmbeddedObject`: a version, a format
//! id (2 = embedded), three length-prefixed ANSI strings (class, topic, item),
//! then the native data with its 32-bit length. An object of class
//! `Package` (the Object Packager, which is how a file is dropped into a
//! document) holds in its native data a small header — a signature, the
//! label, the original path, a type, the temporary path — then the file
//! itself with its 32-bit length. `\datastore` carries an OLE2 compound file
//! as hexadecimal text in the same way.
//!
//! What comes back, per object: the packaged file (named by its label), or
//! else the native data (named by the class; often an OLE2 compound file,
//! which the caller opens again), or, when the hex does not even hold an
//! OLE1 header, the decoded bytes themselves — crafted documents rely on
//! readers that give up, so nothing decoded is dropped.
//!
//! Hex is read the way Word reads it, leniently: whitespace and anything
//! that is not a hex digit are skipped, control words are skipped, a nested
//! group is skipped, an odd final digit is dropped.

use crate::{Budget, Cursor, Error, Limits, Member};

const DESTINATIONS: [&[u8]; 2] = [b"\\objdata", b"\\datastore"];
const FORMAT_EMBEDDED: u32 = 2;

/// The objects embedded in an RTF document.
pub fn objects(input: &[u8], limits: &Limits) -> Result<Vec<Member>, Error> {
    let mut budget = Budget::new(limits);
    let mut members = Vec::new();
    let mut at = 0usize;
    while let Some((start, word)) = next_destination(input, at) {
        let body = input.get(start + word..).unwrap_or(&[]);
        let (data, used) = destination_bytes(body, &mut budget)?;
        at = start + word + used.max(1);
        if data.is_empty() {
            continue;
        }
        budget.member()?;
        members.push(match ole1(&data) {
            Some(m) => m,
            None => Member {
                name: b"RTF object data".to_vec(),
                data,
                encrypted: false,
            },
        });
    }
    Ok(members)
}

/// The next `\objdata` or `\datastore` control word at or after `from` (a
/// control word ends at a non-letter): its offset and length.
fn next_destination(input: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(off) = input.get(i..)?.iter().position(|b| *b == b'\\') {
        let at = i + off;
        let rest = input.get(at..)?;
        for d in DESTINATIONS {
            if rest.len() >= d.len()
                && rest
                    .get(..d.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(d))
                && !rest.get(d.len()).is_some_and(u8::is_ascii_alphabetic)
            {
                return Some((at, d.len()));
            }
        }
        i = at + 1;
    }
    None
}

/// The bytes of one destination's hex text, up to the `}` that closes its
/// group, and how much input that took.
fn destination_bytes(body: &[u8], budget: &mut Budget) -> Result<(Vec<u8>, usize), Error> {
    let mut out = Vec::new();
    let mut high: Option<u8> = None;
    let mut nested = 0u32;
    let mut i = 0usize;
    while let Some(&c) = body.get(i) {
        match c {
            b'{' => nested += 1,
            b'}' if nested == 0 => return Ok((out, i + 1)),
            b'}' => nested -= 1,
            b'\\' => {
                let (skip, bin) = control(body.get(i..).unwrap_or(&[]));
                if let Some(n) = bin.filter(|_| nested == 0) {
                    // `\binN`: N raw bytes follow the control word.
                    let from = i + skip;
                    let raw = body
                        .get(from..from.saturating_add(n))
                        .ok_or(Error::Truncated)?;
                    budget.grow(&mut out, raw.len())?;
                    out.extend_from_slice(raw);
                    i = from + n;
                    continue;
                }
                i += skip;
                continue;
            }
            _ if nested == 0 => {
                if let Some(v) = crate::hex_digit(c) {
                    match high.take() {
                        None => high = Some(v),
                        Some(h) => budget.put_byte(&mut out, (h << 4) | v)?,
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok((out, i)) // unterminated group: what was read
}

/// The length of the control sequence at the start of `s` (which starts
/// with a backslash), and N when it is `\binN`.
fn control(s: &[u8]) -> (usize, Option<usize>) {
    let letters = s
        .iter()
        .skip(1)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if letters == 0 {
        // A control symbol: `\x`; `\'hh` is a hex escape of one character.
        return if s.get(1) == Some(&b'\'') {
            (4.min(s.len()), None)
        } else {
            (2.min(s.len()), None)
        };
    }
    let mut n = 1 + letters;
    let word = s.get(1..n).unwrap_or(&[]);
    if s.get(n) == Some(&b'-') {
        n += 1;
    }
    let digits = s
        .get(n..)
        .unwrap_or(&[])
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let param = s.get(n..n + digits).unwrap_or(&[]);
    n += digits;
    if s.get(n) == Some(&b' ') {
        n += 1; // the delimiting space belongs to the control word
    }
    let bin = (word == b"bin")
        .then(|| std::str::from_utf8(param).ok()?.parse::<usize>().ok())
        .flatten();
    (n.min(s.len()), bin)
}

/// An OLE1 embedded object: the packaged file, or the native data.
fn ole1(data: &[u8]) -> Option<Member> {
    let mut c = Cursor::new(data);
    let _version = c.u32().ok()?;
    if c.u32().ok()? != FORMAT_EMBEDDED {
        return None;
    }
    let class = ansi(&mut c)?;
    let _topic = ansi(&mut c)?;
    let _item = ansi(&mut c)?;
    let size = c.u32().ok()?;
    // A short native data (the writer's length is wrong) is still scanned:
    // take what is there.
    let native = c.take_u32_len(size).unwrap_or_else(|_| c.rest());
    if class.eq_ignore_ascii_case(b"Package") {
        if let Some(m) = package(native) {
            return Some(m);
        }
    }
    let mut name = b"OLE object ".to_vec();
    name.extend_from_slice(class);
    Some(Member {
        name,
        data: native.to_vec(),
        encrypted: false,
    })
}

/// [MS-OLEDS] LengthPrefixedAnsiString, without its terminating NUL.
fn ansi<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let n = c.u32().ok()?;
    let s = c.take_u32_len(n).ok()?;
    Some(s.strip_suffix(b"\0").unwrap_or(s))
}

/// The file inside Object Packager native data.
fn package(native: &[u8]) -> Option<Member> {
    let mut c = Cursor::new(native);
    if c.u16().ok()? != 2 {
        return None;
    }
    let label = c.cstr().ok()?;
    let _original_path = c.cstr().ok()?;
    let _reserved = c.u16().ok()?;
    if c.u16().ok()? != 3 {
        return None; // 1 is a link to a file, which carries no content
    }
    let temp_len = c.u32().ok()?;
    c.take_u32_len(temp_len).ok()?;
    let size = c.u32().ok()?;
    let data = c.take_u32_len(size).ok()?;
    Some(Member {
        name: label.to_vec(),
        data: data.to_vec(),
        encrypted: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexed(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn lp(s: &[u8]) -> Vec<u8> {
        let mut v = ((s.len() + 1) as u32).to_le_bytes().to_vec();
        v.extend_from_slice(s);
        v.push(0);
        v
    }

    fn ole(class: &[u8], native: &[u8]) -> Vec<u8> {
        let mut v = vec![1, 5, 0, 0, 2, 0, 0, 0];
        v.extend(lp(class));
        v.extend(lp(b""));
        v.extend(lp(b""));
        v.extend((native.len() as u32).to_le_bytes());
        v.extend_from_slice(native);
        v
    }

    fn packaged(label: &[u8], file: &[u8]) -> Vec<u8> {
        let mut n = vec![2, 0];
        n.extend_from_slice(label);
        n.push(0);
        n.extend_from_slice(b"C:\\x\\");
        n.extend_from_slice(label);
        n.push(0);
        n.extend([0, 0, 3, 0]);
        let temp = b"C:\\Temp\\f\0";
        n.extend((temp.len() as u32).to_le_bytes());
        n.extend_from_slice(temp);
        n.extend((file.len() as u32).to_le_bytes());
        n.extend_from_slice(file);
        n
    }

    #[test]
    fn a_packaged_file() {
        let obj = ole(b"Package", &packaged(b"run.exe", b"MZ payload"));
        let h = hexed(&obj);
        // Line breaks, a nested group and a control word inside the hex.
        let (a, b) = h.split_at(20);
        let rtf =
            format!("{{\\rtf1{{\\object\\objemb{{\\*\\objdata {a}\r\n{{\\*\\x 00}}\\par {b}}}}}}}");
        let m = objects(rtf.as_bytes(), &crate::test_limits()).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, b"run.exe");
        assert_eq!(m[0].data, b"MZ payload");
    }

    #[test]
    fn other_classes_give_their_native_data() {
        let obj = ole(b"Equation.3", b"\xd0\xcf\x11\xe0native");
        let rtf = format!("{{\\rtf1{{\\object{{\\*\\OBJDATA {}}}}}}}", hexed(&obj));
        let m = objects(rtf.as_bytes(), &crate::test_limits()).unwrap();
        assert_eq!(m[0].name, b"OLE object Equation.3");
        assert_eq!(m[0].data, b"\xd0\xcf\x11\xe0native");
    }

    #[test]
    fn raw_bytes_when_no_ole1_header_and_bin() {
        let rtf = b"{\\rtf1{\\*\\objdata 414243\\bin3 \x00\x01\x02 44}{\\*\\datastore 4}}";
        let m = objects(rtf, &crate::test_limits()).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].data, b"ABC\x00\x01\x02D");
        assert!(objects(b"{\\rtf1 \\objdatax 41}", &crate::test_limits())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_bin_and_limits() {
        let l = crate::test_limits();
        assert_eq!(
            objects(b"{\\rtf1{\\*\\objdata \\bin99 ab}}", &l),
            Err(Error::Truncated)
        );
        let small = Limits {
            max_total: 2,
            max_member: 2,
            max_members: 5,
        };
        assert!(matches!(
            objects(b"{\\rtf1{\\*\\objdata 414243}}", &small),
            Err(Error::Limit(_))
        ));
    }
}
