"""Authenticated submission (R-OUT-1..4): ports 587 and 465, AUTH only
over TLS, POP-before-SMTP, sender identity, local and queued delivery."""

import base64
import poplib
import smtplib
import time

import pytest

from helpers import pop_messages, raw, recv_lines, recv_reply, tls_ctx, wait_for

PW = "secret-pw"


def submit(server, user="alice@example.test", password=PW):
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10)
    s.starttls(context=tls_ctx())
    s.login(user, password)
    return s


def test_auth_only_after_starttls(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.ehlo("c.test")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.test\0" + PW.encode()).decode())
        assert code == 538 and text.startswith(b"5.7.11")
        code, text = s.mail("alice@example.test")
        assert code == 530 and b"R-OUT-2" in text and b"AUTH" in text
        s.starttls(context=tls_ctx())
        s.ehlo("c.test")
        assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
        s.login("alice%example.test", PW)


def test_port_25_offers_no_auth(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.starttls(context=tls_ctx())
        s.ehlo("c.test")
        assert not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.test\0" + PW.encode()).decode())
        assert code == 503 and b"R-OUT-3" in text


def test_wrong_password_and_unknown_account_look_the_same(server):
    replies = []
    for user, pw in [("alice@example.test", "wrong"), ("nobody@example.test", PW), ("garbage", PW)]:
        with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
            s.starttls(context=tls_ctx())
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                s.login(user, pw)
            replies.append((e.value.smtp_code, e.value.smtp_error))
    assert len(set(replies)) == 1 and replies[0][0] == 535, replies


def test_auth_login_and_malformed(server):
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10)
    s.starttls(context=tls_ctx())
    s.ehlo("c")
    assert s.docmd("AUTH", "PLAIN !!!not-base64")[0] == 501
    assert s.docmd("AUTH", "CRAM-MD5")[0] == 504
    code, _ = s.docmd("AUTH", "LOGIN")
    assert code == 334
    assert s.docmd(base64.b64encode(b"bob@example.test").decode())[0] == 334
    assert s.docmd(base64.b64encode(PW.encode()).decode())[0] == 235
    s.quit()


def test_submit_local_and_identity(server):
    server.cli("alias", "add", "sales@example.test", "alice@example.test")
    with submit(server) as s:
        s.sendmail("alice@example.test", ["bob@example.test"], b"From: alice@example.test\r\nSubject: hi bob\r\n\r\nhello\r\n")
        # an alias of the account is one of its identities
        s.sendmail("sales@example.test", ["bob@example.test"], b"From: Sales <sales@example.test>\r\nSubject: offer\r\n\r\nx\r\n")
        code, text = s.mail("bob@example.test")
        assert code == 550 and text.startswith(b"5.7.1") and b"R-OUT-4" in text
        s.rset()
        for bad in [b"From: ceo@bank.example\r\nSubject: forged\r\n\r\nx\r\n", b"Subject: no from\r\n\r\nx\r\n",
                    b"From: alice@example.test\r\nSender: bob@example.test\r\n\r\nx\r\n"]:
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("alice@example.test", ["bob@example.test"], bad)
            assert e.value.smtp_code == 550 and b"R-OUT-4" in e.value.smtp_error
    msgs = pop_messages(server.ports["pop3"], "bob@example.test")
    assert len(msgs) == 2
    m = msgs[0]
    assert b"with ESMTPSA" in m and b"(authenticated as alice@example.test by AUTH)" in m
    assert b"([127.0.0.1])" in m
    # RFC 6409 section 8: missing Date and Message-ID were added
    assert b"\r\nDate: " in m and b"\r\nMessage-ID: <" in m


def test_implicit_tls_465(server):
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=10, context=tls_ctx()) as s:
        s.login("bob@example.test", PW)
        s.sendmail("bob@example.test", ["alice@example.test"],
                   b"From: bob@example.test\r\nDate: Sun, 22 Nov 2026 17:07:41 +0000\r\nMessage-ID: <x@y>\r\n\r\nover 465\r\n")
    m = pop_messages(server.ports["pop3"], "alice@example.test")[0]
    assert b"over 465" in m and m.count(b"\r\nMessage-ID:") == 1


def test_remote_recipient_is_queued(make_server):
    # remote.test's server is down (nothing listens on port 1): the message
    # stays queued for retry, and the local copy is delivered at once.
    server = make_server('[delivery]\nroutes = { "remote.test" = "127.0.0.1:1" }\nretry_base = "1h"\n')
    server.setup_domain()
    with submit(server) as s:
        s.sendmail("alice@example.test", ["someone@remote.test", "bob@example.test"],
                   b"From: alice@example.test\r\nSubject: out\r\n\r\nto the world\r\n")
    assert len(pop_messages(server.ports["pop3"], "bob@example.test")) == 1
    q = []
    assert wait_for(lambda: q.append(server.cli("queue", "list").stdout) or "\t1\talice@example.test" in q[-1])
    assert "alice@example.test\tsomeone@remote.test" in q[-1]


def test_pop_before_smtp(make_server):
    srv = make_server('[policy]\npop_before_smtp = "2s"\n')
    srv.setup_domain()
    # without a POP login: refused with advice
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=10) as s:
        s.ehlo("c")
        code, text = s.mail("alice@example.test")
        assert code == 530 and b"POP3" in text
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.user("alice@example.test")
    p.pass_(PW)
    p.quit()
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=10) as s:
        s.sendmail("alice@example.test", ["bob@example.test"], b"From: alice@example.test\r\n\r\nvia pop-before-smtp\r\n")
        # the grant is for that account only
        code, text = s.mail("bob@example.test")
        assert code == 550 and b"R-OUT-4" in text
    # another IP has no grant
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=10, source_address=("127.0.0.2", 0)) as s:
        s.ehlo("c")
        assert s.mail("alice@example.test")[0] == 530
    time.sleep(2.5)
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=10) as s:
        s.ehlo("c")
        assert s.mail("alice@example.test")[0] == 530, "the grant expired"
    m = pop_messages(srv.ports["pop3"], "bob@example.test")[0]
    assert b"by POP-before-SMTP" in m


def test_auth_brute_force_closes_session(server):
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10)
    s.starttls(context=tls_ctx())
    s.ehlo("c")
    tok = base64.b64encode(b"\0alice@example.test\0wrong").decode()
    codes = [s.docmd("AUTH", "PLAIN " + tok)[0] for _ in range(3)]
    assert codes == [535, 535, 535]
    assert s.getreply()[0] == 421, "then the session is closed"
