"""Forwarding set by the user (R-IN-4): to hosted and external addresses,
with or without a copy kept; external forwarding rewrites the envelope
sender with SRS (RFC 5321 §3.9 keeps the message itself intact), bounces
to the SRS address go back to the original sender and forged ones are
refused; the destination limit, loops and bad input."""

import re
import smtplib
import time

from helpers import pop_messages, submit, wait_for

PW = "secret-pw"
SRS = re.compile(r"^SRS0=[A-Za-z0-9+/]+=[A-Za-z0-9]{2}=origin\.test=sender@example\.test$", re.I)


def routes(sink, *domains):
    """[delivery] that sends each of `domains` to the sink, polled often."""
    hops = ", ".join(f'"{d}" = "127.0.0.1:{sink.port}"' for d in domains)
    return (f'[delivery]\nroutes = {{ {hops} }}\npoll = "100ms"\n'
            'retry_base = "300ms"\nretry_max = "1s"\n')


def settle():
    # A running server sees an admin command's effect within a second
    # (SPEC, interface contract).
    time.sleep(1.1)


def smtp(srv):
    return smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20)


def deliver(srv, rcpt, msg, sender="x@remote.test"):
    with smtp(srv) as s:
        assert s.sendmail(sender, [rcpt], msg) == {}


def msg(subject, sender="x@remote.test", to="alice@example.test"):
    return f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()


def count(srv, user):
    return len(pop_messages(srv.ports["pop3"], user))


def queue_empty(srv):
    return srv.cli("queue", "list").stdout.strip() == ""


def test_local_forward_with_and_without_a_copy(make_server):
    srv = make_server(start=False)
    srv.setup_domain(users=("alice", "bob", "carol", "dave"))
    srv.cli("forward", "set", "alice@example.test", "bob@example.test")
    srv.cli("forward", "set", "carol@example.test", "dave@example.test", "--keep-copy")
    srv.start()
    deliver(srv, "alice@example.test", msg("for alice"))
    deliver(srv, "carol@example.test", msg("for carol", to="carol@example.test"))
    assert wait_for(lambda: count(srv, "bob@example.test") == 1 and count(srv, "dave@example.test") == 1,
                    timeout=15, interval=0.2)
    assert b"Subject: for alice" in pop_messages(srv.ports["pop3"], "bob@example.test")[0]
    assert b"Subject: for carol" in pop_messages(srv.ports["pop3"], "dave@example.test")[0]
    # without --keep-copy nothing stays in the forwarding mailbox; with it, one copy
    assert pop_messages(srv.ports["pop3"], "alice@example.test") == []
    kept = pop_messages(srv.ports["pop3"], "carol@example.test")
    assert len(kept) == 1 and b"Subject: for carol" in kept[0]
    assert count(srv, "bob@example.test") == 1 and count(srv, "dave@example.test") == 1


def forward_one(srv, sink, original):
    """Sends `original` from sender@origin.test to alice (who forwards to
    carol@remote.test); returns what the sink got."""
    with smtp(srv) as s:
        assert s.sendmail("sender@origin.test", ["alice@example.test"], original) == {}
    got = sink.wait(1)
    assert len(got) == 1, got
    return got[0]


ORIGINAL = (b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=origin.test; s=sel;\r\n"
            b"\th=from:to:subject:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
            b"\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==\r\n"
            b"From: Sender <sender@origin.test>\r\n"
            b"To: alice@example.test\r\n"
            b"Subject: please pass this on\r\n"
            b"Message-ID: <fw1@origin.test>\r\n"
            b"X-Odd:   spaces   kept  \r\n"
            b"\r\n"
            b"first line\r\n"
            b"  indented   line with trailing space \r\n"
            b"\r\n"
            b".a line with a leading dot\r\n"
            b"last line\r\n")


def external(make_server, sink):
    srv = make_server(routes(sink, "remote.test", "origin.test"), start=False)
    srv.setup_domain()
    srv.cli("forward", "set", "alice@example.test", "carol@remote.test")
    srv.start()
    return srv


