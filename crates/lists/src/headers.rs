//! The header fields of list mail: List-* (RFC 2369, RFC 2919, RFC 8058;
//! R-LIST-3), loop detection, and the DMARC-safe From (issue item 10).
//!
//! Everything works on the raw RFC 5322 bytes, so what is not touched stays
//! byte-exact (a DKIM signature added later covers what the member sees).
//! The header section ends at the first empty line (RFC 5322 §2.1); bare
//! LF line endings are accepted the same way, and a message without an
//! empty line is all header. Field names are matched without regard to
//! case and values are unfolded (RFC 5322 §2.2.3) before comparing.

use data_encoding::BASE64;
use mail_parser::MessageParser;

/// More Received fields than this is a loop: RFC 5321 §6.3 asks for a
/// limit of at least 100 when counting them.
pub const MAX_RECEIVED: usize = 100;

/// Recommended line length, RFC 5322 §2.1.1.
const LINE: usize = 78;

/// One header field: byte offsets in the section (continuation lines
/// included) and its name when the first line has a valid one.
struct Field<'a> {
    start: usize,
    /// Just after the colon.
    value: usize,
    end: usize,
    name: Option<&'a str>,
}

/// (end of the header section, start of the body).
fn split(raw: &[u8]) -> (usize, usize) {
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line == b"\n" || line == b"\r\n" {
            return (pos, end);
        }
        pos = end;
    }
    (raw.len(), raw.len())
}

/// The header fields, up to and including the line ending of the last
/// one, without the empty line that ends them.
pub fn header_section(raw: &[u8]) -> &[u8] {
    &raw[..split(raw).0]
}

