//! The FETCH expectations of imaptest's scripts (fetch-envelope,
//! fetch-bodystructure, fetch-body*, fetch-binary-mime*), checked against
//! the messages of their mbox files. Expected strings are copied from the
//! scripts; where a script compares case-insensitively, so do we.

mod common;

use common::{lit, mbox, raw_lit, sec, show};
use mailhost_imap_body::{binary, section, summarize, BinaryError};

fn body(m: &[u8], spec: &str) -> Vec<u8> {
    section(m, &sec(spec)).unwrap_or_default()
}

#[track_caller]
fn same_ci(got: &[u8], want: &str) {
    assert_eq!(show(got).to_ascii_lowercase(), want.to_ascii_lowercase());
}

#[test]
fn fetch_envelope() {
    let m = mbox("fetch-envelope");
    let want = [
        r#"("Thu, 15 Feb 2007 01:02:03 +0200" "subject header" (("From Real" NIL "fromuser" "fromdomain.org")) (("Sender Real" NIL "senderuser" "senderdomain.org")) (("ReplyTo Real" NIL "replytouser" "replytodomain.org")) (("To Real" NIL "touser" "todomain.org")) (("Cc Real" NIL "ccuser" "ccdomain.org")) (("Bcc Real" NIL "bccuser" "bccdomain.org")) "<reply@to.id>" "<msg@id>")"#,
        r#"("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL)"#,
        r#"("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL)"#,
        r#"("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL)) ((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)"#,
        r#"("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) NIL NIL NIL NIL NIL)"#,
        r#"("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) NIL NIL NIL NIL NIL)"#,
    ];
    assert_eq!(m.len(), want.len());
    for (msg, want) in m.iter().zip(want) {
        same_ci(&summarize(msg).envelope, want);
    }
}

#[test]
fn fetch_bodystructure() {
    let m = mbox("fetch-bodystructure");
    same_ci(
        &summarize(&m[0]).body,
        r#"(("TEXT" "x-MYOWN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1) "MIXED")"#,
    );
    // Not in the script: the extensible form of the same message.
    same_ci(
        &summarize(&m[0]).bodystructure,
        r#"(("TEXT" "X-MYOWN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "foo bar") NIL NIL NIL)"#,
    );
}

#[test]
fn fetch_body() {
    let m = mbox("fetch-body");
    // rfc822.header is body[header]; rfc822 and body[] are the message.
    assert_eq!(body(&m[0], "header"), b"From: User1 <user1@domain.org>\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nSubject: s1\r\n\r\n");
    assert_eq!(body(&m[1], ""), m[1]);
    assert_eq!(body(&m[0], "text"), lit("body1\n\n\n"));
    // The partial fetches cut body[text] (the server's job); check the text
    // they cut.
    let t2 = body(&m[1], "text");
    assert_eq!(&t2[0..3], b"bod");
    assert_eq!(&t2[3..6], b"y22");
    let t3 = body(&m[2], "text");
    assert_eq!(&t3[0..1], b"b");
    assert_eq!(&t3[5..6], b"3");
    assert_eq!(&t3[5..7], raw_lit("3\r\n"));
    assert_eq!(&t3[5..8], raw_lit("3\r\n\n"));
    assert_eq!(&t3[6..7], raw_lit("\r\n"));
    assert_eq!(&t3[6..8], raw_lit("\r\n\n"));
    assert_eq!(&t3[7..8], raw_lit("\n\n"));

    let from = lit("From: User1 <user1@domain.org>\n\n\n");
    assert_eq!(body(&m[0], "header.fields (from)"), from);
    assert_eq!(body(&m[0], "header.fields (from from)"), from);
    assert_eq!(body(&m[0], "header.fields (FROM)"), from);
    assert_eq!(
        body(&m[0], "header.fields (from subject)"),
        lit("From: User1 <user1@domain.org>\nSubject: s1\n\n\n")
    );
    // The script's `!` lines: the date must not be there.
    let not_date = lit("From: User1 <user1@domain.org>\nSubject: s1\n\n\n");
    assert_eq!(body(&m[0], "header.fields.not (date)"), not_date);
    assert_eq!(body(&m[0], "header.fields.not (date date)"), not_date);
    assert_eq!(body(&m[0], "header.fields (xyz)"), lit("\n\n"));
}

const MIME_MESSAGE: &str = "From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary=\"foo
 bar\"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii

hello

--foo bar
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/alternative; boundary=\"sub1\"

Sub MIME prologue
--sub1
Content-Type: text/html

<p>Hello world</p>

--sub1
Content-Type: text/plain

Hello another world

--sub1--
Sub MIME epilogue

--foo bar--
Root MIME epilogue

";

const SUB_MESSAGE: &str = "From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/alternative; boundary=\"sub1\"

Sub MIME prologue
--sub1
Content-Type: text/html

<p>Hello world</p>

--sub1
Content-Type: text/plain

Hello another world

--sub1--
Sub MIME epilogue

";

const SUB_TEXT: &str = "Sub MIME prologue
--sub1
Content-Type: text/html

