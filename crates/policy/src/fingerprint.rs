//! Content fingerprints for bulk-mail detection (R-OUT-8).
//!
//! A campaign sends "the same" message to many people with small changes
//! per recipient: a greeting, a name, an amount, an order number, a
//! tracking link. Two such messages share most of their wording, so we
//! compare wording, not bytes:
//!
//! 1. the subject and the text parts are reduced to word tokens, with the
//!    per-recipient parts folded away: numbers and anything with a digit
//!    become `#`, addresses `@`, links their host, long random-looking
//!    tokens `~`; the salutation line, quoted replies and the signature
//!    block (RFC 3676 §4.3 "-- ") are dropped;
//! 2. the message is the set of its 3-word shingles (w-shingling);
//! 3. a MinHash signature of K values estimates the Jaccard similarity of
//!    two shingle sets (Broder 1997): the share of equal positions;
//! 4. locality-sensitive hashing over the signature finds the similar
//!    messages of one customer without comparing against every message
//!    sent: see [`crate::bulk_index`].
//!
//! Everything here is pure and deterministic across nodes and versions:
//! signatures are stored and compared by every node sharing a database,
//! so the hash functions are written out, not taken from `std`.

use mail_parser::MessageParser;

/// MinHash values per signature.
pub const K: usize = 32;
/// Text read per message: enough to characterise it, bounded in cost.
const MAX_TEXT: usize = 64 * 1024;
/// Words per shingle.
const SHINGLE: usize = 3;
/// A token longer than this made of letters and digits is a token in the
/// other sense: a tracking id, a hash, a coupon code.
const LONG_TOKEN: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub mins: [u32; K],
}

impl Fingerprint {
    /// The fingerprint of a message (RFC 5322, any MIME structure).
    pub fn of_message(raw: &[u8]) -> Fingerprint {
        match plain_text(raw) {
            Some((subject, body)) => Fingerprint::of_text(&subject, truncate(body, MAX_TEXT)),
            None => Fingerprint::of_parsed(raw),
        }
    }

    /// [`Fingerprint::of_message`] through the MIME parser, whatever the
    /// message's structure.
    pub fn of_parsed(raw: &[u8]) -> Fingerprint {
        let parsed = MessageParser::default().parse(raw);
        let Some(m) = parsed else {
            return Fingerprint::of_text(
                "",
                &String::from_utf8_lossy(&raw[..raw.len().min(MAX_TEXT)]),
            );
        };
        let subject = m.subject().unwrap_or("");
        let mut text = String::new();
        // Text parts, or the HTML ones converted to text when a part has
        // no plain alternative (mail-parser does the conversion).
        for i in 0..m.text_body_count() {
            if text.len() >= MAX_TEXT {
                break;
            }
            if let Some(t) = m.body_text(i) {
                text.push_str(&t);
                text.push('\n');
            }
        }
        Fingerprint::of_text(subject, truncate(&text, MAX_TEXT))
    }

    /// The fingerprint of a subject and a plain-text body.
    pub fn of_text(subject: &str, body: &str) -> Fingerprint {
        let mut tokens = Vec::new();
        tokenize(subject, &mut tokens);
        tokens.push(0); // subject and body do not run together
        for line in body_lines(body) {
            tokenize(line, &mut tokens);
        }
        let mut shingles = Vec::with_capacity(tokens.len());
        if tokens.len() < SHINGLE {
            shingles.push(hash_words(&tokens));
        } else {
            shingles.extend(tokens.windows(SHINGLE).map(hash_words));
        }
        let mut mins = [u32::MAX; K];
        minhash(&shingles, &mut mins);
        Fingerprint { mins }
    }

