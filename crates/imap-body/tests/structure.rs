//! BODYSTRUCTURE of a message using every field of body-fields and the
//! extension data (RFC 9051 §7.5.2), checked by hand: sizes and line
//! counts below are of this LF-only text.

use mailhost_imap_body::summarize;

const MESSAGE: &str = "From: a@example.org
Content-Type: multipart/mixed; boundary=\"outer\"

--outer
Content-Type: text/x-note; charset=utf-8; foo=\"q\\\"s\"
Content-ID: <id@example.org>
Content-MD5: AAAA
Content-Disposition: inline; size=3
Content-Description: a note
Content-Language: en, ja
Content-Location: http://example.org/n.txt

hi

--outer
Content-Type: message/rfc822

From: b@example.org
To: c@example.org, d@example.org
Subject: inner
Content-Type: multipart/alternative; boundary=in

--in
Content-Type: text/html
Content-Transfer-Encoding: 8bit

<b>x</b>
--in
Content-Transfer-Encoding: ?bad

plain
--in--

--outer--
";

#[test]
fn every_field() {
    let s = summarize(MESSAGE.as_bytes());
    let inner_env = r#"(NIL "inner" ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org")) ((NIL NIL "c" "example.org")(NIL NIL "d" "example.org")) NIL NIL NIL NIL)"#;
    assert_eq!(
        String::from_utf8(s.bodystructure).unwrap(),
        format!(
            r#"(("TEXT" "X-NOTE" ("CHARSET" "utf-8" "FOO" "q\"s") "<id@example.org>" "a note" "7BIT" 3 1 "AAAA" ("INLINE" ("SIZE" "3")) ("en" "ja") "http://example.org/n.txt")("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 240 {inner_env} (("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "8BIT" 8 1 NIL NIL NIL NIL)("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "in") NIL NIL NIL) 15 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)"#
        )
    );
    assert_eq!(
        String::from_utf8(s.body).unwrap(),
        format!(
            r#"(("TEXT" "X-NOTE" ("CHARSET" "utf-8" "FOO" "q\"s") "<id@example.org>" "a note" "7BIT" 3 1)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 240 {inner_env} (("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "8BIT" 8 1)("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1) "ALTERNATIVE") 15) "MIXED")"#
        )
    );
    assert_eq!(s.sent_date, None);
}

#[test]
fn eight_bit_values_are_literals() {
    let m = "Content-Type: text/plain; name=\"r\u{e9}sum\u{e9}.txt\"\r\n\r\nx".as_bytes();
    let s = summarize(m);
    let bs = String::from_utf8(s.bodystructure).unwrap();
    assert!(bs.starts_with("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\" \"NAME\" {12}\r\nr\u{e9}sum\u{e9}.txt) NIL"), "{bs}");
}