def test_external_forward_rewrites_the_sender_with_srs(make_server, sink):
    srv = external(make_server, sink)
    mail_from, rcpts, data = forward_one(srv, sink, ORIGINAL)
    assert rcpts == ["carol@remote.test"]
    assert SRS.match(mail_from), mail_from
    # Only whole header lines are put in front; the original headers
    # (the DKIM signature among them) and the body are byte for byte.
    assert data.endswith(ORIGINAL), data
    head = data[: len(data) - len(ORIGINAL)]
    assert head == b"" or head.endswith(b"\r\n"), head
    assert b"\r\n\r\n" not in head and not head.startswith(b"\r\n"), head
    assert pop_messages(srv.ports["pop3"], "alice@example.test") == []
    assert wait_for(lambda: queue_empty(srv))


def test_bounce_to_the_srs_address_reaches_the_original_sender(make_server, sink):
    srv = external(make_server, sink)
    srs, _, _ = forward_one(srv, sink, ORIGINAL)
    assert SRS.match(srs), srs
    bounce = (b"From: MAILER-DAEMON@remote.test\r\nTo: " + srs.encode() + b"\r\n"
              b"Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
              b"\r\ncarol@remote.test: mailbox full\r\n")
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("")[0] == 250
        code, text = s.rcpt(srs)
        assert code == 250, (code, text)
        code, text = s.data(bounce)
        assert code == 250, (code, text)
    got = sink.wait(2)
    assert len(got) == 2, got
    mail_from, rcpts, data = got[1]
    assert mail_from in ("", "<>"), mail_from
    assert rcpts == ["sender@origin.test"]
    assert data.endswith(bounce), data
    assert pop_messages(srv.ports["pop3"], "alice@example.test") == []


def test_forged_srs_address_is_refused(make_server, sink):
    srv = external(make_server, sink)
    srs, _, _ = forward_one(srv, sink, ORIGINAL)
    local, _, domain = srs.rpartition("@")
    parts = local.split("=")
    assert len(parts) == 5, srs
    h = parts[1]
    # A different character even if the hash is compared without case.
    c = "B" if h[0].upper() != "B" else "C"
    changed = "=".join([parts[0], c + h[1:]] + parts[2:]) + "@" + domain
    for forged in [changed, "SRS0=AAAA=AA=origin.test=sender@example.test",
                   "SRS0=" + h + "=" + parts[2] + "=elsewhere.test=sender@example.test"]:
        with smtp(srv) as s:
            s.ehlo("mx.remote.test")
            assert s.mail("")[0] == 250
            code, text = s.rcpt(forged)
            assert code == 550 and b"R-IN-4" in text, (forged, code, text)
    # the genuine one still works
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        s.mail("")
        assert s.rcpt(srs)[0] == 250


def test_forwarding_loop_is_refused(make_server, sink):
    srv = external(make_server, sink)
    looped = (b"Delivered-To: alice@example.test\r\nReceived: from somewhere\r\n"
              b"From: x@remote.test\r\nTo: alice@example.test\r\nSubject: round and round\r\n\r\nagain\r\n")
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, text = s.data(looped)
        assert code == 554 and b"5.4.6" in text, (code, text)
    # a message without the mark is forwarded; the looped one never was
    deliver(srv, "alice@example.test", msg("not a loop"))
    got = sink.wait(1)
    assert len(got) == 1 and b"Subject: not a loop" in got[0][2], got
    assert wait_for(lambda: queue_empty(srv))
    assert len(sink.messages()) == 1


