//! Keyed tokens for list links and addresses: confirmation (R-LIST-1),
//! unsubscription (R-LIST-3), VERP bounces and moderation.
//!
//! Two forms: the self-contained one below (version 1, still accepted:
//! mail sent before carries it), and the compact one (version 2, issued
//! now; see "compact tokens") that fits a mail address's local part.
//!
//! A token carries its own claims — purpose, list, member (or post id),
//! nonce and expiry — followed by a truncated HMAC-SHA256, so checking one
//! needs no store lookup; the store only remembers [`hash`]es of tokens
//! already used, for single use and for the consent ledger.
//!
//! The text is unpadded base32 in lower case (`a-z2-7`): it goes into URLs
//! and into VERP local parts such as `list+bounce-TOKEN@domain`, where
//! relays may fold case, so decoding ignores case.
//!
//! Wire layout (before base32):
//! `version(1) purpose(1) nonce(8, BE) expires(8, BE) len(2, BE) list
//! len(2, BE) member mac(16)`. Every field is fixed-size or
//! length-prefixed, so no two claim sets share an encoding, and the MAC
//! covers all of it behind a domain-separation label.
//!
//! Length: 38 bytes of overhead plus the two strings, times 8/5 in base32:
//! about 160 characters for two 30-byte addresses. That is longer than the
//! 64 octets RFC 5321 §4.5.3.1.1 allows a local part; common MTAs (Postfix,
//! Exim, the big providers) accept longer local parts in bounces to VERP
//! addresses, but a strict one may not.

use data_encoding::{BASE32_NOPAD, BASE32_NOPAD_NOCASE, HEXLOWER};
use ring::{digest, hmac};
use std::fmt;

/// What a token may be used for; a token of one purpose never passes as
/// another (an unsubscribe link must not confirm a subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Confirming a subscription (confirmed opt-in, R-LIST-1).
    Confirm,
    /// One-click or mailto unsubscription (RFC 8058, R-LIST-3).
    Unsubscribe,
    /// The VERP return path of one delivery (bounce processing).
    Bounce,
    /// A moderator's approve / reject link for a held post.
    Moderate,
}

impl Purpose {
    /// The stable one-letter tag written into tokens. Never change these:
    /// tokens already sent out would stop verifying.
    pub fn tag(self) -> u8 {
        match self {
            Purpose::Confirm => b'c',
            Purpose::Unsubscribe => b'u',
            Purpose::Bounce => b'b',
            Purpose::Moderate => b'm',
        }
    }

    /// The purpose for a tag, if it is one.
    pub fn from_tag(tag: u8) -> Option<Purpose> {
        match tag {
            b'c' => Some(Purpose::Confirm),
            b'u' => Some(Purpose::Unsubscribe),
            b'b' => Some(Purpose::Bounce),
            b'm' => Some(Purpose::Moderate),
            _ => None,
        }
    }
}

/// What a token says. Nothing here is trusted before [`verify`] checked
/// the MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub purpose: Purpose,
    /// The list address, in lower case.
    pub list: String,
    /// The member's address or, for [`Purpose::Moderate`], a post id as text.
    pub member: String,
    /// Distinguishes tokens with otherwise equal claims (single use).
    pub nonce: u64,
    /// Unix seconds after which the token is refused; 0 means never.
    pub expires: i64,
}

/// Why a token was refused. The texts can be shown to the person who
/// followed the link or sent the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token at all: bad characters, wrong length, unknown version.
    Malformed,
    /// Well-formed but the MAC does not match (altered, or another key).
    Forged,
    /// Genuine but past its expiry.
    Expired,
    /// Genuine but issued for another purpose.
    WrongPurpose,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "the link is incomplete or damaged",
            TokenError::Forged => "the link is not valid",
            TokenError::Expired => "the link has expired",
            TokenError::WrongPurpose => "the link is not meant for this action",
        })
    }
}

impl std::error::Error for TokenError {}

/// Longest token text accepted; anything longer is refused before decoding
/// so hostile input costs nothing. 1024 base32 characters hold 640 bytes,
/// room for two addresses of the RFC 5321 maximum (254 octets each).
pub const MAX_TOKEN_LEN: usize = 1024;