fn fields(section: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field> = Vec::new();
    let mut pos = 0;
    while pos < section.len() {
        let end = section[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(section.len(), |i| pos + i + 1);
        let line = &section[pos..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        match out.last_mut() {
            Some(f) if continuation => f.end = end,
            _ => {
                // RFC 5322 §3.6.8 ftext; WSP before the colon is the
                // obsolete syntax of §4.5 (still seen, still accepted).
                let colon = line.iter().position(|&b| b == b':');
                let name = colon.and_then(|c| {
                    let n = line[..c].trim_ascii_end();
                    let ok = !n.is_empty() && n.iter().all(|&b| (33..=126).contains(&b));
                    ok.then(|| std::str::from_utf8(n).ok()).flatten()
                });
                out.push(Field {
                    start: pos,
                    value: pos + colon.map_or(0, |c| c + 1),
                    end,
                    name,
                });
            }
        }
        pos = end;
    }
    out
}

fn unfold(v: &[u8]) -> String {
    let bytes: Vec<u8> = v
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    String::from_utf8_lossy(&bytes).trim().to_string()
}

/// The unfolded values of every field called `name` (any case), in order.
pub fn get(raw: &[u8], name: &str) -> Vec<String> {
    let section = header_section(raw);
    fields(section)
        .iter()
        .filter(|f| f.name.is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .map(|f| unfold(&section[f.value..f.end]))
        .collect()
}

/// Removes every field whose name satisfies `pred`, continuation lines
/// and all; every other byte of the message is kept as it was.
pub fn strip(raw: &[u8], pred: impl Fn(&str) -> bool) -> Vec<u8> {
    let (hdr_end, _) = split(raw);
    let mut out = Vec::with_capacity(raw.len());
    for f in fields(&raw[..hdr_end]) {
        if !f.name.is_some_and(&pred) {
            out.extend_from_slice(&raw[f.start..f.end]);
        }
    }
    out.extend_from_slice(&raw[hdr_end..]);
    out
}

/// The fields a list replaces on the way through: every `List-*` field
/// (RFC 2369, RFC 2919, RFC 8058 and others), `Precedence`, and
/// `DKIM-Signature`, which the list's own modifications would break and
/// which the list signs anew.
pub fn is_list_managed(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("list-") || n == "precedence" || n == "dkim-signature"
}

/// Inserts `fields` (CRLF-terminated, as [`render`] makes them) before the
/// first header field; in a message with bare LF line endings they are
/// written with LF too.
pub fn prepend(raw: &[u8], fields: &str) -> Vec<u8> {
    let mut f = fields.to_string();
    if !f.is_empty() && !f.ends_with('\n') {
        f.push_str("\r\n");
    }
    let f = eol(&f, lf_only(raw));
    let mut out = Vec::with_capacity(f.len() + raw.len());
    out.extend_from_slice(f.as_bytes());
    out.extend_from_slice(raw);
    out
}

/// Whether the header section uses bare LF line endings.
fn lf_only(raw: &[u8]) -> bool {
    let s = &raw[..split(raw).1];
    s.contains(&b'\n') && !s.windows(2).any(|w| w == b"\r\n")
}

fn eol(s: &str, lf: bool) -> String {
    if lf {
        s.replace("\r\n", "\n")
    } else {
        s.to_string()
    }
}

/// What a list puts on each message it sends.
#[derive(Debug, Clone)]
pub struct ListHeaders<'a> {
    /// The posting address, also written into X-Loop.
    pub list_address: &'a str,
    /// Display name / description, the phrase of List-Id.
    pub list_name: &'a str,
    /// RFC 2919 list identifier, e.g. `news.example.com`.
    pub list_id: &'a str,
    /// List-Help URL (empty: no field).
    pub help_url: &'a str,
    /// Where to post; None for announce-only lists (`List-Post: NO`).
    pub post: Option<&'a str>,
    /// The owner's address (empty: no field).
    pub owner: &'a str,
    /// The HTTPS one-click URL (RFC 8058); empty: none.
    pub unsubscribe_url: &'a str,
    /// The unsubscribe address; empty: none.
    pub unsubscribe_mailto: &'a str,
    /// List passes before this one. Not rendered: each pass adds one
    /// X-Loop field, and [`loop_reason`] counts those.
    pub hops: u32,
}

/// The list fields, each CRLF-terminated and folded at 78 characters
/// between items, never inside `<…>`. Values are cleaned so nothing in
/// them can start a new field.
pub fn render(h: &ListHeaders) -> String {
    let mut out = String::new();
    // RFC 2919 §2: List-Id: [phrase] <list-id>
    let id: String = h
        .list_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(*c))
        .collect();
    let mut pieces = phrase(h.list_name);
    pieces.push(format!("<{id}>"));
    out += &fold("List-Id", &pieces);
    // RFC 2369 §3.1 .. §3.6
    if !h.help_url.trim().is_empty() {
        out += &fold("List-Help", &[format!("<{}>", uri(h.help_url))]);
    }
    match h.post {
        Some(p) if !p.trim().is_empty() => out += &fold("List-Post", &[format!("<{}>", mailto(p))]),
        // §3.4: "NO" says posting is not allowed.
        _ => out += "List-Post: NO\r\n",
    }
    if !h.owner.trim().is_empty() {
        out += &fold("List-Owner", &[format!("<{}>", mailto(h.owner))]);
    }
    let https = h.unsubscribe_url.trim();
    let mut unsub = Vec::new();
    if !https.is_empty() {
        unsub.push(format!("<{}>", uri(https)));
    }
    if !h.unsubscribe_mailto.trim().is_empty() {
        unsub.push(format!("<{}>", mailto(h.unsubscribe_mailto)));
    }
    let n = unsub.len();
    for (i, u) in unsub.iter_mut().enumerate() {
        if i + 1 < n {
            u.push(',');
        }
    }
    if !unsub.is_empty() {
        out += &fold("List-Unsubscribe", &unsub);
    }
    // RFC 8058 §3.1: only with an HTTPS URI in List-Unsubscribe.
    if https.len() > 8 && https[..8].eq_ignore_ascii_case("https://") {
        out += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
    }
    // RFC 2076 §3.9 / RFC 3834 §2: bulk list traffic, no autoreplies.
    out += "Precedence: list\r\n";
    out += &fold("X-Loop", &[clean(h.list_address)]);
    out
}

/// Printable ASCII only: header values must be 7-bit here, and CR or LF
/// would start a new field.
fn clean(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic()).collect()
}