def test_destination_limit_and_force(make_server):
    srv = make_server('[policy]\nmax_forwards = 2\n', start=False)
    srv.setup_domain(users=("alice", "bob", "carol"))
    dests = ["f1@remote.test", "f2@remote.test", "f3@remote.test"]
    r = srv.cli("forward", "set", "alice@example.test", *dests, check=False)
    assert r.returncode != 0 and re.search(r"\b2\b", r.stderr), r.stderr
    assert "panicked" not in r.stderr
    # nothing was written
    shown = srv.cli("forward", "show", "alice@example.test", check=False).stdout
    assert "f1@remote.test" not in shown, shown
    # more are allowed on request, with a warning
    r = srv.cli("forward", "set", "alice@example.test", *dests, "--force")
    assert "warning" in r.stderr.lower(), r.stderr
    shown = srv.cli("forward", "show", "alice@example.test").stdout
    assert all(d in shown for d in dests), shown
    # within the limit: no warning
    r = srv.cli("forward", "set", "bob@example.test", "f1@remote.test", "f2@remote.test")
    assert "warning" not in r.stderr.lower(), r.stderr
    # a hosting package's limit overrides the server's
    srv.cli("package", "set", "roomy", "--max-forwards", "4")
    srv.cli("user", "add", "dave@example.test", "--password", PW, "--package", "roomy")
    r = srv.cli("forward", "set", "dave@example.test", *dests)
    assert "warning" not in r.stderr.lower(), r.stderr


def test_bad_forwarding_is_refused(make_server):
    srv = make_server(start=False)
    srv.setup_domain(users=("alice", "bob", "carol"))
    for dests in [["alice@example.test"],  # itself
                  ["not an address"], ["a@b@c"], ["ü@remote.test"], ["@remote.test"], ["x@"],
                  ["ok@remote.test", "a@b@c"]]:
        r = srv.cli("forward", "set", "alice@example.test", *dests, check=False)
        assert r.returncode != 0 and r.stderr.strip(), dests
        assert "panicked" not in r.stderr, dests
    r = srv.cli("forward", "set", "nobody@example.test", "ok@remote.test", check=False)
    assert r.returncode != 0 and r.stderr.strip()
    shown = srv.cli("forward", "show", "alice@example.test", check=False).stdout
    assert "ok@remote.test" not in shown, "nothing half-written"
    # a cycle among hosted mailboxes
    srv.cli("forward", "set", "alice@example.test", "bob@example.test")
    r = srv.cli("forward", "set", "bob@example.test", "alice@example.test", check=False)
    assert r.returncode != 0 and r.stderr.strip(), "alice -> bob -> alice"
    srv.cli("forward", "set", "bob@example.test", "carol@example.test")
    r = srv.cli("forward", "set", "carol@example.test", "alice@example.test", check=False)
    assert r.returncode != 0 and r.stderr.strip(), "alice -> bob -> carol -> alice"


def test_show_and_clear(server):
    dests = ["bob@example.test", "carol@remote.test"]
    server.cli("forward", "set", "alice@example.test", *dests)
    out = server.cli("forward", "show", "alice@example.test").stdout
    assert "keep copy: no" in out.lower(), out
    lines = out.splitlines()
    for d in dests:
        assert sum(d in line for line in lines) == 1, out
    assert not any(all(d in line for d in dests) for line in lines), "one destination per line"
    server.cli("forward", "set", "alice@example.test", "bob@example.test", "--keep-copy")
    out = server.cli("forward", "show", "alice@example.test").stdout
    assert "keep copy: yes" in out.lower() and "carol@remote.test" not in out, out
    server.cli("forward", "set", "alice@example.test", "bob@example.test")
    settle()
    deliver(server, "alice@example.test", msg("forwarded"))
    assert wait_for(lambda: count(server, "bob@example.test") == 1, timeout=15, interval=0.2)
    assert count(server, "alice@example.test") == 0
    server.cli("forward", "clear", "alice@example.test")
    assert "bob@example.test" not in server.cli("forward", "show", "alice@example.test", check=False).stdout
    settle()
    deliver(server, "alice@example.test", msg("kept"))
    assert wait_for(lambda: count(server, "alice@example.test") == 1, timeout=15, interval=0.2)
    assert b"Subject: kept" in pop_messages(server.ports["pop3"], "alice@example.test")[0]
    assert count(server, "bob@example.test") == 1


