//! Legacy encodings and archives with no sound crate, decoded by the
//! fuzzed, hand-written `mailhost-decode`: unix compress (.Z), ARJ, TNEF
//! (winmail.dat), RTF embedded objects, and UUEncode / BinHex blocks in
//! text.

use mailhost_decode as dec;

use super::{Fail, Member, Opened, Read2, Walker};

fn limits(w: &Walker, packed: usize) -> dec::Limits {
    dec::Limits {
        max_total: w.cap(packed as u64),
        max_member: w.limits.file,
        max_members: w.limits.files,
    }
}

fn fail(what: &str, e: dec::Error) -> Fail {
    match e {
        dec::Error::Limit(l) => Fail::Limit(format!("{what}: over a limit ({l})")),
        e => Fail::Bad(format!("{what} cannot be read: {e}")),
    }
}

fn members(what: &str, ms: Vec<dec::Member>) -> Read2 {
    let mut out = Vec::new();
    let mut encrypted = Vec::new();
    for (i, m) in ms.into_iter().enumerate() {
        let name = if m.name.is_empty() {
            format!("{what} member {}", i + 1)
        } else {
            String::from_utf8_lossy(&m.name).into_owned()
        };
        if m.encrypted {
            encrypted.push(name);
        } else {
            out.push(Member { name, data: m.data });
        }
    }
    Ok(if encrypted.is_empty() {
        Opened::Members(out)
    } else {
        Opened::Partly(out, encrypted)
    })
}

pub(crate) fn compress(w: &mut Walker, data: &[u8]) -> Read2 {
    let out = dec::compress::decode(data, &limits(w, data.len())).map_err(|e| fail(".Z", e))?;
    Ok(Opened::Members(vec![Member {
        name: "compress data".into(),
        data: out,
    }]))
}

pub(crate) fn arj(w: &mut Walker, data: &[u8]) -> Read2 {
    if !dec::arj::looks_like(data) {
        return Ok(Opened::No);
    }
    let ms = dec::arj::decode(data, &limits(w, data.len())).map_err(|e| fail("ARJ", e))?;
    members("ARJ", ms)
}

pub(crate) fn tnef(w: &mut Walker, data: &[u8]) -> Read2 {
    let ms = dec::tnef::decode(data, &limits(w, data.len())).map_err(|e| fail("TNEF", e))?;
    members("TNEF", ms)
}

pub(crate) fn rtf(w: &mut Walker, data: &[u8]) -> Read2 {
    let ms = dec::rtf::objects(data, &limits(w, data.len())).map_err(|e| fail("RTF", e))?;
    members("RTF object", ms)
}

/// Whether text carries a UUEncode or BinHex block worth decoding.
pub(crate) fn has_text_encoding(d: &[u8]) -> bool {
    dec::uu::looks_like(d) || dec::binhex::looks_like(d)
}

pub(crate) fn text(w: &mut Walker, data: &[u8]) -> Read2 {
    let mut all = Vec::new();
    if dec::uu::looks_like(data) {
        all.extend(dec::uu::decode(data, &limits(w, data.len())).map_err(|e| fail("UUEncode", e))?);
    }
    if dec::binhex::looks_like(data) {
        all.extend(
            dec::binhex::decode(data, &limits(w, data.len())).map_err(|e| fail("BinHex", e))?,
        );
    }
    members("encoded", all)
}
