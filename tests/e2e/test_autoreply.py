"""The autoresponder (R-IN-5, RFC 3834): a reply from the null sender with
Auto-Submitted and In-Reply-To, at most once per sender per interval
(policy.autoreply_interval, short here), never to bulk, list,
auto-submitted or spam-flagged mail nor to mail that is not addressed to
the mailbox; set, shown and cleared from the CLI with an optional date
range."""

import email
import email.policy
import smtplib
import time

from helpers import pop_messages, wait_for

PW = "secret-pw"
A = "alice@example.test"


def config(sink):
    return '[policy]\nautoreply_interval = "3s"\n' + sink.route + 'poll = "100ms"\n'


def settle():
    # A running server sees an admin command's effect within a second
    # (SPEC, interface contract).
    time.sleep(1.1)


def smtp(srv):
    return smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20)


def incoming(sender, subject="Hello", mid="<m1@remote.test>", to=A, extra=()):
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: {mid}", *extra]
    return ("\r\n".join(head) + "\r\n\r\nhello there\r\n").encode()


def deliver(srv, sender, m, rcpt=A):
    with smtp(srv) as s:
        assert s.sendmail(sender, [rcpt], m) == {}


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def text_of(m):
    return "\n".join(p.get_content() for p in m.walk() if p.get_content_maintype() == "text")


def queue_empty(srv):
    return srv.cli("queue", "list").stdout.strip() == ""


def replied_to(sink):
    return sorted(r for _, rcpts, _ in sink.messages() for r in rcpts)


def test_reply_once_per_interval(make_server, sink):
    srv = make_server(config(sink), start=False)
    srv.setup_domain()
    srv.cli("autoreply", "set", A, "--subject", "Away", "--body", "I am away")
    srv.start()
    deliver(srv, "x@remote.test", incoming("x@remote.test", mid="<m1@remote.test>"))
    got = sink.wait(1)
    seen = time.time()
    assert len(got) == 1, got
    mail_from, rcpts, data = got[0]
    assert mail_from in ("", "<>"), mail_from
    assert rcpts == ["x@remote.test"]
    m = parse(data)
    assert m["Auto-Submitted"].startswith("auto-replied"), m["Auto-Submitted"]
    assert m["In-Reply-To"] == "<m1@remote.test>", m["In-Reply-To"]
    assert m["Subject"] == "Away"
    assert "alice@example.test" in m["From"] and "x@remote.test" in m["To"]
    assert "I am away" in text_of(m)
    # the message itself was delivered
    assert len(pop_messages(srv.ports["pop3"], A)) == 1
    # within the interval: no second reply to the same sender
    deliver(srv, "x@remote.test", incoming("x@remote.test", mid="<m2@remote.test>"))
    time.sleep(1)
    assert len(sink.messages()) == 1, sink.messages()
    # after it: another
    time.sleep(max(0.0, seen + 3.3 - time.time()))
    deliver(srv, "x@remote.test", incoming("x@remote.test", mid="<m3@remote.test>"))
    got = sink.wait(2)
    assert len(got) == 2, got
    assert parse(got[1][2])["In-Reply-To"] == "<m3@remote.test>"


def test_default_subject(make_server, sink):
    srv = make_server(config(sink), start=False)
    srv.setup_domain()
    srv.cli("autoreply", "set", A, "--body", "Back on Monday")
    srv.start()
    deliver(srv, "x@remote.test", incoming("x@remote.test", subject="Quarterly figures"))
    got = sink.wait(1)
    assert len(got) == 1, got
    m = parse(got[0][2])
    assert m["Subject"] == "Re: Quarterly figures", m["Subject"]
    assert "Back on Monday" in text_of(m)


def test_no_reply_to_bulk_lists_robots_or_spam(make_server, sink):
    srv = make_server(config(sink), start=False)
    srv.setup_domain()
    srv.cli("autoreply", "set", A, "--subject", "Away", "--body", "I am away")
    srv.start()
    # each from a sender of its own, so that the interval hides nothing
    cases = [
        ("", incoming("n0@remote.test")),  # null sender: a bounce
        ("n1@remote.test", incoming("n1@remote.test", extra=["Auto-Submitted: auto-generated"])),
        ("n2@remote.test", incoming("n2@remote.test", extra=["Auto-Submitted: auto-replied"])),
        ("n3@remote.test", incoming("n3@remote.test", extra=["Precedence: bulk"])),
        ("n4@remote.test", incoming("n4@remote.test", extra=["Precedence: list"])),
        ("n5@remote.test", incoming("n5@remote.test", extra=["Precedence: junk"])),
        ("n6@remote.test", incoming("n6@remote.test", extra=["List-Id: Some list <some.list.remote.test>"])),
        ("MAILER-DAEMON@remote.test", incoming("MAILER-DAEMON@remote.test")),
        ("owner-x@remote.test", incoming("owner-x@remote.test")),
        ("x-request@remote.test", incoming("x-request@remote.test")),
        ("n7@remote.test", incoming("n7@remote.test", to="someone-else@example.test")),  # alice only in the envelope
        ("n8@remote.test", incoming("n8@remote.test", extra=["X-Spam-Flag: YES"])),
    ]
    with smtp(srv) as s:
        for sender, m in cases:
            assert s.sendmail(sender, [A], m) == {}, sender
        # addressed to alice in To (with a display name) and in Cc only
        s.sendmail("last1@remote.test", [A], incoming("last1@remote.test", to="Alice <alice@example.test>"))
        s.sendmail("last2@remote.test", [A], incoming("last2@remote.test", to="other@remote.test",
                                                      extra=["Cc: Alice <alice@example.test>"]))
    assert wait_for(lambda: len(sink.messages()) >= 2, timeout=20)
    assert wait_for(lambda: queue_empty(srv))
    assert replied_to(sink) == ["last1@remote.test", "last2@remote.test"], sink.messages()


