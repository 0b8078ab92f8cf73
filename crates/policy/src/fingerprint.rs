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
//! 4. locality-sensitive hashing: the signature is cut into bands of two
//!    values, each hashed with the customer into a key, so that similar
//!    messages of one customer meet on at least one key with high
//!    probability (1-(1-s²)^16: 99% at s = 0.5) without comparing against
//!    every message sent.
//!
//! Everything here is pure and deterministic across nodes and versions:
//! signatures are stored and compared by every node sharing a database,
//! so the hash functions are written out, not taken from `std`.

use mail_parser::MessageParser;

/// MinHash values per signature.
pub const K: usize = 32;
/// Values per LSH band.
pub const ROWS: usize = 2;
/// LSH bands per signature.
pub const BANDS: usize = K / ROWS;
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
        let parsed = MessageParser::default().parse(raw);
        let Some(m) = parsed else { return Fingerprint::of_text("", &String::from_utf8_lossy(&raw[..raw.len().min(MAX_TEXT)])) };
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
        if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Fingerprint::of_text(subject, &text)
    }

    /// The fingerprint of a subject and a plain-text body.
    pub fn of_text(subject: &str, body: &str) -> Fingerprint {
        let mut tokens = Vec::new();
        tokenize(subject, &mut tokens);
        tokens.push(0); // subject and body do not run together
        for line in body_lines(body) {
            tokenize(line, &mut tokens);
        }
        let mut mins = [u32::MAX; K];
        // K hash functions by multiply-shift (Dietzfelbinger et al.): the
        // high half of (h ^ seed) * odd multiplier, one multiplication each.
        let mut add = |h: u64| {
            for (i, m) in mins.iter_mut().enumerate() {
                let v = ((h ^ SEEDS[i]).wrapping_mul(SEEDS[(i + 7) % K] | 1) >> 32) as u32;
                *m = (*m).min(v);
            }
        };
        if tokens.len() < SHINGLE {
            add(hash_words(&tokens));
        } else {
            for w in tokens.windows(SHINGLE) {
                add(hash_words(w));
            }
        }
        Fingerprint { mins }
    }

    /// The estimated Jaccard similarity of the two shingle sets, 0..=1.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let same = self.mins.iter().zip(other.mins.iter()).filter(|(a, b)| a == b).count();
        same as f64 / K as f64
    }

    /// The LSH keys of this fingerprint within one customer's mail.
    pub fn bands(&self, customer: &str) -> [i64; BANDS] {
        self.bands_for_key(customer_key(customer))
    }

    /// [`Fingerprint::bands`] for a customer already reduced to its key.
    pub fn bands_for_key(&self, c: u64) -> [i64; BANDS] {
        let mut out = [0i64; BANDS];
        for (b, o) in out.iter_mut().enumerate() {
            let mut h = mix(c ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for v in &self.mins[b * ROWS..(b + 1) * ROWS] {
                h = mix(h ^ *v as u64);
            }
            *o = h as i64;
        }
        out
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
    for raw in line.split_ascii_whitespace() {
        let tok = if raw.is_ascii() { ascii_token(raw.as_bytes()) } else { unicode_token(raw, &mut buf) };
        let Some(tok) = tok else { continue };
        // Runs of placeholders ("# # #" for a date and amount) are one.
        if (tok == NUMBER || tok == LONG) && out.last() == Some(&tok) {
            continue;
        }
        out.push(tok);
    }
}

/// The token of an ASCII word, in one pass over its bytes (most mail).
fn ascii_token(w: &[u8]) -> Option<u64> {
    if w.len() > 4 && (w[0] == b'h' || w[0] == b'H' || w[0] == b'w' || w[0] == b'W' || !w[0].is_ascii_alphanumeric()) {
        let lower = w.to_ascii_lowercase();
        if let Some(host) = link_host(std::str::from_utf8(&lower).unwrap_or("")) {
            return Some(fnv_step(fnv(b"<"), host.as_bytes()));
        }
    }
    let start = w.iter().position(|b| b.is_ascii_alphanumeric())?;
    let end = w.iter().rposition(|b| b.is_ascii_alphanumeric())? + 1;
    let word = &w[start..end];
    let (mut at, mut dot, mut digit) = (false, false, false);
    let mut h = FNV_OFFSET;
    for &b in word {
        at |= b == b'@';
        dot |= b == b'.';
        digit |= b.is_ascii_digit();
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Some(if at && dot {
        ADDRESS
    } else if digit {
        NUMBER
    } else if word.len() > LONG_TOKEN {
        LONG
    } else {
        h
    })
}

/// The token of a word with non-ASCII letters (Unicode lowercase and
/// classes).
fn unicode_token(raw: &str, buf: &mut String) -> Option<u64> {
    buf.clear();
    buf.push_str(&raw.to_lowercase());
    if let Some(host) = link_host(buf) {
        return Some(fnv_step(fnv(b"<"), host.as_bytes()));
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
        fnv(word.as_bytes())
    })
}

/// The host of a link (its path and query carry tracking tokens).
fn link_host(w: &str) -> Option<&str> {
    let w = w.trim_start_matches(['<', '(', '[', '"', '\'']);
    let rest = w
        .strip_prefix("https://")
        .or_else(|| w.strip_prefix("http://"))
        .or_else(|| w.strip_prefix("www.").map(|_| w))?;
    let end = rest.find(['/', '?', '#', '>', ')', ']', '"', '\'']).unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('.'))
}