const VERSION: u8 = 1;
/// 128 bits: enough against forgery for links that also expire.
const MAC_LEN: usize = 16;
/// version + purpose + nonce + expires + two length prefixes.
const FIXED_LEN: usize = 1 + 1 + 8 + 8 + 2 + 2;
/// Domain separation: the same secret may key other MACs in the server.
const LABEL: &[u8] = b"mailhost-lists token v1\0";

fn mac(secret: &[u8], payload: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(LABEL);
    ctx.update(payload);
    ctx.sign()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // A string longer than u16::MAX is cut so that the prefix stays
    // truthful; such a token exceeds MAX_TOKEN_LEN and verify refuses it.
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// Issues a token for `c`. The list address is lower-cased. Tokens for
/// strings over about 600 bytes together are longer than [`MAX_TOKEN_LEN`]
/// and will not verify; real addresses never come close.
pub fn issue(secret: &[u8], c: &Claims) -> String {
    let list = c.list.to_ascii_lowercase();
    let mut out = Vec::with_capacity(FIXED_LEN + list.len() + c.member.len() + MAC_LEN);
    out.push(VERSION);
    out.push(c.purpose.tag());
    out.extend_from_slice(&c.nonce.to_be_bytes());
    out.extend_from_slice(&c.expires.to_be_bytes());
    put_str(&mut out, &list);
    put_str(&mut out, &c.member);
    let tag = mac(secret, &out);
    out.extend_from_slice(&tag.as_ref()[..MAC_LEN]);
    BASE32_NOPAD.encode(&out).to_ascii_lowercase()
}

/// Checks `token` and returns its claims. Order matters: the MAC first (in
/// constant time), so nothing about an unauthenticated token is revealed;
/// then the purpose; then the expiry (`now` in unix seconds).
pub fn verify(
    secret: &[u8],
    expected: Purpose,
    token: &str,
    now: i64,
) -> Result<Claims, TokenError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    // Case-insensitive: local parts may be case-folded on the way back.
    let raw = BASE32_NOPAD_NOCASE
        .decode(token.as_bytes())
        .map_err(|_| TokenError::Malformed)?;
    if raw.len() < FIXED_LEN + MAC_LEN {
        return Err(TokenError::Malformed);
    }
    let (payload, given) = raw.split_at(raw.len() - MAC_LEN);
    // ring::hmac::verify compares whole tags only; for the truncated tag,
    // compare HMACs of the two truncations instead (the "double HMAC"
    // pattern), which keeps ring's constant-time comparison and leaks
    // nothing useful even if timing did differ.
    let want = mac(secret, payload);
    let cmp_key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let want_cmp = hmac::sign(&cmp_key, &want.as_ref()[..MAC_LEN]);
    hmac::verify(&cmp_key, given, want_cmp.as_ref()).map_err(|_| TokenError::Forged)?;
    // Only our own output gets here; a parse failure means a version we
    // no longer understand.
    let claims = decode_payload(payload).ok_or(TokenError::Malformed)?;
    if claims.purpose != expected {
        return Err(TokenError::WrongPurpose);
    }
    if claims.expires != 0 && now >= claims.expires {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn decode_payload(p: &[u8]) -> Option<Claims> {
    let (&version, p) = p.split_first()?;
    if version != VERSION {
        return None;
    }
    let (&tag, p) = p.split_first()?;
    let purpose = Purpose::from_tag(tag)?;
    let (nonce, p) = p.split_first_chunk::<8>()?;
    let (expires, p) = p.split_first_chunk::<8>()?;
    let (list, p) = take_str(p)?;
    let (member, p) = take_str(p)?;
    if !p.is_empty() {
        return None;
    }
    Some(Claims {
        purpose,
        list,
        member,
        nonce: u64::from_be_bytes(*nonce),
        expires: i64::from_be_bytes(*expires),
    })
}

fn take_str(p: &[u8]) -> Option<(String, &[u8])> {
    let (len, p) = p.split_first_chunk::<2>()?;
    let len = u16::from_be_bytes(*len) as usize;
    if p.len() < len {
        return None;
    }
    let (s, rest) = p.split_at(len);
    Some((String::from_utf8(s.to_vec()).ok()?, rest))
}

// ---- compact tokens (version 2) ----
//
// A token in a mail address must keep the local part within the 64 octets
// of RFC 5321 §4.5.3.1.1: `news+unsubscribe-TOKEN` leaves about 45
// characters for it. A compact token carries no addresses, only a key the
// store finds them by (a member's key, or a post id), so it needs one
// lookup to check; the MAC still covers every claim — purpose, list,
// member, nonce, expiry — as the issue asks.
//
// Wire layout (before base32): `version(1)=2 purpose(1) key(6) nonce(4, BE)
// expires(4, BE, unix seconds, 0 = never) mac(10)`: 26 bytes, 42 characters.

const COMPACT_VERSION: u8 = 2;
/// 80 bits: online guessing against a per-address rate-limited service.
const COMPACT_MAC_LEN: usize = 10;
/// Bytes of the key (a member's key, or a post id).
pub const KEY_LEN: usize = 6;
const COMPACT_LEN: usize = 1 + 1 + KEY_LEN + 4 + 4 + COMPACT_MAC_LEN;
const COMPACT_LABEL: &[u8] = b"mailhost-lists token v2\0";

/// A compact token, parsed but not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact {
    pub purpose: Purpose,
    pub key: [u8; KEY_LEN],
    pub nonce: u32,
    pub expires: u32,
    mac: [u8; COMPACT_MAC_LEN],
}

impl Compact {
    /// The key as the store keeps it (lower-case hex).
    pub fn key_hex(&self) -> String {
        HEXLOWER.encode(&self.key)
    }

    /// The key read as a post id (moderation tokens).
    pub fn post_id(&self) -> i64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.key);
        i64::from_be_bytes(b)
    }
}