def test_bad_input_show_and_clear(make_server, sink):
    srv = make_server(config(sink), start=False)
    srv.setup_domain()
    for args in [
        ["--subject", "Big", "--body", "x" * 70000],  # over 64 KB
        ["--subject", "S", "--body", "b", "--from", "2026-02-01", "--until", "2026-01-01"],
        ["--subject", "S", "--body", "b", "--from", "someday"],
        ["--subject", "S", "--body", "b", "--until", "2026-13-01"],
    ]:
        r = srv.cli("autoreply", "set", A, *args, check=False)
        assert r.returncode != 0 and r.stderr.strip(), args[:3]
        assert "panicked" not in r.stderr
    r = srv.cli("autoreply", "set", "nobody@example.test", "--subject", "S", "--body", "b", check=False)
    assert r.returncode != 0 and r.stderr.strip()
    assert "Big" not in srv.cli("autoreply", "show", A, check=False).stdout, "nothing half-written"
    srv.cli("autoreply", "set", A, "--subject", "Gone fishing", "--body", "Back soon\nwith fish")
    srv.cli("autoreply", "set", "bob@example.test", "--subject", "Bob away", "--body", "b")
    out = srv.cli("autoreply", "show", A).stdout
    assert "Gone fishing" in out and "Back soon" in out, out
    srv.start()
    deliver(srv, "x@remote.test", incoming("x@remote.test"))
    assert len(sink.wait(1)) == 1
    srv.cli("autoreply", "clear", A)
    assert "Gone fishing" not in srv.cli("autoreply", "show", A, check=False).stdout
    settle()
    deliver(srv, "y@remote.test", incoming("y@remote.test"))
    # bob's reply comes after alice's would have
    deliver(srv, "z@remote.test", incoming("z@remote.test", to="bob@example.test"), rcpt="bob@example.test")
    assert wait_for(lambda: len(sink.messages()) >= 2, timeout=20)
    assert wait_for(lambda: queue_empty(srv))
    assert replied_to(sink) == ["x@remote.test", "z@remote.test"], sink.messages()


def test_date_range(make_server, sink):
    srv = make_server(config(sink), start=False)
    srv.setup_domain(users=("alice", "bob", "carol", "dave"))
    srv.cli("autoreply", "set", "alice@example.test", "--subject", "Past", "--body", "b",
            "--from", "2020-01-01", "--until", "2020-01-02")
    srv.cli("autoreply", "set", "bob@example.test", "--subject", "Future", "--body", "b",
            "--from", "2099-01-01")
    srv.cli("autoreply", "set", "carol@example.test", "--subject", "Now", "--body", "b",
            "--from", "2020-01-01", "--until", "2099-12-31T00:00:00+00:00")
    srv.cli("autoreply", "set", "dave@example.test", "--subject", "Open", "--body", "b",
            "--from", "2020-01-01T00:00:00+00:00")
    srv.start()
    for n, who in enumerate(["alice", "bob", "carol", "dave"]):
        rcpt = f"{who}@example.test"
        deliver(srv, f"s{n}@remote.test", incoming(f"s{n}@remote.test", to=rcpt), rcpt=rcpt)
    assert wait_for(lambda: len(sink.messages()) >= 2, timeout=20)
    assert wait_for(lambda: queue_empty(srv))
    assert replied_to(sink) == ["s2@remote.test", "s3@remote.test"], sink.messages()
    subjects = sorted(parse(d)["Subject"] for _, _, d in sink.messages())
    assert subjects == ["Now", "Open"]


def test_body_that_is_not_utf8_is_refused(server):
    """Bytes that are not UTF-8 on the command line: a clear error, and no
    autoresponder set."""
    import subprocess
    from conftest import BIN

    r = subprocess.run([BIN, "--config", str(server.config), "autoreply", "set", A, "--body", b"caf\xe9 ferm\xe9"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and r.stderr.strip(), r
    assert b"utf-8" in r.stderr.lower() or b"utf8" in r.stderr.lower(), r.stderr
    assert "no autoreply" in server.cli("autoreply", "show", A).stdout