<p>Hello world</p>

--sub1
Content-Type: text/plain

Hello another world

--sub1--
Sub MIME epilogue

";

#[test]
fn fetch_body_mime() {
    let m = &mbox("fetch-body-mime")[0];
    assert_eq!(body(m, ""), lit(MIME_MESSAGE));
    let text = MIME_MESSAGE.split_once("\n\n").unwrap().1;
    assert_eq!(body(m, "text"), lit(text));
    assert_eq!(body(m, "1"), lit("hello\n\n"));
    assert_eq!(
        body(m, "1.mime"),
        lit("Content-Type: text/x-myown; charset=us-ascii\n\n\n")
    );
    assert_eq!(body(m, "2"), lit(SUB_MESSAGE));
    assert_eq!(body(m, "2.mime"), lit("Content-Type: message/rfc822\n\n\n"));
    assert_eq!(
        body(m, "2.header"),
        lit("From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\nContent-Type: multipart/alternative; boundary=\"sub1\"\n\n\n")
    );
    assert_eq!(
        body(m, "2.header.fields (from subject X-foo)"),
        lit("From: sub@domain.org\nSubject: submsg\n\n\n")
    );
    assert_eq!(
        body(m, "2.header.fields.not (from subject X-foo)"),
        lit("Date: Sun, 12 Aug 2012 12:34:56 +0300\nContent-Type: multipart/alternative; boundary=\"sub1\"\n\n\n")
    );
    assert_eq!(body(m, "2.text"), lit(SUB_TEXT));
    assert_eq!(body(m, "2.1.mime"), lit("Content-Type: text/html\n\n\n"));
    assert_eq!(body(m, "2.1"), lit("<p>Hello world</p>\n\n"));
    assert_eq!(body(m, "2.2.mime"), lit("Content-Type: text/plain\n\n\n"));
    assert_eq!(body(m, "2.2"), lit("Hello another world\n\n"));
    // Parts that do not exist.
    for spec in [
        "3",
        "0",
        "1.1",
        "2.3",
        "2.1.1",
        "1.header",
        "1.text",
        "2.1.header",
    ] {
        assert_eq!(section(m, &sec(spec)), None, "{spec}");
    }
}

#[test]
fn fetch_body_message_rfc822() {
    let m = &mbox("fetch-body-message-rfc822")[0];
    let inner = "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n\n";
    assert_eq!(
        body(m, ""),
        lit(&format!("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n{inner}"))
    );
    assert_eq!(body(m, "text"), lit(inner));
    assert_eq!(body(m, "1"), lit(inner));
    assert_eq!(body(m, "1.1"), lit("Hello world\n\n"));
    assert_eq!(
        body(m, "1.header"),
        lit("From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\n\n")
    );
    assert_eq!(
        body(m, "1.header.fields (from subject X-foo)"),
        lit("From: sub@domain.org\nSubject: submsg\n\n\n")
    );
    assert_eq!(
        body(m, "1.header.fields.not (from subject X-foo)"),
        lit("Date: Sun, 12 Aug 2012 12:34:56 +0300\n\n\n")
    );
    assert_eq!(body(m, "1.text"), lit("Hello world\n\n"));
    assert_eq!(section(m, &sec("2")), None);
    assert_eq!(section(m, &sec("1.1.1")), None);
    // The structure: a message inside a message.
    same_ci(
        &summarize(m).bodystructure,
        r#"("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 93 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 13 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL)"#,
    );
}

const DIGEST_TEXT: &str = "prologue

--foo 

From: m1@example.com
Subject: m1

m1 body

--foo 
X-Mime: m2 header

From: m2@example.com
Subject: m2

m2 body

--foo--

epilogue

";

#[test]
fn fetch_body_message_rfc822_mime() {
    let m = &mbox("fetch-body-message-rfc822-mime")[0];
    let sub_header = "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\nContent-Type: multipart/digest; boundary=\"foo\"\n\n";
    let sub = format!("{sub_header}{DIGEST_TEXT}");
    assert_eq!(
        body(m, ""),
        lit(&format!("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n{sub}"))
    );
    assert_eq!(body(m, "text"), lit(&sub));
    assert_eq!(body(m, "1"), lit(&sub));
    assert_eq!(body(m, "1.header"), lit(&format!("{sub_header}\n")));
    assert_eq!(body(m, "1.text"), lit(DIGEST_TEXT));
    // multipart/digest: parts are messages by default (RFC 2046 §5.1.5).
    assert_eq!(
        body(m, "1.1"),
        lit("From: m1@example.com\nSubject: m1\n\nm1 body\n\n")
    );
    assert_eq!(body(m, "1.1.MIME"), lit("\n\n"));
    assert_eq!(
        body(m, "1.1.HEADER"),
        lit("From: m1@example.com\nSubject: m1\n\n\n")
    );
    assert_eq!(body(m, "1.1.TEXT"), lit("m1 body\n\n"));
    assert_eq!(
        body(m, "1.2"),
        lit("From: m2@example.com\nSubject: m2\n\nm2 body\n\n")
    );
    assert_eq!(body(m, "1.2.MIME"), lit("X-Mime: m2 header\n\n\n"));
    assert_eq!(
        body(m, "1.2.HEADER"),
        lit("From: m2@example.com\nSubject: m2\n\n\n")
    );
    assert_eq!(body(m, "1.2.TEXT"), lit("m2 body\n\n"));
}

