"""postmaster@ and all@ of every hosted domain (R-ADDR-4, R-ADDR-5) and the
billing report (R-ADDR-8): postmaster@ takes mail from anyone for the
domain's technical contact and cannot be removed; all@ gives every active
mailbox one copy and by default takes mail only from authenticated
senders of its domain; neither is billable."""

import csv
import io
import json
import re
import smtplib
import time

from helpers import pop_messages, submit, wait_for

PW = "secret-pw"


def settle():
    # A running server sees an admin command's effect within a second
    # (SPEC, interface contract).
    time.sleep(1.1)


def smtp(srv):
    return smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20)


def msg(subject, sender="x@remote.test", to="postmaster@example.test"):
    return f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()


def count(srv, user):
    return len(pop_messages(srv.ports["pop3"], user))


def queue_empty(srv):
    return srv.cli("queue", "list").stdout.strip() == ""


def test_postmaster_delivers_to_the_contact(make_server):
    srv = make_server(start=False)
    srv.setup_domain(users=("alice", "bob", "admin"))  # the contact is admin@example.test
    srv.start()
    with smtp(srv) as s:
        assert s.sendmail("x@remote.test", ["postmaster@example.test"], msg("for the postmaster")) == {}
        # RFC 5321 §4.5.1: postmaster is case-insensitive and takes mail
        # from the null sender (bounces, reports).
        assert s.sendmail("", ["Postmaster@example.test"], msg("a report", "MAILER-DAEMON@remote.test")) == {}
    assert wait_for(lambda: count(srv, "admin@example.test") == 2, timeout=15, interval=0.2)
    got = pop_messages(srv.ports["pop3"], "admin@example.test")
    assert any(b"Subject: for the postmaster" in m for m in got)
    assert any(b"Subject: a report" in m for m in got)
    assert count(srv, "alice@example.test") == 0 and count(srv, "bob@example.test") == 0
    # the contact changes: postmaster@ follows
    srv.cli("domain", "set", "example.test", "--contact", "bob@example.test")
    settle()
    with smtp(srv) as s:
        assert s.sendmail("y@remote.test", ["postmaster@example.test"], msg("for the new contact")) == {}
    assert wait_for(lambda: count(srv, "bob@example.test") == 1, timeout=15, interval=0.2)
    assert b"Subject: for the new contact" in pop_messages(srv.ports["pop3"], "bob@example.test")[0]
    assert count(srv, "admin@example.test") == 2
    r = srv.cli("domain", "set", "example.test", "--contact", "no-at-sign", check=False)
    assert r.returncode != 0 and r.stderr.strip()
    r = srv.cli("domain", "set", "unknown.test", "--contact", "bob@example.test", check=False)
    assert r.returncode != 0 and r.stderr.strip()
    # postmaster@ leads to the contact: it cannot be its own contact
    r = srv.cli("domain", "set", "example.test", "--contact", "postmaster@example.test", check=False)
    assert r.returncode != 0 and r.stderr.strip()


def test_postmaster_cannot_be_removed(make_server):
    srv = make_server(start=False)
    srv.setup_domain(users=("alice", "admin"))
    for args in [
        ["user", "delete", "postmaster@example.test"],
        ["user", "suspend", "postmaster@example.test"],
        ["user", "add", "postmaster@example.test", "--password", "x"],
        ["alias", "remove", "postmaster@example.test"],
    ]:
        r = srv.cli(*args, check=False)
        assert r.returncode != 0 and "R-ADDR-4" in r.stderr, (args, r.stderr)
    # all@ exists too: it cannot be made a mailbox
    r = srv.cli("user", "add", "all@example.test", "--password", "x", check=False)
    assert r.returncode != 0 and r.stderr.strip()
    srv.start()
    with smtp(srv) as s:
        assert s.sendmail("x@remote.test", ["postmaster@example.test"], msg("still here")) == {}
    assert wait_for(lambda: count(srv, "admin@example.test") == 1, timeout=15, interval=0.2)


def everyone(sender, to="all@example.test"):
    return f"From: {sender}\r\nTo: {to}\r\nSubject: to everyone\r\n\r\nhello all\r\n".encode()


def test_all_gives_every_active_mailbox_one_copy(make_server):
    srv = make_server(start=False)
    # admin@example.test is the contact and a mailbox: one copy, as a mailbox
    srv.setup_domain(users=("alice", "bob", "carol", "admin"))
    srv.cli("user", "suspend", "carol@example.test")
    srv.cli("alias", "add", "team@example.test", "alice@example.test", "bob@example.test")
    srv.start()
    with submit(srv, "alice@example.test", PW) as s:
        assert s.sendmail("alice@example.test", ["all@example.test"], everyone("alice@example.test")) == {}
    active = ["alice@example.test", "bob@example.test", "admin@example.test"]
    for u in active:
        assert wait_for(lambda: count(srv, u) >= 1, timeout=15, interval=0.2), u
    srv.cli("user", "resume", "carol@example.test")
    for u in active:
        got = pop_messages(srv.ports["pop3"], u)
        assert len(got) == 1 and b"Subject: to everyone" in got[0], (u, got)
    assert count(srv, "carol@example.test") == 0, "a suspended mailbox gets none"


