"""SMTP on port 25 (MX role) with Python's smtplib and raw sockets."""

import smtplib
import ssl

import pytest

from helpers import pop_messages, raw, recv_reply, recv_until_closed


def smtp(server):
    return smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)


def test_ehlo_advertises_extensions(server):
    with smtp(server) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        for ext in ["pipelining", "8bitmime", "smtputf8", "size", "enhancedstatuscodes", "starttls"]:
            assert s.has_extn(ext), ext
        assert int(s.esmtp_features["size"]) == 25 * 1024 * 1024
        assert not s.has_extn("auth"), "port 25 offers no AUTH (R-OUT-3)"


def test_deliver_and_retrieve(server):
    msg = b"From: x@remote.test\r\nTo: alice@example.test\r\nSubject: hello\r\n\r\nline one\r\n.leading dot\r\n"
    with smtp(server) as s:
        refused = s.sendmail("x@remote.test", ["alice@example.test"], msg)
        assert refused == {}
    msgs = pop_messages(server.ports["pop3"], "alice@example.test")
    assert len(msgs) == 1
    m = msgs[0]
    assert m.startswith(b"Return-Path: <x@remote.test>\r\nDelivered-To: alice@example.test\r\n"
                        b"X-Virus-Scanned: mx.test.example (mailhost builtin")
    assert b"); clean\r\nAuthentication-Results: mx.test.example;" in m
    assert b"\r\nReceived: from " in m
    assert b"by mx.test.example (mailhost) with ESMTP id" in m
    assert m.endswith(msg), m


def test_multiple_recipients_and_alias(server):
    server.cli("alias", "add", "team@example.test", "alice@example.test", "bob@example.test")
    with smtp(server) as s:
        s.sendmail("x@remote.test", ["team@example.test", "alice@example.test"], b"Subject: t\r\n\r\nbody\r\n")
    a = pop_messages(server.ports["pop3"], "alice@example.test")
    b = pop_messages(server.ports["pop3"], "bob@example.test")
    # alice is reached twice (directly and through the alias): one copy.
    assert len(a) == 1 and len(b) == 1
    assert b"Delivered-To: bob@example.test" in b[0]


def test_unknown_user_and_relay_denied(server):
    with smtp(server) as s:
        s.ehlo("c.test")
        s.mail("x@remote.test")
        code, text = s.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1") and b"R-ADDR-6" in text
        code, text = s.rcpt("victim@elsewhere.test")
        assert code == 554 and text.startswith(b"5.7.1") and b"R-IN-1" in text
        code, _ = s.rcpt("alice@example.test")
        assert code == 250


def test_suspended_mailbox_refused(server):
    server.cli("user", "suspend", "bob@example.test")
    with smtp(server) as s:
        s.ehlo("c.test")
        s.mail("x@remote.test")
        code, text = s.rcpt("bob@example.test")
        assert code == 550 and b"R-ADDR-3" in text
    server.cli("user", "resume", "bob@example.test")
    with smtp(server) as s:
        s.ehlo("c.test")
        s.mail("x@remote.test")
        assert s.rcpt("bob@example.test")[0] == 250


def test_too_many_recipients(make_server):
    srv = make_server("[policy]\nmax_recipients = 3\n")
    srv.setup_domain(users=["u1", "u2", "u3", "u4"])
    with smtp(srv) as s:
        s.ehlo("c.test")
        s.mail("x@remote.test")
        for i in range(1, 4):
            assert s.rcpt(f"u{i}@example.test")[0] == 250
        code, text = s.rcpt("u4@example.test")
        assert code == 452 and text.startswith(b"4.5.3") and b"R-OUT-5" in text


def test_size_limit(make_server):
    srv = make_server('[server]\nmax_message_size = "10KB"\n')
    srv.setup_domain()
    with smtp(srv) as s:
        s.ehlo("c.test")
        assert int(s.esmtp_features["size"]) == 10240
        code, text = s.mail("x@remote.test", ["SIZE=20000"])
        assert code == 552 and b"R-IN-2" in text
    with smtp(srv) as s:
        # no SIZE declared: the limit is enforced on the data itself
        s.ehlo("c.test")
        assert s.mail("x@remote.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, text = s.data(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 20)
        assert code == 552 and text.startswith(b"5.3.4") and b"R-IN-2" in text
        # the session goes on after a refused message
        s.sendmail("x@remote.test", ["alice@example.test"], b"Subject: small\r\n\r\nok\r\n")
    assert len(pop_messages(srv.ports["pop3"], "alice@example.test")) == 1


def test_starttls(server):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtp(server) as s:
        s.starttls(context=ctx)
        s.ehlo("c.test")
        assert not s.has_extn("starttls")
        s.sendmail("x@remote.test", ["alice@example.test"], b"Subject: tls\r\n\r\nsecret\r\n")
    m = pop_messages(server.ports["pop3"], "alice@example.test")[0]
    assert b"with ESMTPS id" in m


def test_commands_and_sequence_errors(server):
    s = raw(server.ports["smtp"])
    assert recv_reply(s).startswith("220 mx.test.example")
    for cmd, want in [
        (b"MAIL FROM:<a@b.test>\r\n", "503 5.5.1"),
        (b"HELO c.test\r\n", "250 "),
        (b"RCPT TO:<alice@example.test>\r\n", "503 5.5.1"),
        (b"DATA\r\n", "503 5.5.1"),
        (b"NOOP\r\n", "250 2.0.0"),
        (b"VRFY alice\r\n", "252 2.5.0"),
        (b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "503 5.5.1"),
        (b"FOOBAR\r\n", "500 5.5.1"),
        (b"MAIL FROM:<a@b.test>\r\n", "250 2.1.0"),
        (b"MAIL FROM:<a@b.test>\r\n", "503 5.5.1"),
        (b"RSET\r\n", "250 2.0.0"),
        (b"QUIT\r\n", "221 2.0.0"),
    ]:
        s.sendall(cmd)
        r = recv_reply(s)
        assert r.startswith(want), (cmd, r)
    s.close()


def test_pipelining(server):
    s = raw(server.ports["smtp"])
    recv_reply(s)
    s.sendall(b"EHLO c.test\r\n")
    recv_reply(s)
    s.sendall(
        b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
        b"RCPT TO:<bob@example.test>\r\nDATA\r\n"
    )
    got = b""
    while got.count(b"\r\n") < 5:
        got += s.recv(4096)
    lines = got.decode().split("\r\n")
    assert [l[:3] for l in lines[:5]] == ["250", "250", "550", "250", "354"]
    s.sendall(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    rest = recv_until_closed(s)
    assert rest.startswith("250 2.0.0") and "221 2.0.0" in rest
    assert len(pop_messages(server.ports["pop3"], "bob@example.test")) == 1


def test_smtputf8(server):
    with smtp(server) as s:
        s.ehlo("c.test")
        code, _ = s.mail("jöran@remote.test", ["SMTPUTF8", "BODY=8BITMIME"])
        assert code == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, _ = s.data("Subject: ünïcödé\r\n\r\n8-bit body: ✓\r\n".encode())
        assert code == 250
    m = pop_messages(server.ports["pop3"], "alice@example.test")[0]
    assert "8-bit body: ✓".encode() in m
    s = raw(server.ports["smtp"])
    recv_reply(s)
    s.sendall(b"EHLO c.test\r\n")
    recv_reply(s)
    s.sendall("MAIL FROM:<jöran@remote.test>\r\n".encode())
    assert recv_reply(s).startswith("553 5.6.7")
    s.close()
