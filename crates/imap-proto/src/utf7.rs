//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3, kept by RFC 9051
//! §5.1.3 for clients that have not enabled UTF8=ACCEPT).
//!
//! Printable US-ASCII (0x20–0x7e) stands for itself, except `&`, which is
//! written `&-`; everything else is UTF-16BE in a modified base64 (`,`
//! instead of `/`, no `=` padding) between `&` and `-`.
//!
//! [`decode`] accepts only the canonical form, the one [`encode`] writes,
//! so that one name has one spelling: no printable ASCII encoded (the RFC
//! forbids it), no non-zero padding bits, no padding beyond the last
//! 16-bit unit, no two encoded runs back to back (a canonical encoder
//! writes one run), no unpaired surrogate.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    } as u32)
}

fn printable(c: u32) -> bool {
    (0x20..0x7f).contains(&c)
}

/// A name as the client wrote it in modified UTF-7, or `None` when it is
/// not valid (or not canonical) modified UTF-7.
pub fn decode(name: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    // Whether the last thing read was an encoded run (then another run
    // must not follow at once).
    let mut after_run = false;
    while let Some(&c) = name.get(i) {
        i += 1;
        if c != b'&' {
            if !printable(u32::from(c)) {
                return None;
            }
            out.push(c as char);
            after_run = false;
            continue;
        }
        let len = name.get(i..)?.iter().position(|&b| b == b'-')?;
        let run = &name[i..i + len];
        i += len + 1;
        if run.is_empty() {
            out.push('&');
            after_run = false;
            continue;
        }
        if after_run {
            return None;
        }
        after_run = true;
        decode_run(run, &mut out)?;
    }
    Some(out)
}

/// One base64 run (between `&` and `-`) into `out`.
fn decode_run(run: &[u8], out: &mut String) -> Option<()> {
    let mut units = Vec::with_capacity(run.len() * 6 / 16);
    let (mut bits, mut nbits) = (0u32, 0u32);
    for &c in run {
        bits = ((bits << 6) | value(c)?) & 0xff_ffff;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            units.push((bits >> nbits) as u16);
        }
    }
    // Canonical: fewer than 6 bits left over (else a whole base64 digit
    // was padding), and those zero.
    if nbits >= 6 || bits & ((1 << nbits) - 1) != 0 {
        return None;
    }
    for ch in char::decode_utf16(units) {
        let ch = ch.ok()?;
        // RFC 3501 §5.1.3: printable US-ASCII MUST NOT be encoded.
        if printable(u32::from(ch)) {
            return None;
        }
        out.push(ch);
    }
    Some(())
}

/// A name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if printable(u32::from(ch)) {
            flush(&mut run, &mut out);
            out.push(ch);
            if ch == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Writes the pending UTF-16 units as `&…-`.
fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let (mut bits, mut nbits) = (0u32, 0u32);
    for u in run.drain(..) {
        bits = ((bits << 16) | u32::from(u)) & 0xff_ffff;
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out.push('-');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 §5.1.3.
        let pairs = [
            ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
            ("&-", "&"),
            ("a&-b&-", "a&b&"),
            ("INBOX", "INBOX"),
            ("", ""),
            ("Entw&APw-rfe", "Entwürfe"),
            ("&2D3eAA-", "😀"),
            ("&AAk-", "\t"),
        ];
        for (enc, dec) in pairs {
            assert_eq!(decode(enc.as_bytes()).as_deref(), Some(dec), "{enc}");
            assert_eq!(encode(dec), enc, "{dec}");
        }
    }

    #[test]
    fn invalid() {
        for s in [
            &b"&Jjo!"[..],         // not closed
            b"&U,BTFw",            // not closed
            b"&",                  // not closed
            b"&AGE-",              // encoded printable ASCII ("a")
            b"&U,BTFw-&ZeVnLIqe-", // two runs back to back
            b"&U,B-",              // a leftover 6-bit digit
            b"&U,BTFx-",           // non-zero padding bits
            b"&A-",                // 6 bits: no whole unit
            b"&2D0-",              // a lone high surrogate
            b"&3gA-",              // a lone low surrogate
            b"&U=BTFw-",           // "=" is not in the alphabet
            b"&U/BTFw-",           // "/" is plain base64, not modified
            b"\xe5\x8f\xb0",       // raw UTF-8
            b"a\tb",               // raw control character
            b"a\x7f",
        ] {
            assert_eq!(decode(s), None, "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn round_trips() {
        // A cheap pseudo-random walk over mixed scripts.
        let pool: Vec<char> = "aZ09 &-~/.,+日本語台北Ωé😀\u{1}\u{7f}\u{ffff}\u{10000}\u{10ffff}"
            .chars()
            .collect();
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..(x % 12) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                s.push(pool[(x >> 16) as usize % pool.len()]);
            }
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let e = encode(&s);
            assert!(e.bytes().all(|b| (0x20..0x7f).contains(&b)), "{e}");
            assert_eq!(decode(e.as_bytes()).as_deref(), Some(&*s), "{e}");
        }
    }
}
