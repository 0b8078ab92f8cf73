"""Bare LF in message data (smtp.bare_lf): normalised to CRLF by default,
refused with "reject"; whichever, only <CRLF>.<CRLF> ends the data, so no
smuggled transaction ever runs, and a bare CR is always refused."""

from email.message import EmailMessage

import pytest

from helpers import pop_messages, raw, recv_reply, recv_until_closed, submit, wait_for

REJECT = '[smtp]\nbare_lf = "reject"\n'


def pop_raw(port, user, n=1, password="secret-pw"):
    """Message n exactly as the server sends it (poplib would hide the
    line ends), dot-stuffing undone."""
    s = raw(port)
    buf = b""

    def until(marker):
        nonlocal buf
        while marker not in buf:
            chunk = s.recv(65536)
            assert chunk, buf
            buf += chunk
        head, _, buf = buf.partition(marker)
        return head

    until(b"\r\n")
    s.sendall(f"USER {user}\r\nPASS {password}\r\nRETR {n}\r\n".encode())
    until(b"\r\n")
    assert until(b"\r\n").startswith(b"+OK")
    assert until(b"\r\n").startswith(b"+OK")
    body = until(b"\r\n.\r\n") + b"\r\n"
    s.sendall(b"QUIT\r\n")
    s.close()
    return body.replace(b"\r\n..", b"\r\n.")


def lf_message(subject):
    m = EmailMessage()
    m["From"] = "alice@example.test"
    m["To"] = "bob@example.test"
    m["Subject"] = subject
    m.set_content("first line\n.a line starting with a dot\nlast line\n")
    data = m.as_bytes()
    assert b"\r\n" not in data and data.count(b"\n") > 5  # "\n" only, as email writes it
    return data


def assert_crlf_only(msg):
    assert msg.count(b"\n") == msg.count(b"\r\n"), msg
    assert msg.count(b"\r") == msg.count(b"\r\n"), msg


def test_python_sendmail_with_lf_line_ends_delivers(server):
    import smtplib

    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.sendmail("someone@remote.test", ["bob@example.test"], lf_message("via port 25"))
    with submit(server, "alice@example.test") as s:
        s.sendmail("alice@example.test", ["bob@example.test"], lf_message("via submission"))
    for n, subject in [(1, b"via port 25"), (2, b"via submission")]:
        m = pop_raw(server.ports["pop3"], "bob@example.test", n)
        assert_crlf_only(m)
        assert b"Subject: " + subject + b"\r\n" in m
        assert b"\r\n.a line starting with a dot\r\nlast line\r\n" in m, m
    # The provider can see who sends bare LFs.
    assert wait_for(lambda: "bare LF line ends stored as CRLF" in server.read_log())


def test_python_sendmail_with_lf_refused_when_rejecting(make_server):
    import smtplib

    server = make_server(REJECT)
    server.setup_domain()
    with pytest.raises(smtplib.SMTPException) as e:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
            s.sendmail("someone@remote.test", ["bob@example.test"], lf_message("x"))
    assert "5.6.0" in str(e.value), e.value
    assert pop_messages(server.ports["pop3"], "bob@example.test") == []


def open_data(server):
    s = raw(server.ports["smtp"])
    assert recv_reply(s).startswith("220")
    s.sendall(b"EHLO c.test\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    got = b""
    while got.count(b"\r\n") < 3 + 8:  # EHLO's lines, MAIL, RCPT, 354
        got += s.recv(4096)
        if b"354 " in got:
            break
    assert b"354 " in got, got
    return s


# Each form would end the message early for a lenient server, which would
# then run the smuggled MAIL/RCPT/DATA that follows (to bob).
SMUGGLED = b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n"
FORMS = {
    "lf-dot-lf": b"Subject: a\r\n\r\nhello\n.\n",
    "crlf-dot-lf": b"Subject: a\r\n\r\nhello\r\n.\n",
    "lf-dot-crlf": b"Subject: a\r\n\r\nhello\n.\r\n",
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("mode", ["normalize", "reject"])
def test_smuggling_form_ends_nothing(make_server, mode, form):
    server = make_server(REJECT if mode == "reject" else "")
    server.setup_domain()
    s = open_data(server)
    s.sendall(FORMS[form] + SMUGGLED + b".\r\nQUIT\r\n")
    r = recv_until_closed(s, timeout=30)
    if mode == "reject":
        assert r.startswith("554 5.6.0 bare CR or LF"), r
        assert "250" not in r
        assert pop_messages(server.ports["pop3"], "alice@example.test") == []
    else:
        # One message, to alice, holding the would-be commands as text.
        assert r.startswith("250 "), r
        # Reply codes at line starts: a queue id may contain "354".
        codes = [line[:4] for line in r.splitlines()]
        assert codes.count("250 ") == 1 and "354 " not in codes and "221 " in codes, r
        (m,) = pop_messages(server.ports["pop3"], "alice@example.test")
        assert b"\r\nMAIL FROM:<evil@remote.test>\r\n" in m and b"smuggled" in m
        assert_crlf_only(pop_raw(server.ports["pop3"], "alice@example.test"))
    assert pop_messages(server.ports["pop3"], "bob@example.test") == []


@pytest.mark.parametrize("mode", ["normalize", "reject"])
def test_bare_cr_refused(make_server, mode):
    server = make_server(REJECT if mode == "reject" else "")
    server.setup_domain()
    for payload in [b"Subject: a\r\n\r\nbare\rCR\r\n.\r\n", b"Subject: a\r\n\r\nx\r\n.\r.\r\n"]:
        s = open_data(server)
        s.sendall(payload)
        r = recv_until_closed(s)
        assert r.startswith("554 5.6.0 bare CR"), r
    assert pop_messages(server.ports["pop3"], "alice@example.test") == []