#[test]
fn fetch_body_message_rfc822_x2() {
    let m = &mbox("fetch-body-message-rfc822-x2")[0];
    let inner = "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n\n";
    let middle_header = "From: user2@domain.org\nDate: Fri, 23 Mar 2007 11:22:33 +0200\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n";
    let middle = format!("{middle_header}{inner}");
    assert_eq!(
        body(m, ""),
        lit(&format!("From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n{middle}"))
    );
    assert_eq!(body(m, "text"), lit(&middle));
    assert_eq!(body(m, "1"), lit(&middle));
    assert_eq!(body(m, "1.1"), lit(inner));
    assert_eq!(body(m, "1.header"), lit(&format!("{middle_header}\n")));
    assert_eq!(body(m, "1.text"), lit(inner));
    assert_eq!(body(m, "1.1.1"), lit("Hello world\n\n"));
    assert_eq!(
        body(m, "1.1.header"),
        lit("From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\n\n")
    );
    assert_eq!(body(m, "1.1.text"), lit("Hello world\n\n"));
}

#[test]
fn fetch_binary_mime() {
    let m = &mbox("fetch-binary-mime")[0];
    let whole = binary(m, &[]).unwrap();
    assert_eq!(whole, lit(MIME_MESSAGE));
    assert_eq!(whole.len(), 602);
    assert_eq!(binary(m, &[1]).unwrap(), lit("hello\n\n"));
    assert_eq!(binary(m, &[1]).unwrap().len(), 7);
    assert_eq!(binary(m, &[2]).unwrap(), lit(SUB_MESSAGE));
    assert_eq!(binary(m, &[2]).unwrap().len(), 298);
    assert_eq!(binary(m, &[2, 1]).unwrap(), lit("<p>Hello world</p>\n\n"));
    assert_eq!(binary(m, &[2, 1]).unwrap().len(), 20);
    assert_eq!(binary(m, &[2, 2]).unwrap(), lit("Hello another world\n\n"));
    assert_eq!(binary(m, &[2, 2]).unwrap().len(), 21);
    assert_eq!(binary(m, &[3]), Err(BinaryError::NoPart));
}

#[test]
fn fetch_binary_mime_base64() {
    let m = &mbox("fetch-binary-mime-base64")[0];
    let b = |n| binary(m, &[n]).unwrap();
    assert_eq!(b(1), lit("hello world\n"));
    assert_eq!(b(2), lit("hello world\n"));
    assert_eq!(b(3), lit("hello to you too\n"));
    assert_eq!(b(4), lit("hello to everyone!\n"));
    assert_eq!(b(5), raw_lit("abcdefg\rhijkl\r\nmno\npqrstuvqxyz\n"));
    assert_eq!(
        [b(1).len(), b(2).len(), b(3).len(), b(4).len(), b(5).len()],
        [11, 11, 16, 18, 30]
    );
    // The partial fetches (the server cuts them).
    assert_eq!(&b(5)[0..7], raw_lit("abcdefg\n"));
    assert_eq!(&b(5)[0..8], raw_lit("abcdefg\r\n"));
    assert_eq!(&b(5)[0..10], raw_lit("abcdefg\rhi\n"));
    assert_eq!(&b(5)[10..20], raw_lit("jkl\r\nmno\np\n"));
    assert_eq!(&b(5)[5..15], raw_lit("fg\rhijkl\r\n\n"));
    assert_eq!(&b(5)[15..], raw_lit("mno\npqrstuvqxyz\n"));
}

#[test]
fn fetch_binary_mime_qp() {
    let m = &mbox("fetch-binary-mime-qp")[0];
    let d = binary(m, &[1]).unwrap();
    assert_eq!(
        d,
        lit("hello\nbar\nfoo\tbar\nfoo\t \tb\nfoo bar\nfoo b\nfoo\nbar\nfoo_bar\n\n")
    );
    assert_eq!(d.len(), 65);
    assert_eq!(&d[0..10], lit("hello\nbar\n"));
    assert_eq!(&d[10..20], raw_lit("\r\nfoo\tbar\r\n"));
    assert_eq!(&d[20..30], raw_lit("\nfoo\t \tb\r\n\n"));
    assert_eq!(&d[15..25], raw_lit("\tbar\r\nfoo\t\n"));
    assert_eq!(&d[40..], lit("oo b\nfoo\nbar\nfoo_bar\n\n"));
}

#[test]
fn binary_unknown_encoding() {
    let m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n";
    assert_eq!(binary(m, &[1]), Err(BinaryError::UnknownCte));
    assert_eq!(binary(m, &[2]), Err(BinaryError::NoPart));
}