def test_all_does_not_reach_an_outside_contact(make_server, sink):
    # the contact of two.test is not a mailbox of the domain: all@ does not
    # reach it through postmaster@
    srv = make_server(sink.route + 'poll = "100ms"\n', start=False)
    srv.cli("domain", "add", "two.test", "--contact", "boss@remote.test")
    for u in ("m1@two.test", "m2@two.test"):
        srv.cli("user", "add", u, "--password", PW)
    srv.start()
    with submit(srv, "m1@two.test", PW) as s:
        assert s.sendmail("m1@two.test", ["all@two.test"], everyone("m1@two.test", "all@two.test")) == {}
    for u in ("m1@two.test", "m2@two.test"):
        assert wait_for(lambda: count(srv, u) == 1, timeout=15, interval=0.2), u
    # anything queued with the copies would be in the queue or at the sink
    assert wait_for(lambda: queue_empty(srv))
    assert sink.messages() == []


def test_who_may_send_to_all(make_server):
    srv = make_server(start=False)
    srv.setup_domain()
    srv.cli("domain", "add", "other.test", "--contact", "admin@other.test")
    srv.cli("user", "add", "dave@other.test", "--password", PW)
    srv.start()
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        # an outsider on port 25
        assert s.mail("x@remote.test")[0] == 250
        code, text = s.rcpt("all@example.test")
        assert 500 <= code < 600 and b"R-ADDR-5" in text, (code, text)
        # an envelope sender of the domain without AUTH is no better
        s.rset()
        if s.mail("alice@example.test")[0] == 250:
            code, text = s.rcpt("all@example.test")
            assert 500 <= code < 600, (code, text)
    # an authenticated sender of another hosted domain
    with submit(srv, "dave@other.test", PW) as s:
        assert s.mail("dave@other.test")[0] == 250
        code, text = s.rcpt("all@example.test")
        assert 500 <= code < 600 and b"R-ADDR-5" in text, (code, text)
    assert count(srv, "alice@example.test") == 0 and count(srv, "bob@example.test") == 0


def test_all_from_anyone(make_server):
    srv = make_server('[policy]\nall_from = "anyone"\n', start=False)
    srv.setup_domain()
    srv.start()
    with smtp(srv) as s:
        assert s.sendmail("x@remote.test", ["all@example.test"], everyone("x@remote.test")) == {}
    for u in ("alice@example.test", "bob@example.test"):
        assert wait_for(lambda: count(srv, u) == 1, timeout=15, interval=0.2), u


def test_billing_report(make_server):
    srv = make_server(start=False)
    srv.setup_domain()  # alice and bob
    srv.cli("user", "suspend", "bob@example.test")
    srv.cli("alias", "add", "team@example.test", "alice@example.test")
    srv.cli("domain", "add", "empty.test", "--contact", "admin@empty.test")
    out = srv.cli("billing", "--format", "csv").stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r]
    assert rows[0] == ["domain", "mailboxes", "aliases", "suspended", "billable"], out
    # suspended counts as billable; postmaster@ and all@ do not count
    assert ["example.test", "2", "1", "1", "3"] in rows[1:], out
    assert ["empty.test", "0", "0", "0", "0"] in rows[1:], out
    assert len(rows) == 3, out
    rows = json.loads(srv.cli("billing", "example.test", "--format", "json").stdout)
    assert rows == [{"domain": "example.test", "mailboxes": 2, "aliases": 1, "suspended": 1, "billable": 3}], rows
    table = [l for l in srv.cli("billing", "example.test", "--format", "table").stdout.splitlines() if l.strip()]
    assert len(table) >= 2, table
    assert "domain" in table[0].lower() and "billable" in table[0].lower(), table
    row = [l for l in table[1:] if "example.test" in l]
    assert len(row) == 1 and re.findall(r"\b\d+\b", row[0]) == ["2", "1", "1", "3"], table
    r = srv.cli("billing", "unknown.test", check=False)
    assert r.returncode != 0 and r.stderr.strip()
    # the report follows changes: a deleted mailbox is no longer billed
    srv.cli("alias", "remove", "team@example.test")
    srv.cli("user", "delete", "bob@example.test")
    rows = json.loads(srv.cli("billing", "example.test", "--format", "json").stdout)
    assert rows == [{"domain": "example.test", "mailboxes": 1, "aliases": 0, "suspended": 0, "billable": 1}], rows
