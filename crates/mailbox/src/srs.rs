//! The Sender Rewriting Scheme (Shevek's SRS, as libsrs2 and postsrsd
//! write it), so that forwarded mail passes SPF at the next hop (R-IN-4)
//! and its bounces find their way back.
//!
//! - `SRS0=HHHHHHHH=TT=orig-domain=orig-local@forwarder`: a sender we
//!   forward for; TT is the day (base32, mod 1024) and the hash is a
//!   keyed HMAC-SHA256 of the rest, so only we can make one.
//! - `SRS1=HHHHHHHH=first-forwarder==HHH=TT=domain=local@forwarder`: an
//!   SRS0 address of another forwarder, forwarded again; its bounce goes
//!   back to that first forwarder.
//!
//! Hashes are base32 (case-insensitive: mail systems may fold local
//! parts) and 8 characters, 40 bits, where libsrs2's 4 base64 characters
//! give 24. Pure: the clock is a parameter.

use ring::hmac;

const B32: data_encoding::Encoding = data_encoding::BASE32_NOPAD;
const HASH_LEN: usize = 8;
/// Days wrap at 1024 (two base32 characters).
const DAYS: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrsError {
    /// Not an SRS address at all.
    NotSrs,
    /// The form is wrong.
    Malformed,
    /// The hash does not match: forged, or made with another key.
    Forged,
    /// Older than the maximum age.
    Expired,
}

impl std::fmt::Display for SrsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SrsError::NotSrs => "not an SRS address",
            SrsError::Malformed => "malformed SRS address",
            SrsError::Forged => "SRS address with a wrong hash (forged)",
            SrsError::Expired => "SRS address past its maximum age",
        })
    }
}

pub struct Srs {
    key: hmac::Key,
    /// Days an address stays valid.
    max_age_days: u64,
}

/// Whether a local part has the SRS form, so that a recipient is checked
/// as one (case-insensitive, as SRS readers do). Only the `=` separator
/// that we write: `srs0-team@` stays an ordinary address.
pub fn is_srs(local: &str) -> bool {
    let l = local.as_bytes();
    l.len() > 5
        && (l[..4].eq_ignore_ascii_case(b"SRS0") || l[..4].eq_ignore_ascii_case(b"SRS1"))
        && l[4] == b'='
}

impl Srs {
    pub fn new(secret: &[u8], max_age: std::time::Duration) -> Srs {
        Srs {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            max_age_days: (max_age.as_secs() / 86_400).clamp(1, DAYS - 1),
        }
    }