/// A post id as a key (ids stay far below 2^48).
pub fn post_key(id: i64) -> [u8; KEY_LEN] {
    let b = id.to_be_bytes();
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(&b[2..]);
    k
}

/// A member's key from the store's hex form; None if it is not one.
pub fn key_from_hex(hex: &str) -> Option<[u8; KEY_LEN]> {
    HEXLOWER.decode(hex.as_bytes()).ok()?.try_into().ok()
}

/// The MAC of a compact token: over all the claims, not only what the
/// token carries.
fn compact_mac(secret: &[u8], c: &Claims, key: &[u8; KEY_LEN]) -> hmac::Tag {
    let key_mac = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key_mac);
    ctx.update(COMPACT_LABEL);
    let mut p = vec![COMPACT_VERSION, c.purpose.tag()];
    p.extend_from_slice(key);
    p.extend_from_slice(&(c.nonce as u32).to_be_bytes());
    p.extend_from_slice(&(c.expires.clamp(0, u32::MAX as i64) as u32).to_be_bytes());
    put_str(&mut p, &c.list.to_ascii_lowercase());
    put_str(&mut p, &c.member);
    ctx.update(&p);
    ctx.sign()
}

/// Issues a compact token for `c`, naming the member (or post) by `key`.
/// The nonce keeps its low 32 bits; an expiry past 2106 is cut there.
pub fn issue_compact(secret: &[u8], c: &Claims, key: [u8; KEY_LEN]) -> String {
    let mut out = Vec::with_capacity(COMPACT_LEN);
    out.push(COMPACT_VERSION);
    out.push(c.purpose.tag());
    out.extend_from_slice(&key);
    out.extend_from_slice(&(c.nonce as u32).to_be_bytes());
    out.extend_from_slice(&(c.expires.clamp(0, u32::MAX as i64) as u32).to_be_bytes());
    out.extend_from_slice(&compact_mac(secret, c, &key).as_ref()[..COMPACT_MAC_LEN]);
    BASE32_NOPAD.encode(&out).to_ascii_lowercase()
}