    /// The estimated Jaccard similarity of the two shingle sets, 0..=1.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let same = self
            .mins
            .iter()
            .zip(other.mins.iter())
            .filter(|(a, b)| a == b)
            .count();
        same as f64 / K as f64
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.mins.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    pub fn from_bytes(b: &[u8]) -> Option<Fingerprint> {
        if b.len() != K * 4 {
            return None;
        }
        let mut mins = [0u32; K];
        for (i, c) in b.chunks_exact(4).enumerate() {
            mins[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        Some(Fingerprint { mins })
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The subject and body of a message that is a single plain-text part in
/// UTF-8 (or ASCII) with no transfer encoding and an unencoded subject:
/// most mail a person writes, and what a MIME parser would make of it,
/// read in one pass over the header (RFC 5322 §2.2, RFC 2045 §5.2: no
/// Content-Type means text/plain; charset=us-ascii). Anything else — an
/// encoded word, another type or encoding, a header that is not plain
/// ASCII — is None, and the parser reads the message.
fn plain_text(raw: &[u8]) -> Option<(String, &str)> {
    let mut subject: Option<String> = None;
    let mut in_subject = false;
    let mut seen_header = false;
    let mut pos = 0;
    loop {
        let nl = raw[pos..].iter().position(|b| *b == b'\n')? + pos;
        let line = &raw[pos..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = nl + 1;
        if line.is_empty() {
            break;
        }
        if !line.is_ascii() {
            return None;
        }
        let line = std::str::from_utf8(line).ok()?;
        if line.starts_with([' ', '\t']) {
            if !seen_header {
                return None; // a folded first line continues no header
            }
            // Folded (RFC 5322 §2.2.3): unfolding keeps the whitespace,
            // which is all the tokenizer needs to see.
            if in_subject {
                let s = subject.as_mut()?;
                s.push(' ');
                s.push_str(line);
            }
            continue;
        }
        let (name, value) = line.split_once(':')?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return None;
        }
        in_subject = false;
        seen_header = true;
        if name.eq_ignore_ascii_case("subject") {
            if subject.is_some() {
                return None;
            }
            subject = Some(value.to_string());
            in_subject = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            let mut params = value.split(';').map(|p| p.trim().to_ascii_lowercase());
            if params.next()? != "text/plain" {
                return None;
            }
            for p in params {
                let (k, v) = p.split_once('=').unwrap_or((&p, ""));
                let v = v.trim_matches('"');
                match k.trim_end() {
                    "charset" if matches!(v, "utf-8" | "us-ascii") => {}
                    "format" | "delsp" => {}
                    "" => {}
                    _ => return None,
                }
            }
        } else if name.eq_ignore_ascii_case("content-transfer-encoding")
            && !matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "7bit" | "8bit" | "binary"
            )
        {
            return None;
        }
    }
    let subject = subject.unwrap_or_default();
    if subject.contains("=?") {
        return None;
    }
    let body = std::str::from_utf8(&raw[pos..]).ok()?;
    Some((subject.trim().to_string(), body))
}

/// A recipient as a 64-bit key: the bulk window stores no addresses.
pub fn recipient_key(addr: &str) -> i64 {
    mix(fnv(addr.to_lowercase().as_bytes())) as i64
}

/// A customer (its contact address) as a 64-bit key.
pub fn customer_key(customer: &str) -> u64 {
    recipient_key(customer) as u64
}

/// The body lines that carry the message's own content.
fn body_lines(body: &str) -> impl Iterator<Item = &str> {
    let mut first_text = true;
    body.lines()
        // RFC 3676 §4.3: the signature block follows "-- ".
        .take_while(|l| l.trim_end_matches('\r') != "-- ")
        .filter(move |l| {
            let t = l.trim();
            if t.is_empty() {
                return false;
            }
            // Quoted text of a reply is the other person's words.
            if t.starts_with('>') {
                return false;
            }
            if std::mem::take(&mut first_text) && is_salutation(t) {
                return false;
            }
            true
        })
}

/// "Dear Ms Smith," "Hi Bob!" "Hello Anna Maria:" — a short first line
/// that ends like a greeting: the most personalised line of a campaign.
fn is_salutation(line: &str) -> bool {
    line.split_whitespace().count() <= 6 && line.ends_with([',', '!', ':'])
}

const NUMBER: u64 = 1;
const LONG: u64 = 2;
const ADDRESS: u64 = 3;

/// Appends the normalised tokens of a line, as hashes.
fn tokenize(line: &str, out: &mut Vec<u64>) {
    let mut buf = String::new();
    let ascii = line.is_ascii();
    let b = line.as_bytes();
    let mut i = 0;
    // Words are split at ASCII whitespace, as str::split_ascii_whitespace
    // does; the slices are char boundaries since the separators are ASCII.
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i {
            break;
        }
        let raw = &line[start..i];
        let tok = if ascii || raw.is_ascii() {
            ascii_token(raw.as_bytes())
        } else {
            unicode_token(raw, &mut buf)
        };
        let Some(tok) = tok else { continue };
        // Runs of placeholders ("# # #" for a date and amount) are one.
        if (tok == NUMBER || tok == LONG) && out.last() == Some(&tok) {
            continue;
        }
        out.push(tok);
    }
}

/// The token of an ASCII word (most mail). The word is read eight bytes at
/// a time: lowercased, classified and hashed with word-wide bit tricks
/// (SWAR), not byte by byte.
fn ascii_token(w: &[u8]) -> Option<u64> {
    if w.len() > 4 && looks_like_link(w) {
        let lower = w.to_ascii_lowercase();
        if let Some(host) = link_host(std::str::from_utf8(&lower).unwrap_or("")) {
            return Some(link_token(host));
        }
    }
    let start = w.iter().position(|b| b.is_ascii_alphanumeric())?;
    let end = w.iter().rposition(|b| b.is_ascii_alphanumeric())? + 1;
    let word = &w[start..end];
    let (mut at, mut dot, mut digit) = (0u64, 0u64, 0u64);
    let mut h = WordHash::new(word.len());
    for chunk in word.chunks(8) {
        let x = load(chunk);
        at |= swar::eq(x, b'@');
        dot |= swar::eq(x, b'.');
        digit |= swar::range(x, b'0', b'9');
        h.add(swar::lower(x));
    }
    Some(if at != 0 && dot != 0 {
        ADDRESS
    } else if digit != 0 {
        NUMBER
    } else if word.len() > LONG_TOKEN {
        LONG
    } else {
        h.finish()
    })
}

/// Up to eight bytes as one little-endian word, zero-padded. A short
/// chunk is read as two overlapping loads (their shared bytes are equal),
/// not copied into a buffer first: a copy followed by a wide load stalls
/// the CPU on store forwarding, which cost more than the rest of the word.
fn load(c: &[u8]) -> u64 {
    let n = c.len();
    let le4 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
    let le2 = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as u64;
    match n {
        8.. => u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        4..=7 => le4(c) | le4(&c[n - 4..]) << ((n - 4) * 8),
        2..=3 => le2(c) | le2(&c[n - 2..]) << ((n - 2) * 8),
        1 => c[0] as u64,
        0 => 0,
    }
}

/// Byte-parallel tests on eight ASCII bytes (< 0x80) in a u64: each
/// returns the high bit of every byte that passes (Hacker's Delight §6.1).
mod swar {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    /// Bytes >= c (for c <= 0x80): setting each byte's high bit first
    /// means the subtraction never borrows across bytes.
    fn ge(x: u64, c: u8) -> u64 {
        ((x | HI).wrapping_sub(LO * c as u64)) & HI
    }

    pub fn range(x: u64, lo: u8, hi: u8) -> u64 {
        ge(x, lo) & !ge(x, hi + 1) & HI
    }

    /// Bytes equal to c.
    pub fn eq(x: u64, c: u8) -> u64 {
        range(x, c, c)
    }

    /// ASCII lowercase: 0x20 added to every byte in A..=Z.
    pub fn lower(x: u64) -> u64 {
        x | (range(x, b'A', b'Z') >> 2)
    }
}

/// The hash of a word's (lowercased) bytes, eight at a time. Each step is
/// a bijection of the chunk, so distinct words of up to eight bytes never
/// collide; the shingle hash mixes the result further.
struct WordHash(u64);

impl WordHash {
    fn new(len: usize) -> WordHash {
        WordHash(FNV_OFFSET ^ len as u64)
    }

    fn add(&mut self, chunk: u64) {
        let h = (self.0 ^ chunk).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }

    fn finish(self) -> u64 {
        self.0
    }

    fn of(bytes: &[u8]) -> u64 {
        let mut h = WordHash::new(bytes.len());
        for c in bytes.chunks(8) {
            h.add(load(c));
        }
        h.finish()
    }
}

/// A link's token: its host, apart from any word.
fn link_token(host: &str) -> u64 {
    WordHash::of(host.as_bytes()) ^ 0x4c49_4e4b // "LINK"
}

/// The token of a word with non-ASCII letters (Unicode lowercase and
/// classes).
fn unicode_token(raw: &str, buf: &mut String) -> Option<u64> {
    buf.clear();
    buf.push_str(&raw.to_lowercase());
    if let Some(host) = link_host(buf) {
        return Some(link_token(host));
    }
    let word = buf.trim_matches(|c: char| !c.is_alphanumeric());
    if word.is_empty() {
        return None;
    }
    Some(if word.contains('@') && word.contains('.') {
        ADDRESS
    } else if word.chars().any(|c| c.is_numeric()) {
        NUMBER
    } else if word.chars().count() > LONG_TOKEN {
        LONG
    } else {
        WordHash::of(word.as_bytes())
    })
}

/// Whether [`link_host`] may find a link here: decided without copying
/// the word, since most words are not links.
fn looks_like_link(w: &[u8]) -> bool {
    let start = w
        .iter()
        .position(|b| !matches!(b, b'<' | b'(' | b'[' | b'"' | b'\''))
        .unwrap_or(w.len());
    let w = &w[start..];
    let has = |p: &[u8]| w.len() >= p.len() && w[..p.len()].eq_ignore_ascii_case(p);
    has(b"http://") || has(b"https://") || has(b"www.")
}

/// The host of a link (its path and query carry tracking tokens).
fn link_host(w: &str) -> Option<&str> {
    let w = w.trim_start_matches(['<', '(', '[', '"', '\'']);
    let rest = w
        .strip_prefix("https://")
        .or_else(|| w.strip_prefix("http://"))
        .or_else(|| w.strip_prefix("www.").map(|_| w))?;
    let end = rest
        .find(['/', '?', '#', '>', ')', ']', '"', '\''])
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('.'))
}

/// The K minima over all shingles. K hash functions by multiply-shift
/// (Dietzfelbinger et al.): the high half of (h ^ seed) * odd multiplier,
/// one multiplication each. This loop is most of the fingerprint's cost, so
/// it runs position by position over all shingles, which the compiler
/// turns into vector code, and with AVX-512 where the CPU has it (eight
/// 64-bit multiplications at once); every path computes the same values.
fn minhash(shingles: &[u64], mins: &mut [u32; K]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512dq") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { minhash_avx512(shingles, mins) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: as above.
        return unsafe { minhash_avx2(shingles, mins) };
    }
    minhash_portable(shingles, mins)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn minhash_avx512(shingles: &[u64], mins: &mut [u32; K]) {
    minhash_portable(shingles, mins)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn minhash_avx2(shingles: &[u64], mins: &mut [u32; K]) {
    minhash_portable(shingles, mins)
}

#[inline(always)]
fn minhash_portable(shingles: &[u64], mins: &mut [u32; K]) {
    for (i, m) in mins.iter_mut().enumerate() {
        let (seed, mult) = (SEEDS[i], MULTS[i]);
        *m = shingles
            .iter()
            .map(|h| ((h ^ seed).wrapping_mul(mult) >> 32) as u32)
            .fold(*m, u32::min);
    }
}

fn hash_words(words: &[u64]) -> u64 {
    words.iter().fold(FNV_OFFSET, |h, w| mix(h ^ w))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(FNV_OFFSET, |h, &c| {
        (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The splitmix64 finaliser: a bijection that spreads every input bit.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The odd multiplier of each MinHash position.
const MULTS: [u64; K] = {
    let mut m = [0u64; K];
    let mut i = 0;
    while i < K {
        m[i] = SEEDS[(i + 7) % K] | 1;
        i += 1;
    }
    m
};

/// One seed per MinHash position: x ↦ mix(x ^ seed) acts as K independent
/// hash functions.
const SEEDS: [u64; K] = {
    let mut s = [0u64; K];
    let mut i = 0;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while i < K {
        // splitmix64's generator, inlined for const evaluation.
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        s[i] = z ^ (z >> 31);
        i += 1;
    }
    s
};

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: &str = "We are delighted to announce our winter collection. Every coat, scarf and pair of boots \
        in the catalogue is now available in all our shops and online, with free delivery on orders above the usual \
        amount. Members of the loyalty club receive an additional discount until the end of the month, and the first \
        hundred orders include a hand-made gift. Visit https://shop.example/winter?utm=abc123 to see everything.";

    fn personalised(name: &str, n: u32) -> String {
        format!(
            "Dear {name},\n\n{}\nYour member number is {n:06} and your voucher code is Q{n}X{n}Z.\nTrack: https://t.example/c/{:x}{:x}\n\n-- \nThe Shop team\nUnsubscribe: https://shop.example/u/{n}",
            LETTER.replace(" the ", if n.is_multiple_of(2) { "  the " } else { " the\n " }),
            n * 7919,
            n * 104729
        )
    }

    #[test]
    fn personalised_copies_are_similar() {
        let a = Fingerprint::of_text("Winter collection for Anna", &personalised("Anna", 1));
        for (i, name) in ["Bob Smith", "Dr. Chen", "Maria José", "x"]
            .iter()
            .enumerate()
        {
            let b = Fingerprint::of_text(
                &format!("Winter collection for {name}"),
                &personalised(name, i as u32 * 37 + 5),
            );
            assert!(a.similarity(&b) >= 0.7, "{name}: {}", a.similarity(&b));
        }
    }

    #[test]
    fn different_texts_are_not() {
        let a = Fingerprint::of_text("Minutes", "The committee met on Tuesday to discuss the budget for next year and agreed to postpone the decision on the new roof until the architect has sent a revised estimate.");
        let b = Fingerprint::of_text("Re: lunch", "Thanks for the invitation. I cannot make it on Thursday because my daughter has a school play, but Friday would work well for me if the others agree.");
        assert!(a.similarity(&b) < 0.2, "{}", a.similarity(&b));
    }

    const GOLDEN: [u32; 4] = [2054124251, 21220396, 626087493, 253457506];

    #[test]
    fn stable_across_versions() {
        // Signatures are stored and compared across nodes: a change here
        // is a schema change.
        let f = Fingerprint::of_text("Hello", "the quick brown fox jumps over the lazy dog");
        assert_eq!(Fingerprint::from_bytes(&f.to_bytes()), Some(f.clone()));
        assert_eq!(
            recipient_key("Bob@Example.org"),
            recipient_key("bob@example.org")
        );
        assert_eq!(
            f.mins[0],
            Fingerprint::of_text("Hello", "the quick brown fox jumps over the lazy dog").mins[0]
        );
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
        assert_eq!(f.mins[..4], GOLDEN);
    }

    #[test]
    fn tokens_fold_personal_parts() {
        let mut t = Vec::new();
        tokenize(
            "Order #12345 for BOB@x.example: see <https://a.example/p?id=9> or www.b.example/x, code aGVsbGVyZWFkZXJzZWVrZXJz",
            &mut t,
        );
        let w = |s: &str| WordHash::of(s.as_bytes());
        let link = link_token;
        assert_eq!(
            t,
            [
                w("order"),
                1,
                w("for"),
                3,
                w("see"),
                link("a.example"),
                w("or"),
                link("www.b.example"),
                w("code"),
                2
            ]
        );
        let mut u = Vec::new();
        tokenize("ÖRDER Größe «quoted» 12€ ünïcödé@exämple.org", &mut u);
        assert_eq!(u, [w("örder"), w("größe"), w("quoted"), 1, 3]);
        // The ASCII path and the Unicode path agree.
        for word in [
            "Hello,",
            "(see",
            "x@y.z",
            "A1",
            "aaaaaaaaaaaaaaaaaaaaaaaaa",
            "https://q.example/x",
            "--",
            "www.a.b",
        ] {
            assert_eq!(
                ascii_token(word.as_bytes()),
                unicode_token(word, &mut String::new()),
                "{word}"
            );
        }
    }

    #[test]
    fn every_minhash_path_agrees() {
        let shingles: Vec<u64> = (0..1000u64).map(mix).collect();
        let (mut a, mut b) = ([u32::MAX; K], [u32::MAX; K]);
        minhash(&shingles, &mut a);
        minhash_portable(&shingles, &mut b);
        assert_eq!(a, b);
        let mut c = [u32::MAX; K];
        for (i, m) in c.iter_mut().enumerate() {
            for h in &shingles {
                *m = (*m).min(((h ^ SEEDS[i]).wrapping_mul(SEEDS[(i + 7) % K] | 1) >> 32) as u32);
            }
        }
        assert_eq!(a, c);
    }

    #[test]
    fn swar_tests_agree_with_bytewise_ones() {
        for b in 0u8..0x80 {
            for pos in 0..8 {
                let x = (b as u64) << (pos * 8) | 0x2020_2020_2020_2020 & !(0xff << (pos * 8));
                let at = |m: u64| m >> (pos * 8 + 7) & 1 == 1;
                assert_eq!(at(swar::eq(x, b'@')), b == b'@', "{b}");
                assert_eq!(at(swar::range(x, b'0', b'9')), b.is_ascii_digit(), "{b}");
                assert_eq!(
                    (swar::lower(x) >> (pos * 8)) as u8,
                    b.to_ascii_lowercase(),
                    "{b}"
                );
            }
        }
        assert_eq!(WordHash::of(b"hello"), {
            let mut h = WordHash::new(5);
            h.add(load(b"hello"));
            h.finish()
        });
        assert_ne!(WordHash::of(b"ab"), WordHash::of(b"ab\0"));
        let bytes = b"abcdefgh";
        for n in 0..=8 {
            let mut pad = [0u8; 8];
            pad[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(load(&bytes[..n]), u64::from_le_bytes(pad), "{n}");
        }
    }

    #[test]
    fn mime_and_html_parts_are_read() {
        let raw = b"From: a@b.example\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+SGVsbG8gPGI+d29ybGQ8L2I+IGFuZCBhbGwgb2YgeW91PC9wPg==\r\n";
        let a = Fingerprint::of_message(raw);
        let b = Fingerprint::of_text("Grüße", "Hello world and all of you");
        assert_eq!(a.similarity(&b), 1.0);
    }

    /// The one-pass reading of plain-text mail gives what the MIME parser
    /// gives; anything else goes to the parser.
    #[test]
    fn plain_text_is_read_without_the_parser_and_alike() {
        let cases: &[(&[u8], bool)] = &[
            (b"From: a@b.example\r\nSubject: Winter  collection\r\n for you\r\n\r\nDear Bob,\r\nthe coats are here.\r\n-- \r\nShop\r\n", true),
            (b"Subject: x\nContent-Type: text/plain; charset=\"UTF-8\"; format=flowed\nContent-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \n> quoted\nend\n", true),
            (b"To: x@y.example\r\n\r\n", true),
            (b"Subject:   \r\n\r\nbody only", true),
            (b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nhello", false),
            (b"Content-Type: text/html\r\n\r\n<p>hi</p>", false),
            (b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nK\xf6ln", false),
            (b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=", false),
            (b"Subject: a\r\nSubject: b\r\n\r\nx", false),
            (b"no header at all", false),
            (b" folded first\r\n\r\nx", false),
            (b"Subject: caf\xc3\xa9\r\n\r\nx", false),
        ];
        for (raw, plain) in cases {
            let text = String::from_utf8_lossy(raw);
            assert_eq!(plain_text(raw).is_some(), *plain, "{text}");
            assert_eq!(
                Fingerprint::of_message(raw),
                Fingerprint::of_parsed(raw),
                "{text}"
            );
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for raw in [
            &b""[..],
            b"\r\n\r\n",
            b"Subject:",
            b"\xff\xfe\x00",
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--",
        ] {
            let _ = Fingerprint::of_message(raw);
        }
        assert!(Fingerprint::from_bytes(b"short").is_none());
    }
}