def test_our_bounce_of_a_forwarded_copy_reaches_the_original_sender(make_server, sink):
    """The destination refuses the forwarded copy for good: our delivery
    notice goes to the original sender, decoded from the SRS address, not
    to the SRS address itself."""
    sink.refuse["carol@remote.test"] = "550 5.1.1 no such user here"
    srv = external(make_server, sink)
    with smtp(srv) as s:
        assert s.sendmail("sender@origin.test", ["alice@example.test"], ORIGINAL) == {}
    got = sink.wait(1)
    assert len(got) == 1, got
    mail_from, rcpts, data = got[0]
    assert mail_from in ("", "<>"), mail_from
    assert rcpts == ["sender@origin.test"]
    assert b"Status: 5.1.1" in data and b"carol@remote.test" in data, data
    assert re.search(rb"^To: <?sender@origin\.test>?\r$", data, re.M), data


def test_srs_return_path_is_not_a_relay(make_server, sink):
    """One SRS recipient per message, each relayed bounce in the evidence
    log (R-IN-4), and a claimed hosted sender from outside is rewritten
    like any other (forwarding must not lend it our SPF)."""
    srv = external(make_server, sink)
    srs, _, _ = forward_one(srv, sink, ORIGINAL)
    other = ORIGINAL.replace(b"fw1@", b"fw2@")
    with smtp(srv) as s:
        assert s.sendmail("other@origin.test", ["alice@example.test"], other) == {}
    got = sink.wait(2)
    srs2 = got[1][0]
    assert SRS.match(srs) and srs2 != srs, (srs, srs2)
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("")[0] == 250
        assert s.rcpt(srs)[0] == 250
        code, text = s.rcpt(srs2)
        assert code == 452 and b"4.5.3" in text, (code, text)
        code, _ = s.data(b"From: MAILER-DAEMON@remote.test\r\nSubject: bounce\r\n\r\nx\r\n")
        assert code == 250
    assert sink.wait(3)[2][1] == ["sender@origin.test"]
    ev = srv.cli("evidence", "--rule", "R-IN-4", "--format", "json").stdout
    assert "bounce returned to sender@origin.test" in ev, ev
    # From outside, claiming to be bob@example.test: still SRS.
    with smtp(srv) as s:
        assert s.sendmail("bob@example.test", ["alice@example.test"], other) == {}
    got = sink.wait(4)
    assert re.match(r"^SRS0=[^=]+=[A-Z2-7]{2}=example\.test=bob@example\.test$", got[3][0], re.I), got[3][0]


def test_forwarded_copies_count_for_the_forwarding_mailbox(make_server, sink):
    """What forwarding sends out counts against the forwarding mailbox's
    hourly limit (R-OUT-6): after one forwarded message, alice (limit 1)
    cannot send to the outside herself this hour."""
    srv = make_server(routes(sink, "remote.test", "origin.test") + '[policy]\nhourly_limit = 1\n', start=False)
    srv.setup_domain()
    srv.cli("forward", "set", "alice@example.test", "carol@remote.test")
    srv.start()
    with smtp(srv) as s:
        assert s.sendmail("sender@origin.test", ["alice@example.test"], ORIGINAL) == {}
    assert len(sink.wait(1)) == 1
    with submit(srv, "alice@example.test") as s:
        s.ehlo()
        assert s.mail("alice@example.test")[0] == 250
        code, text = s.rcpt("dave@remote.test")
        assert code >= 400 and b"R-OUT-6" in text, (code, text)


def test_srs_bounces_stop_at_the_domains_hourly_limit(make_server, sink):
    """Bounces going back out through SRS count for the forwarding domain
    and wait (450) once it is past its hourly limit (R-OUT-7): the forward
    itself used the domain's one recipient of the hour."""
    srv = make_server(routes(sink, "remote.test", "origin.test") + '[policy]\ndomain_hourly_limit = 1\n', start=False)
    srv.setup_domain()
    srv.cli("forward", "set", "alice@example.test", "carol@remote.test")
    srv.start()
    srs, _, _ = forward_one(srv, sink, ORIGINAL)
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("")[0] == 250
        code, text = s.rcpt(srs)
        assert code == 450 and b"4.7.1" in text, (code, text)