/// The compact token in `token`, if it is one (its MAC unchecked).
pub fn parse_compact(token: &str) -> Option<Compact> {
    let token = token.trim();
    if token.len() > 2 * COMPACT_LEN {
        return None;
    }
    let raw = BASE32_NOPAD_NOCASE.decode(token.as_bytes()).ok()?;
    if raw.len() != COMPACT_LEN || raw[0] != COMPACT_VERSION {
        return None;
    }
    let purpose = Purpose::from_tag(raw[1])?;
    let key: [u8; KEY_LEN] = raw[2..2 + KEY_LEN].try_into().ok()?;
    let rest = &raw[2 + KEY_LEN..];
    Some(Compact {
        purpose,
        key,
        nonce: u32::from_be_bytes(rest[..4].try_into().ok()?),
        expires: u32::from_be_bytes(rest[4..8].try_into().ok()?),
        mac: rest[8..].try_into().ok()?,
    })
}

/// Checks a compact token against the list and member its key was found
/// to name: the MAC (constant time), then the purpose, then the expiry.
pub fn verify_compact(
    secret: &[u8],
    expected: Purpose,
    t: &Compact,
    list: &str,
    member: &str,
    now: i64,
) -> Result<Claims, TokenError> {
    let claims = Claims {
        purpose: t.purpose,
        list: list.to_ascii_lowercase(),
        member: member.to_string(),
        nonce: u64::from(t.nonce),
        expires: i64::from(t.expires),
    };
    let want = compact_mac(secret, &claims, &t.key);
    let cmp_key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let want_cmp = hmac::sign(&cmp_key, &want.as_ref()[..COMPACT_MAC_LEN]);
    hmac::verify(&cmp_key, &t.mac, want_cmp.as_ref()).map_err(|_| TokenError::Forged)?;
    if claims.purpose != expected {
        return Err(TokenError::WrongPurpose);
    }
    if claims.expires != 0 && now >= claims.expires {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Lower-case hex SHA-256 of the token, for the consent ledger and the
/// used-token set. The token is first put in its canonical form (trimmed,
/// lower case), so an upper-cased copy of a used token hashes the same and
/// cannot be replayed.
pub fn hash(token: &str) -> String {
    let canonical = token.trim().to_ascii_lowercase();
    HEXLOWER.encode(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(purpose: Purpose) -> Claims {
        Claims {
            purpose,
            list: "News@Example.com".into(),
            member: "Bob@example.org".into(),
            nonce: 42,
            expires: 2_000_000_000,
        }
    }

    #[test]
    fn compact_tokens_fit_a_local_part_and_check_every_claim() {
        let key = [1, 2, 3, 4, 5, 6];
        let c = claims(Purpose::Unsubscribe);
        let t = issue_compact(KEY, &c, key);
        assert_eq!(t.len(), 42);
        // news+unsubscribe-TOKEN: within RFC 5321's 64 octets.
        assert!(format!("news+unsubscribe-{t}").len() <= 64);
        let p = parse_compact(&t.to_ascii_uppercase()).unwrap();
        assert_eq!(
            (p.purpose, p.key, p.key_hex().as_str()),
            (Purpose::Unsubscribe, key, "010203040506")
        );
        let genuine = |p: &Compact| {
            verify_compact(
                KEY,
                Purpose::Unsubscribe,
                p,
                "news@example.com",
                "Bob@example.org",
                1_000,
            )
        };
        let ok = genuine(&p).unwrap();
        assert_eq!(
            (ok.list.as_str(), ok.nonce, ok.expires),
            ("news@example.com", 42, 2_000_000_000)
        );
        // Another member or list behind the same key, another secret,
        // another purpose, too late.
        let (news, bob, unsub) = ("news@example.com", "Bob@example.org", Purpose::Unsubscribe);
        type Case<'a> = (&'a str, &'a str, &'a [u8], Purpose, i64, TokenError);
        let refused: [Case; 5] = [
            (
                news,
                "eve@example.org",
                KEY,
                unsub,
                1_000,
                TokenError::Forged,
            ),
            (
                "other@example.com",
                bob,
                KEY,
                unsub,
                1_000,
                TokenError::Forged,
            ),
            (news, bob, b"another key", unsub, 1_000, TokenError::Forged),
            (
                news,
                bob,
                KEY,
                Purpose::Confirm,
                1_000,
                TokenError::WrongPurpose,
            ),
            (news, bob, KEY, unsub, 2_000_000_000, TokenError::Expired),
        ];
        for (list, member, secret, purpose, now, want) in refused {
            let got = verify_compact(secret, purpose, &p, list, member, now).map(|_| ());
            assert_eq!(got, Err(want), "{list} {member} {purpose:?} {now}");
        }
        // Any changed character: refused.
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let bad = String::from_utf8(b).unwrap();
            let r = parse_compact(&bad).map(|p| genuine(&p));
            assert!(!matches!(r, Some(Ok(_))), "{bad}");
        }
        // Version 1 tokens and garbage are not compact ones.
        assert!(parse_compact(&issue(KEY, &c)).is_none());
        assert!(parse_compact("").is_none() && parse_compact("!!!").is_none());
        assert_eq!(post_key(123_456), [0, 0, 0, 1, 0xe2, 0x40]);
        let m = parse_compact(&issue_compact(
            KEY,
            &claims(Purpose::Moderate),
            post_key(123_456),
        ))
        .unwrap();
        assert_eq!(m.post_id(), 123_456);
        assert_eq!(key_from_hex("010203040506"), Some(key));
        assert_eq!(key_from_hex("0102"), None);
    }

    #[test]
    fn roundtrip_lowercases_list_only() {
        let t = issue(KEY, &claims(Purpose::Confirm));
        let c = verify(KEY, Purpose::Confirm, &t, 1_000).unwrap();
        assert_eq!(c.list, "news@example.com");
        assert_eq!(c.member, "Bob@example.org");
        assert_eq!(
            (c.nonce, c.expires, c.purpose),
            (42, 2_000_000_000, Purpose::Confirm)
        );
    }

    #[test]
    fn token_text_is_local_part_and_url_safe() {
        for p in [
            Purpose::Confirm,
            Purpose::Unsubscribe,
            Purpose::Bounce,
            Purpose::Moderate,
        ] {
            let t = issue(KEY, &claims(p));
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
                "{t}"
            );
            assert!(verify(KEY, p, &t, 0).is_ok());
        }
    }

    #[test]
    fn moderate_carries_post_id() {
        let mut c = claims(Purpose::Moderate);
        c.member = "118".into();
        let t = issue(KEY, &c);
        assert_eq!(verify(KEY, Purpose::Moderate, &t, 0).unwrap().member, "118");
    }

    #[test]
    fn never_expiring() {
        let mut c = claims(Purpose::Unsubscribe);
        c.expires = 0;
        let t = issue(KEY, &c);
        assert!(verify(KEY, Purpose::Unsubscribe, &t, i64::MAX).is_ok());
    }

    #[test]
    fn expired() {
        let t = issue(KEY, &claims(Purpose::Confirm));
        assert_eq!(
            verify(KEY, Purpose::Confirm, &t, 2_000_000_000),
            Err(TokenError::Expired)
        );
        assert!(verify(KEY, Purpose::Confirm, &t, 1_999_999_999).is_ok());
        assert_eq!(TokenError::Expired.to_string(), "the link has expired");
    }

    #[test]
    fn forged_by_flipping_each_char() {
        let t = issue(KEY, &claims(Purpose::Confirm));
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let s = String::from_utf8(b).unwrap();
            let r = verify(KEY, Purpose::Confirm, &s, 0);
            // The last character also holds trailing bits, so a flip there
            // may make the text non-canonical base32: Malformed then.
            assert!(
                matches!(r, Err(TokenError::Forged | TokenError::Malformed)),
                "{i}: {r:?}"
            );
        }
    }

    #[test]
    fn other_secret_is_forged() {
        let t = issue(KEY, &claims(Purpose::Confirm));
        assert_eq!(
            verify(b"another secret", Purpose::Confirm, &t, 0),
            Err(TokenError::Forged)
        );
    }

    #[test]
    fn altered_claims_are_forged() {
        // Re-encode a payload with the member changed but the old MAC.
        let t = issue(KEY, &claims(Purpose::Confirm));
        let mut raw = BASE32_NOPAD_NOCASE.decode(t.as_bytes()).unwrap();
        let pos = raw.windows(3).position(|w| w == b"Bob").unwrap();
        raw[pos] = b'R';
        let t2 = BASE32_NOPAD.encode(&raw).to_ascii_lowercase();
        assert_eq!(
            verify(KEY, Purpose::Confirm, &t2, 0),
            Err(TokenError::Forged)
        );
    }

    #[test]
    fn cross_purpose_is_refused() {
        let unsub = issue(KEY, &claims(Purpose::Unsubscribe));
        assert_eq!(
            verify(KEY, Purpose::Confirm, &unsub, 0),
            Err(TokenError::WrongPurpose)
        );
        let bounce = issue(KEY, &claims(Purpose::Bounce));
        assert_eq!(
            verify(KEY, Purpose::Confirm, &bounce, 0),
            Err(TokenError::WrongPurpose)
        );
        assert_eq!(
            verify(KEY, Purpose::Unsubscribe, &bounce, 0),
            Err(TokenError::WrongPurpose)
        );
        assert!(verify(KEY, Purpose::Bounce, &bounce, 0).is_ok());
        // Purpose is checked before expiry.
        assert_eq!(
            verify(KEY, Purpose::Moderate, &unsub, i64::MAX),
            Err(TokenError::WrongPurpose)
        );
    }

    #[test]
    fn garbage_empty_and_huge() {
        for bad in [
            "",
            "   ",
            "!!!!",
            "a",
            "abcdefgh",
            "0189",
            "ééé",
            "aaaa-bbbb",
        ] {
            assert_eq!(
                verify(KEY, Purpose::Confirm, bad, 0),
                Err(TokenError::Malformed),
                "{bad:?}"
            );
        }
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            verify(KEY, Purpose::Confirm, &huge, 0),
            Err(TokenError::Malformed)
        );
        // Long enough to decode, but random: MAC fails.
        let junk = "a".repeat(96);
        assert_eq!(
            verify(KEY, Purpose::Confirm, &junk, 0),
            Err(TokenError::Forged)
        );
        // Truncated token.
        let t = issue(KEY, &claims(Purpose::Confirm));
        assert!(verify(KEY, Purpose::Confirm, &t[..t.len() - 8], 0).is_err());
    }

    #[test]
    fn uppercase_folded_token_verifies_and_hashes_alike() {
        let t = issue(KEY, &claims(Purpose::Bounce));
        let up = t.to_ascii_uppercase();
        assert!(verify(KEY, Purpose::Bounce, &up, 0).is_ok());
        assert_eq!(hash(&t), hash(&up));
        assert_ne!(hash(&t), hash(&issue(KEY, &claims(Purpose::Confirm))));
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn longest_addresses_fit() {
        let mut c = claims(Purpose::Unsubscribe);
        c.list = format!("{}@{}", "l".repeat(64), "d".repeat(189));
        c.member = format!("{}@{}", "m".repeat(64), "e".repeat(189));
        let t = issue(KEY, &c);
        assert!(t.len() <= MAX_TOKEN_LEN);
        assert_eq!(
            verify(KEY, Purpose::Unsubscribe, &t, 0).unwrap().member,
            c.member
        );
    }

    #[test]
    fn nonce_and_fields_are_unambiguous() {
        let a = Claims {
            list: "ab".into(),
            member: "c".into(),
            ..claims(Purpose::Confirm)
        };
        let b = Claims {
            list: "a".into(),
            member: "bc".into(),
            ..claims(Purpose::Confirm)
        };
        assert_ne!(issue(KEY, &a), issue(KEY, &b));
        let n = Claims {
            nonce: 43,
            ..claims(Purpose::Confirm)
        };
        assert_ne!(issue(KEY, &n), issue(KEY, &claims(Purpose::Confirm)));
    }
}