/// A URI for inside `<…>`: anything not printable ASCII, and the
/// delimiters, percent-encoded (RFC 3986 §2.1).
fn uri(u: &str) -> String {
    let mut out = String::new();
    for b in u.trim().bytes() {
        if b.is_ascii_graphic() && !b"<>\"".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `mailto:` plus the address, whose bytes outside RFC 6068 qchar are
/// percent-encoded; an argument already starting with `mailto:` is kept.
fn mailto(addr: &str) -> String {
    let a = addr.trim();
    if a.len() >= 7 && a[..7].eq_ignore_ascii_case("mailto:") {
        return uri(a);
    }
    let mut out = String::from("mailto:");
    for b in a.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$'()*+,;:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A display name as phrase pieces, split where folding may happen:
/// an ASCII name as a quoted-string (RFC 5322 §3.2.4, `\` and `"`
/// escaped; folding inside it at a space keeps the space), otherwise
/// RFC 2047 B encoded-words of at most 75 characters, which must not be
/// quoted (§5) and whose separating spaces vanish on decoding (§6.2).
fn phrase(name: &str) -> Vec<String> {
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    let name = words.join(" ");
    if name.is_ascii() {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        let mut pieces: Vec<String> = escaped.split(' ').map(str::to_string).collect();
        if let Some(first) = pieces.first_mut() {
            first.insert(0, '"');
        }
        if let Some(last) = pieces.last_mut() {
            last.push('"');
        }
        return pieces;
    }
    // 39 bytes make 52 base64 characters, 64 with the wrapping: short
    // enough to share the first line with a field name.
    let mut pieces = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        if chunk.len() + c.len_utf8() > 39 {
            pieces.push(format!("=?utf-8?b?{}?=", BASE64.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        pieces.push(format!("=?utf-8?b?{}?=", BASE64.encode(chunk.as_bytes())));
    }
    pieces
}

/// `Name: p1 p2 …` CRLF, breaking before a piece that would pass 78
/// characters; a piece too long for any line stays whole.
fn fold(name: &str, pieces: &[String]) -> String {
    let mut out = format!("{name}:");
    let mut len = out.len();
    let mut on_line = 0;
    for p in pieces {
        if on_line > 0 && len + 1 + p.len() > LINE {
            out.push_str("\r\n");
            len = 0;
            on_line = 0;
        }
        out.push(' ');
        out.push_str(p);
        len += 1 + p.len();
        on_line += 1;
    }
    out.push_str("\r\n");
    out
}

/// Why an incoming message must not go out through this list again, if
/// it must not: it carries our X-Loop, or a List-Id of a list on this
/// server (`our_list_ids`), or more than `max_hops` X-Loop fields, or more
/// than [`MAX_RECEIVED`] Received fields.
pub fn loop_reason(
    raw: &[u8],
    our_list_ids: impl Fn(&str) -> bool,
    list_address: &str,
    max_hops: u32,
) -> Option<String> {
    let ours = list_address.trim().to_ascii_lowercase();
    let loops = get(raw, "X-Loop");
    for v in &loops {
        let v = v.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace());
        if !ours.is_empty() && v.eq_ignore_ascii_case(&ours) {
            return Some(format!(
                "mail loop: this message already passed list {ours} (X-Loop)"
            ));
        }
    }
    for v in get(raw, "List-Id") {
        // RFC 2919 §2: the id is the last <…>; a bare id is tolerated.
        let id = match (v.rfind('<'), v.rfind('>')) {
            (Some(a), Some(b)) if a < b => &v[a + 1..b],
            _ => v.as_str(),
        };
        let id = id.trim().to_ascii_lowercase();
        if !id.is_empty() && our_list_ids(&id) {
            return Some(format!(
                "mail loop: this message already came through list <{id}> on this server (List-Id)"
            ));
        }
    }
    if loops.len() > max_hops as usize {
        return Some(format!(
            "mail loop: this message already passed {} lists, more than {max_hops} (X-Loop)",
            loops.len()
        ));
    }
    let received = fields(header_section(raw))
        .iter()
        .filter(|f| f.name.is_some_and(|n| n.eq_ignore_ascii_case("Received")))
        .count();
    if received > MAX_RECEIVED {
        return Some(format!(
            "mail loop: this message has {received} Received fields, more than {MAX_RECEIVED}"
        ));
    }
    None
}

/// The first author in From: (display name, address), decoded by
/// mail-parser (RFC 2047 names included).
pub fn from_address(raw: &[u8]) -> Option<(Option<String>, String)> {
    // mail-parser wants the empty line that ends the section.
    let mut section = header_section(raw).to_vec();
    if !section.is_empty() && !section.ends_with(b"\n") {
        section.extend_from_slice(b"\r\n");
    }
    section.extend_from_slice(b"\r\n");
    let msg = MessageParser::new().parse_headers(&section)?;
    let addr = msg.from()?.first()?;
    let address = addr.address.as_deref()?.trim();
    if address.is_empty() {
        return None;
    }
    let name = addr
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Some((name, address.to_string()))
}

/// DMARC-safe From (issue item 10): From becomes `"Name via List"
/// <list@domain>` so the list's domain is the author domain its own
/// DKIM signature aligns with; the author's From goes into Reply-To
/// unless the message has one (kept, as Mailman does). Without a display
/// name, the address's local part stands in. Other fields stay as they
/// were; extra From fields are dropped.
pub fn rewrite_from(raw: &[u8], list_address: &str, list_name: &str) -> Vec<u8> {
    let (hdr_end, _) = split(raw);
    let section = &raw[..hdr_end];
    let lf = lf_only(raw);
    let original = from_address(raw);
    let list = if list_name.trim().is_empty() {
        list_address
    } else {
        list_name
    };
    let display = match &original {
        Some((Some(name), _)) => format!("{name} via {list}"),
        Some((None, addr)) => {
            let local = addr.rsplit_once('@').map_or(addr.as_str(), |(l, _)| l);
            format!("{local} via {list}")
        }
        None => list.to_string(),
    };
    let mut pieces = phrase(&display);
    pieces.push(format!("<{}>", clean(list_address)));
    let new_from = eol(&fold("From", &pieces), lf);
    let all = fields(section);
    let is = |f: &Field, n: &str| f.name.is_some_and(|x| x.eq_ignore_ascii_case(n));
    let has_reply_to = all.iter().any(|f| is(f, "Reply-To"));
    let mut out = Vec::with_capacity(raw.len() + new_from.len() + 64);
    let mut done = false;
    for f in &all {
        if !is(f, "From") {
            out.extend_from_slice(&section[f.start..f.end]);
            continue;
        }
        if done {
            continue;
        }
        done = true;
        out.extend_from_slice(new_from.as_bytes());
        if !has_reply_to && original.is_some() {
            // The author's field value as it was, encoded name and all.
            out.extend_from_slice(b"Reply-To:");
            out.extend_from_slice(&section[f.value..f.end]);
            if !section[..f.end].ends_with(b"\n") {
                out.extend_from_slice(if lf { b"\n" } else { b"\r\n" });
            }
        }
    }
    if !done {
        let mut with = new_from.into_bytes();
        with.extend_from_slice(&out);
        out = with;
    }
    out.extend_from_slice(&raw[hdr_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Received: from a\r\n by b; Mon, 7 Dec 2026 10:00:00 +0200\r\n\
From: Alice Example <alice@example.org>\r\n\
List-Id: Other list\r\n <other.example.net>\r\n\
Subject: Hello\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=example.org;\r\n\tb=abc\r\n\
precedence: bulk\r\n\
\r\n\
List-Id: not a header, body text\r\n";

    fn lf(b: &[u8]) -> Vec<u8> {
        String::from_utf8_lossy(b)
            .replace("\r\n", "\n")
            .into_bytes()
    }

    #[test]
    fn section_with_each_line_ending() {
        assert!(header_section(MSG).ends_with(b"precedence: bulk\r\n"));
        let m = lf(MSG);
        assert!(header_section(&m).ends_with(b"precedence: bulk\n"));
        assert_eq!(header_section(b"A: 1\r\nB: 2"), b"A: 1\r\nB: 2");
        assert_eq!(header_section(b"\r\nbody"), b"");
        assert_eq!(header_section(b""), b"");
    }

    #[test]
    fn get_unfolds_and_ignores_case() {
        for m in [MSG.to_vec(), lf(MSG)] {
            assert_eq!(get(&m, "list-id"), ["Other list <other.example.net>"]);
            assert_eq!(
                get(&m, "DKIM-SIGNATURE"),
                ["v=1; a=rsa-sha256; d=example.org;\tb=abc"]
            );
            assert_eq!(get(&m, "Received").len(), 1);
            assert!(get(&m, "X-Missing").is_empty());
        }
        assert_eq!(get(b"Subject : obsolete\r\n\r\n", "subject"), ["obsolete"]);
        assert_eq!(get(b"X: 1\r\nx: 2\r\n\r\nX: 3\r\n", "x"), ["1", "2"]);
        // A continuation line with no field before it belongs to none.
        assert!(get(b" Subject: no\r\nA: b\r\n\r\n", "subject").is_empty());
    }

    #[test]
    fn strip_keeps_the_rest_byte_exact() {
        let out = strip(MSG, is_list_managed);
        let want = b"Received: from a\r\n by b; Mon, 7 Dec 2026 10:00:00 +0200\r\n\
From: Alice Example <alice@example.org>\r\n\
Subject: Hello\r\n\
\r\n\
List-Id: not a header, body text\r\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
        assert_eq!(strip(&lf(MSG), is_list_managed), lf(want));
        assert_eq!(strip(MSG, |_| false), MSG);
        // No separator: everything is header; a nameless line is kept.
        assert_eq!(
            strip(b"junk line\r\nList-Post: NO", is_list_managed),
            b"junk line\r\n"
        );
        assert!(is_list_managed("LIST-UNSUBSCRIBE-POST") && !is_list_managed("X-Loop"));
    }

    fn sample() -> ListHeaders<'static> {
        ListHeaders {
            list_address: "news@example.com",
            list_name: "Example News",
            list_id: "news.example.com",
            help_url: "https://example.com/lists/news",
            post: Some("news@example.com"),
            owner: "news-owner@example.com",
            unsubscribe_url: "https://example.com/u/abc",
            unsubscribe_mailto: "news+unsubscribe-abc@example.com",
            hops: 0,
        }
    }

    #[test]
    fn render_fields() {
        let r = render(&sample());
        assert_eq!(
            r,
            "List-Id: \"Example News\" <news.example.com>\r\n\
List-Help: <https://example.com/lists/news>\r\n\
List-Post: <mailto:news@example.com>\r\n\
List-Owner: <mailto:news-owner@example.com>\r\n\
List-Unsubscribe: <https://example.com/u/abc>,\r\n <mailto:news+unsubscribe-abc@example.com>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
Precedence: list\r\n\
X-Loop: news@example.com\r\n"
        );
        let announce = ListHeaders {
            post: None,
            help_url: "",
            owner: "",
            unsubscribe_url: "",
            ..sample()
        };
        let r = render(&announce);
        assert!(r.contains("List-Post: NO\r\n"));
        assert!(!r.contains("List-Help") && !r.contains("List-Owner") && !r.contains("One-Click"));
        assert!(r.contains("List-Unsubscribe: <mailto:news+unsubscribe-abc@example.com>\r\n"));
    }

    #[test]
    fn render_folds_between_items_only() {
        let long = format!("https://example.com/u/{}", "x".repeat(120));
        let h = ListHeaders {
            unsubscribe_url: &long,
            list_name: "A rather long list name that goes on and on about its many topics",
            ..sample()
        };
        let r = render(&h);
        for line in r.split("\r\n").filter(|l| !l.is_empty()) {
            // Only the unbreakable URL may pass 78.
            assert!(line.len() <= 78 || line.contains(&long), "{line:?}");
            assert!(!line.trim().is_empty());
        }
        assert!(r.contains(&format!("<{long}>,\r\n <mailto:")));
        let m = format!("{r}\r\n");
        assert_eq!(
            get(m.as_bytes(), "List-Id"),
            ["\"A rather long list name that goes on and on about its many topics\" <news.example.com>"]
        );
    }

    #[test]
    fn render_quotes_escapes_and_encodes() {
        let h = ListHeaders {
            list_name: "The \"Best\" \\ List",
            ..sample()
        };
        assert!(render(&h)
            .starts_with("List-Id: \"The \\\"Best\\\" \\\\ List\" <news.example.com>\r\n"));
        let h = ListHeaders {
            list_name: "Nouvelles élève",
            ..sample()
        };
        let r = render(&h);
        assert!(r.starts_with("List-Id: =?utf-8?b?"), "{r}");
        let m = format!("{r}From: a@b\r\n\r\n");
        let parsed = MessageParser::new().parse_headers(m.as_bytes()).unwrap();
        assert!(format!("{:?}", parsed.list_id()).contains("Nouvelles élève"));
        // No field injection through any value.
        let h = ListHeaders {
            list_name: "x\r\nBcc: victim@example.net",
            help_url: "https://e.com/\r\nBcc: v@e.net",
            post: Some("a@b\r\nX: y"),
            list_id: "id\r\nX: y",
            ..sample()
        };
        let r = render(&h);
        assert!(!r.contains("\r\nBcc") && !r.contains("\r\nX:"), "{r}");
        assert!(r.contains("<https://e.com/%0D%0ABcc:%20v@e.net>"));
        assert!(r.contains("<mailto:a@b%0D%0AX:%20y>"));
    }

    #[test]
    fn long_non_ascii_name_makes_short_encoded_words() {
        let name = "日本語のメーリングリスト".repeat(4);
        let p = phrase(&name);
        assert!(p.len() > 1 && p.iter().all(|w| w.len() <= 75));
        let m = format!("{}\r\n", fold("Subject", &p));
        assert!(m.split("\r\n").all(|l| l.len() <= 78));
        let parsed = MessageParser::new().parse_headers(m.as_bytes()).unwrap();
        assert_eq!(parsed.subject(), Some(name.as_str()));
    }

    #[test]
    fn loops() {
        let ours = |id: &str| id == "news.example.com";
        let clean = b"From: a@b.c\r\nSubject: x\r\n\r\nbody";
        assert_eq!(loop_reason(clean, ours, "news@example.com", 3), None);
        let m = b"X-Loop: NEWS@Example.COM\r\n\r\n";
        assert_eq!(
            loop_reason(m, ours, "news@example.com", 3).unwrap(),
            "mail loop: this message already passed list news@example.com (X-Loop)"
        );
        let m = b"List-Id: \"News\"\r\n <News.Example.com>\r\n\r\n";
        assert!(loop_reason(m, ours, "other@example.com", 3)
            .unwrap()
            .contains("List-Id"));
        assert_eq!(loop_reason(MSG, ours, "other@example.com", 3), None);
        let m = b"X-Loop: a@x\r\nX-Loop: b@x\r\nX-Loop: c@x\r\n\r\n";
        assert_eq!(loop_reason(m, ours, "news@example.com", 3), None);
        assert!(loop_reason(m, ours, "news@example.com", 2)
            .unwrap()
            .contains("3 lists"));
        let mut m = "Received: from x by y\r\n"
            .repeat(MAX_RECEIVED + 1)
            .into_bytes();
        m.extend_from_slice(b"\r\n");
        assert!(loop_reason(&m, ours, "news@example.com", 3)
            .unwrap()
            .contains("Received"));
    }

    #[test]
    fn from_address_decodes() {
        assert_eq!(
            from_address(MSG),
            Some((Some("Alice Example".into()), "alice@example.org".into()))
        );
        let m = b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.fr>\n\nbody";
        assert_eq!(
            from_address(m),
            Some((Some("Renée".into()), "renee@example.fr".into()))
        );
        assert_eq!(
            from_address(b"From: bob@example.net\r\n\r\n"),
            Some((None, "bob@example.net".into()))
        );
        assert_eq!(from_address(b"Subject: none\r\n\r\n"), None);
        assert_eq!(from_address(b""), None);
    }

    #[test]
    fn rewrite_from_sets_reply_to() {
        let out = rewrite_from(MSG, "news@example.com", "Example News");
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\r\nFrom: \"Alice Example via Example News\" <news@example.com>\r\nReply-To: Alice Example <alice@example.org>\r\nList-Id:"), "{s}");
        assert!(s.ends_with("\r\n\r\nList-Id: not a header, body text\r\n"));
        assert_eq!(from_address(s.as_bytes()).unwrap().1, "news@example.com");
        assert_eq!(get(s.as_bytes(), "From").len(), 1);
    }

    #[test]
    fn rewrite_from_keeps_existing_reply_to_and_folded_from() {
        let m = b"From: \"Bob \\\"B\\\" Smith\"\r\n <bob@example.net>\r\nReply-To: team@example.net\r\n\r\nhi";
        let s = String::from_utf8(rewrite_from(m, "news@example.com", "News")).unwrap();
        assert_eq!(
            s,
            "From: \"Bob \\\"B\\\" Smith via News\" <news@example.com>\r\nReply-To: team@example.net\r\n\r\nhi"
        );
        assert_eq!(
            from_address(s.as_bytes()).unwrap().0.unwrap(),
            "Bob \"B\" Smith via News"
        );
    }

    #[test]
    fn rewrite_from_non_ascii_lf_and_bare_address() {
        let m = b"Subject: s\nFrom: =?iso-8859-1?q?J=F6rg?= <jorg@example.de>\n\nbody\n";
        let out = rewrite_from(m, "news@example.com", "News");
        let s = String::from_utf8(out.clone()).unwrap();
        assert!(!s.contains('\r'));
        assert!(
            s.contains("\nReply-To: =?iso-8859-1?q?J=F6rg?= <jorg@example.de>\n\nbody\n"),
            "{s}"
        );
        assert_eq!(
            from_address(&out).unwrap(),
            (Some("Jörg via News".into()), "news@example.com".into())
        );
        let out = rewrite_from(b"From: carol@example.org", "news@example.com", "");
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "From: \"carol via news@example.com\" <news@example.com>\r\nReply-To: carol@example.org\r\n");
        // No From at all: the list speaks for itself, no Reply-To.
        let s = String::from_utf8(rewrite_from(
            b"Subject: x\r\n\r\nb",
            "news@example.com",
            "News",
        ))
        .unwrap();
        assert_eq!(
            s,
            "From: \"News\" <news@example.com>\r\nSubject: x\r\n\r\nb"
        );
    }

    #[test]
    fn prepend_matches_line_endings() {
        let f = "X-Loop: news@example.com\r\nPrecedence: list\r\n";
        assert_eq!(
            prepend(b"A: b\r\n\r\nc", f),
            b"X-Loop: news@example.com\r\nPrecedence: list\r\nA: b\r\n\r\nc"
        );
        assert_eq!(
            prepend(b"A: b\n\nc", f),
            b"X-Loop: news@example.com\nPrecedence: list\nA: b\n\nc"
        );
        assert_eq!(prepend(b"A: b\r\n\r\n", "X: y"), b"X: y\r\nA: b\r\n\r\n");
        assert_eq!(prepend(b"A: b\r\n\r\n", ""), b"A: b\r\n\r\n");
    }
}