fn hash_words(words: &[u64]) -> u64 {
    words.iter().fold(FNV_OFFSET, |h, w| mix(h ^ w))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv_step(mut h: u64, b: &[u8]) -> u64 {
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// FNV-1a, 64 bits.
fn fnv(b: &[u8]) -> u64 {
    fnv_step(FNV_OFFSET, b)
}

/// The splitmix64 finaliser: a bijection that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

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
            LETTER.replace(" the ", if n % 2 == 0 { "  the " } else { " the\n " }),
            n * 7919,
            n * 104729
        )
    }

    #[test]
    fn personalised_copies_are_similar() {
        let a = Fingerprint::of_text("Winter collection for Anna", &personalised("Anna", 1));
        for (i, name) in ["Bob Smith", "Dr. Chen", "Maria José", "x"].iter().enumerate() {
            let b = Fingerprint::of_text(&format!("Winter collection for {name}"), &personalised(name, i as u32 * 37 + 5));
            assert!(a.similarity(&b) >= 0.7, "{name}: {}", a.similarity(&b));
        }
    }

    #[test]
    fn different_texts_are_not() {
        let a = Fingerprint::of_text("Minutes", "The committee met on Tuesday to discuss the budget for next year and agreed to postpone the decision on the new roof until the architect has sent a revised estimate.");
        let b = Fingerprint::of_text("Re: lunch", "Thanks for the invitation. I cannot make it on Thursday because my daughter has a school play, but Friday would work well for me if the others agree.");
        assert!(a.similarity(&b) < 0.2, "{}", a.similarity(&b));
    }

    #[test]
    fn bands_depend_on_customer_and_content() {
        let a = Fingerprint::of_text("s", "one two three four five six");
        assert_eq!(a.bands("c1"), a.bands("c1"));
        assert_ne!(a.bands("c1"), a.bands("c2"));
        let b = Fingerprint::of_text("s", "seven eight nine ten eleven twelve");
        assert!(a.bands("c1").iter().zip(b.bands("c1").iter()).all(|(x, y)| x != y));
    }

    #[test]
    fn stable_across_versions() {
        // Signatures are stored and compared across nodes: a change here
        // is a schema change.
        let f = Fingerprint::of_text("Hello", "the quick brown fox jumps over the lazy dog");
        assert_eq!(Fingerprint::from_bytes(&f.to_bytes()), Some(f.clone()));
        assert_eq!(recipient_key("Bob@Example.org"), recipient_key("bob@example.org"));
        assert_eq!(f.mins[0], Fingerprint::of_text("Hello", "the quick brown fox jumps over the lazy dog").mins[0]);
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
    }

    #[test]
    fn tokens_fold_personal_parts() {
        let mut t = Vec::new();
        tokenize("Order #12345 for BOB@x.example: see <https://a.example/p?id=9> or www.b.example/x, code aGVsbGVyZWFkZXJzZWVrZXJz", &mut t);
        let w = |s: &str| fnv(s.as_bytes());
        let link = |s: &str| fnv_step(fnv(b"<"), s.as_bytes());
        assert_eq!(t, [w("order"), 1, w("for"), 3, w("see"), link("a.example"), w("or"), link("www.b.example"), w("code"), 2]);
        let mut u = Vec::new();
        tokenize("ÖRDER Größe «quoted» 12€ ünïcödé@exämple.org", &mut u);
        assert_eq!(u, [w("örder"), w("größe"), w("quoted"), 1, 3]);
        // The ASCII path and the Unicode path agree.
        for word in ["Hello,", "(see", "x@y.z", "A1", "aaaaaaaaaaaaaaaaaaaaaaaaa", "https://q.example/x", "--", "www.a.b"] {
            assert_eq!(ascii_token(word.as_bytes()), unicode_token(word, &mut String::new()), "{word}");
        }
    }

    #[test]
    fn mime_and_html_parts_are_read() {
        let raw = b"From: a@b.example\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+SGVsbG8gPGI+d29ybGQ8L2I+IGFuZCBhbGwgb2YgeW91PC9wPg==\r\n";
        let a = Fingerprint::of_message(raw);
        let b = Fingerprint::of_text("Grüße", "Hello world and all of you");
        assert_eq!(a.similarity(&b), 1.0);
    }

    #[test]
    fn garbage_does_not_panic() {
        for raw in [&b""[..], b"\r\n\r\n", b"Subject:", b"\xff\xfe\x00", b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--"] {
            let _ = Fingerprint::of_message(raw);
        }
        assert!(Fingerprint::from_bytes(b"short").is_none());
    }
}