    fn hash(&self, parts: &[&str]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                ctx.update(b"=");
            }
            ctx.update(p.to_ascii_lowercase().as_bytes());
        }
        let tag = ctx.sign();
        B32.encode(&tag.as_ref()[..5])[..HASH_LEN].to_string()
    }

    fn hash_ok(&self, given: &str, parts: &[&str]) -> bool {
        let want = self.hash(parts);
        // Constant time, case-insensitive (base32 is upper case).
        let given = given.to_ascii_uppercase();
        want.len() == given.len()
            && want
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The envelope sender for `sender` forwarded through `domain` (one of
    /// ours) at `now` (seconds since the epoch). The null sender stays
    /// null.
    pub fn forward(&self, sender: &str, domain: &str, now: u64) -> String {
        let Some((local, host)) = sender.rsplit_once('@') else {
            return sender.to_string();
        };
        if sender.is_empty() {
            return String::new();
        }
        if is_srs(local) {
            let rest = &local[5..];
            if local[..4].eq_ignore_ascii_case("SRS0") {
                // SRS0 of another forwarder `host`: name it as the first.
                let h = self.hash(&[host, rest]);
                return format!("SRS1={h}={host}=={rest}@{domain}");
            }
            // SRS1=HHH=first==rest@host: keep the first forwarder.
            if let Some((_, after_hash)) = rest.split_once('=') {
                if let Some((first, srs0)) = after_hash.split_once("==") {
                    let h = self.hash(&[first, srs0]);
                    return format!("SRS1={h}={first}=={srs0}@{domain}");
                }
            }
        }
        let tt = timestamp(now);
        let h = self.hash(&[&tt, host, local]);
        format!("SRS0={h}={tt}={host}={local}@{domain}")
    }

    /// Where a bounce to the SRS local part `local` goes: the original
    /// sender (SRS0), or the first forwarder's SRS0 address (SRS1).
    pub fn reverse(&self, local: &str, now: u64) -> Result<String, SrsError> {
        if !is_srs(local) {
            return Err(SrsError::NotSrs);
        }
        let rest = &local[5..];
        let (hash, rest) = rest.split_once('=').ok_or(SrsError::Malformed)?;
        if local[..4].eq_ignore_ascii_case("SRS1") {
            let (first, srs0) = rest.split_once("==").ok_or(SrsError::Malformed)?;
            if first.is_empty() || srs0.is_empty() {
                return Err(SrsError::Malformed);
            }
            if !self.hash_ok(hash, &[first, srs0]) {
                return Err(SrsError::Forged);
            }
            return Ok(format!("SRS0={srs0}@{first}"));
        }
        let mut it = rest.splitn(3, '=');
        let (Some(tt), Some(host), Some(orig)) = (it.next(), it.next(), it.next()) else {
            return Err(SrsError::Malformed);
        };
        if tt.len() != 2 || host.is_empty() || orig.is_empty() {
            return Err(SrsError::Malformed);
        }
        if !self.hash_ok(hash, &[tt, host, orig]) {
            return Err(SrsError::Forged);
        }
        let then = days_of(tt).ok_or(SrsError::Malformed)?;
        let today = (now / 86_400) % DAYS;
        let age = (today + DAYS - then) % DAYS;
        if age > self.max_age_days {
            return Err(SrsError::Expired);
        }
        Ok(format!("{orig}@{host}"))
    }
}

/// Today as two base32 characters (days mod 1024).
fn timestamp(now: u64) -> String {
    let d = (now / 86_400) % DAYS;
    let a = B32_ALPHABET[(d >> 5) as usize] as char;
    let b = B32_ALPHABET[(d & 31) as usize] as char;
    format!("{a}{b}")
}

const B32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn days_of(tt: &str) -> Option<u64> {
    let v = |c: u8| {
        B32_ALPHABET
            .iter()
            .position(|&x| x == c.to_ascii_uppercase())
    };
    let b = tt.as_bytes();
    Some((v(b[0])? as u64) << 5 | v(b[1])? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_796_000_000;

    fn srs() -> Srs {
        Srs::new(b"k", Duration::from_secs(21 * DAY))
    }

    #[test]
    fn srs0_round_trip() {
        let s = srs();
        let a = s.forward("Ann.Lee@origin.example", "fwd.example", NOW);
        let (local, dom) = a.rsplit_once('@').unwrap();
        assert_eq!(dom, "fwd.example");
        assert!(local.starts_with("SRS0="), "{a}");
        assert!(local.ends_with("=origin.example=Ann.Lee"), "{a}");
        assert_eq!(s.reverse(local, NOW).unwrap(), "Ann.Lee@origin.example");
        // Folded to lower case on the way: still good.
        assert_eq!(
            s.reverse(&local.to_ascii_lowercase(), NOW + DAY).unwrap(),
            "ann.lee@origin.example"
        );
    }

    #[test]
    fn forged_and_expired() {
        let s = srs();
        let a = s.forward("a@o.example", "f.example", NOW);
        let local = a.rsplit_once('@').unwrap().0;
        let mut forged = local.to_string().into_bytes();
        forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(s.reverse(&forged, NOW), Err(SrsError::Forged));
        // Another key.
        let other = Srs::new(b"other", Duration::from_secs(21 * DAY));
        assert_eq!(other.reverse(local, NOW), Err(SrsError::Forged));
        // Another original sender under the same hash.
        let swapped = local.replace("=a", "=b");
        assert_eq!(s.reverse(&swapped, NOW), Err(SrsError::Forged));
        assert!(s.reverse(local, NOW + 21 * DAY).is_ok());
        assert_eq!(s.reverse(local, NOW + 22 * DAY), Err(SrsError::Expired));
        for bad in [
            "SRS0=",
            "SRS0=abc",
            "SRS0=HHHHHHHH=T=o=a",
            "SRS1=H=x",
            "SRS0=H===",
        ] {
            assert!(s.reverse(bad, NOW).is_err(), "{bad}");
        }
        assert_eq!(s.reverse("alice", NOW), Err(SrsError::NotSrs));
    }

    #[test]
    fn srs1_of_another_forwarder() {
        let ours = srs();
        let theirs = Srs::new(b"theirs", Duration::from_secs(21 * DAY));
        let first = theirs.forward("a@o.example", "first.example", NOW);
        let again = ours.forward(&first, "f.example", NOW);
        let local = again.rsplit_once('@').unwrap().0;
        assert!(local.starts_with("SRS1="), "{again}");
        let back = ours.reverse(local, NOW).unwrap();
        assert_eq!(back, first);
        // Forwarded a third time: still names the first forwarder.
        let third = ours.forward(&again, "g.example", NOW);
        assert!(third.contains("=first.example=="), "{third}");
        assert_eq!(
            ours.reverse(third.rsplit_once('@').unwrap().0, NOW)
                .unwrap(),
            first
        );
    }

    #[test]
    fn null_sender_stays_null() {
        assert_eq!(srs().forward("", "f.example", NOW), "");
    }

    #[test]
    fn timestamps_wrap() {
        for d in [0, 1, 31, 32, 1023, 1024, 20_000] {
            assert_eq!(days_of(&timestamp(d * DAY)), Some(d % DAYS));
        }
    }
}
