"""Policy engine rules through the real protocols, with short durations
from the config: hourly limits with holds (R-OUT-6, R-OUT-7, R-ABUSE-1)
and the evidence log (R-ABUSE-3)."""

import json
import re
import smtplib
import time


from helpers import pop_messages, submit, tls_ctx, wait_for

PW = "secret-pw"


def session(server, user="alice@example.test"):
    return submit(server, user, PW)


def body(sender):
    return f"From: {sender}\r\nSubject: policy test\r\n\r\nhello\r\n".encode()


def test_hourly_limit_places_a_hold_that_lifts(make_server, sink):
    srv = make_server('[policy]\nhourly_limit = 3\nhold_duration = "3s"\n'
                      + sink.route)
    srv.setup_domain()
    with session(srv) as s:
        assert s.sendmail("alice@example.test", ["r1@remote.test", "r2@remote.test", "r3@remote.test"], body("alice@example.test")) == {}
        s.mail("alice@example.test")
        code, text = s.rcpt("r4@remote.test")
        assert code == 451 and text.startswith(b"4.7.1") and b"R-OUT-6" in text, text
        assert re.search(rb"until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text), text
        s.rset()
        # on hold: every submission is refused, local mail too
        code, text = s.mail("alice@example.test")
        assert code == 451 and b"on hold" in text and b"R-OUT-6" in text
    assert "alice@example.test\tR-OUT-6" in srv.cli("hold", "list").stdout
    # bob is not affected
    with session(srv, "bob@example.test") as s:
        assert s.sendmail("bob@example.test", ["x@remote.test"], body("bob@example.test")) == {}
    time.sleep(3.5)
    # the hold lifted by itself, and the count starts afresh
    with session(srv) as s:
        assert s.sendmail("alice@example.test", ["r5@remote.test"], body("alice@example.test")) == {}
    assert srv.cli("hold", "list").stdout.strip() == ""


def test_operator_releases_a_hold(make_server, sink):
    srv = make_server('[policy]\nhourly_limit = 1\nhold_duration = "1h"\n'
                      + sink.route)
    srv.setup_domain()
    with session(srv) as s:
        s.sendmail("alice@example.test", ["r1@remote.test"], body("alice@example.test"))
        s.mail("alice@example.test")
        assert s.rcpt("r2@remote.test")[0] == 451
    r = srv.cli("hold", "release", "bob@example.test", check=False)
    assert r.returncode == 1 and "not on hold" in r.stderr
    srv.cli("hold", "release", "alice@example.test")
    with session(srv) as s:
        assert s.mail("alice@example.test")[0] == 250


def test_domain_hourly_limit(make_server, sink):
    srv = make_server('[policy]\ndomain_hourly_limit = 2\n'
                      + sink.route)
    srv.setup_domain()
    with session(srv) as s:
        s.sendmail("alice@example.test", ["r1@remote.test"], body("alice@example.test"))
    with session(srv, "bob@example.test") as s:
        s.sendmail("bob@example.test", ["r2@remote.test"], body("bob@example.test"))
        s.mail("bob@example.test")
        code, text = s.rcpt("r3@remote.test")
        assert code == 550 and text.startswith(b"5.7.1") and b"R-OUT-7" in text
        # local mail is not counted
        s.rset()
        assert s.sendmail("bob@example.test", ["alice@example.test"], body("bob@example.test")) == {}


def test_domain_limit_bounces_what_racing_sessions_queued_past_it(make_server, sink):
    """R-OUT-7 for mail already queued: two sessions of one domain both
    pass the check at RCPT before either commits, so together they queue
    more than the limit. Each queued recipient's place in the hour is
    counted in commit order: the later message's excess bounces with a
    DSN to its sender, the rest is delivered, and the bounce is in the
    evidence log."""
    srv = make_server('[policy]\ndomain_hourly_limit = 3\n' + sink.route)
    srv.setup_domain()
    with session(srv) as a, session(srv, "bob@example.test") as b:
        for s, who, rcpts in ((a, "alice", ["r1@remote.test", "r2@remote.test"]), (b, "bob", ["r3@remote.test", "r4@remote.test"])):
            assert s.mail(f"{who}@example.test")[0] == 250
            for r in rcpts:
                assert s.rcpt(r)[0] == 250, r
        assert a.data(body("alice@example.test"))[0] == 250
        assert b.data(body("bob@example.test"))[0] == 250
    got = sink.wait(2)
    time.sleep(1)
    rcpts = sorted(r for m in sink.messages() for r in m[1])
    assert rcpts == ["r1@remote.test", "r2@remote.test", "r3@remote.test"], got

    def bounced():
        return [m for m in pop_messages(srv.ports["pop3"], "bob@example.test") if b"multipart/report" in m]
    assert wait_for(bounced, timeout=15, interval=0.3)
    dsn = bounced()[0]
    assert b"r4@remote.test" in dsn and b"R-OUT-7" in dsn and b"5.7.1" in dsn, dsn
    assert pop_messages(srv.ports["pop3"], "alice@example.test") == []
    ev = [json.loads(l) for l in srv.cli("evidence", "--rule", "R-OUT-7", "--format", "json").stdout.splitlines()]
    assert [(e["account"], e["decision"]) for e in ev] == [("bob@example.test", "bounce")], ev
    assert "r4@remote.test" in ev[0]["reply"]
    # the bounce names the message by the Message-ID its acceptance was logged with
    bob = [json.loads(l) for l in srv.cli("evidence", "--account", "bob@example.test", "--format", "json").stdout.splitlines()]
    accepted = [e["message_id"] for e in bob if e["decision"] == "accept"]
    assert accepted and accepted[0] and ev[0]["message_id"] == accepted[0], (ev, bob)
    assert "Subject: policy test" in srv.cli("evidence", "export", str(ev[0]["id"])).stdout


def test_evidence_log_search_and_export(make_server, sink):
    srv = make_server('[policy]\nhourly_limit = 1\n'
                      + sink.route)
    srv.setup_domain()
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.ehlo("c")
        s.mail("x@elsewhere.test")
        assert s.rcpt("victim@far.test")[0] == 554
    with session(srv) as s:
        s.sendmail("alice@example.test", ["r1@remote.test"],
                   b"From: alice@example.test\r\nSubject: the evidence\r\nMessage-ID: <ev1@example.test>\r\n\r\nx\r\n")
        s.mail("alice@example.test")
        assert s.rcpt("r2@remote.test")[0] == 451
    table = srv.cli("evidence", "--rule", "R-IN-1").stdout.strip().splitlines()
    assert len(table) == 1
    cols = table[0].split("\t")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", cols[1]) and cols[2] == "127.0.0.1"
    assert "554 5.7.1" in cols[-1]
    rows = [json.loads(l) for l in srv.cli("evidence", "--account", "alice@example.test", "--format", "json").stdout.splitlines()]
    decisions = {r["decision"]: r for r in rows}
    assert decisions["hold"]["rule"] == "R-OUT-6"
    accept = decisions["accept"]
    assert accept["message_id"] == "<ev1@example.test>" and accept["ip"] == "127.0.0.1"
    headers = srv.cli("evidence", "export", str(accept["id"])).stdout
    assert "Subject: the evidence" in headers and "Message-ID: <ev1@example.test>" in headers
    assert "(authenticated as alice@example.test by AUTH)" in headers
    assert "\nx\r\n" not in headers, "headers only"
    assert srv.cli("evidence", "--ip", "192.0.2.99").stdout == ""
    assert srv.cli("evidence", "--since", "2099-01-01T00:00:00+00:00").stdout == ""
    assert len(srv.cli("evidence", "--since", "1h").stdout.splitlines()) == 3
    # a time range: nothing before the server started, all of it up to now
    assert srv.cli("evidence", "--until", "1h").stdout == ""
    assert len(srv.cli("evidence", "--since", "1h", "--until", "2099-01-01T00:00:00+00:00").stdout.splitlines()) == 3
    r = srv.cli("evidence", "--until", "soon", check=False)
    assert r.returncode == 1 and "--until" in r.stderr
    r = srv.cli("evidence", "--since", "whenever", check=False)
    assert r.returncode == 1 and "--since" in r.stderr


def pop_login(server, user, pw=PW, source="127.0.0.1"):
    import poplib
    import socket

    class POP3From(poplib.POP3):
        # poplib has no source_address; connect from `source` to test per-IP limits.
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))

    p = POP3From("127.0.0.1", server.ports["pop3"], timeout=20)
    try:
        p.user(user)
        p.pass_(pw)
        p.quit()
        return "ok"
    except poplib.error_proto as e:
        p.close()
        return e.args[0].decode()


def smtp_login(server, user, pw=PW):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=20) as s:
        s.starttls(context=tls_ctx())
        try:
            s.login(user, pw)
            return "ok"
        except smtplib.SMTPAuthenticationError as e:
            return f"{e.smtp_code} {e.smtp_error.decode()}"


def test_brute_force_lockout_per_account_and_ip(make_server):
    srv = make_server('[policy]\nauth_failures_per_account = 3\nauth_failures_per_ip = 5\n'
                      'auth_lockout = "2s"\nauth_window = "1m"\n')
    srv.setup_domain(users=["alice", "bob", "carol"])
    wrong = pop_login(srv, "alice@example.test", "bad")
    for _ in range(2):
        assert pop_login(srv, "alice@example.test", "bad") == wrong
    # alice is locked out: the right password fails exactly like a wrong one,
    # over POP3 and SMTP AUTH alike
    assert pop_login(srv, "alice%example.test") == wrong
    assert smtp_login(srv, "alice@example.test").startswith("535 5.7.8")
    # an account that does not exist gets the same treatment and replies
    for _ in range(3):
        assert pop_login(srv, "ghost@example.test", "x") == wrong
    # the IP has now failed 5+ times: everyone from it is locked out ...
    assert pop_login(srv, "bob@example.test") == wrong
    # ... but not another address
    assert pop_login(srv, "bob@example.test", source="127.0.0.2") == "ok"
    time.sleep(2.5)
    assert pop_login(srv, "alice@example.test") == "ok"
    assert smtp_login(srv, "bob@example.test") == "ok"
    rules = srv.cli("evidence", "--rule", "R-ABUSE-4").stdout
    assert "login:alice@example.test locked out" in rules and "ip:127.0.0.1 locked out" in rules


def test_pop_logins_per_hour(make_server):
    srv = make_server('[policy]\npop_logins_per_hour = 3\npop_lockout = "2s"\n')
    srv.setup_domain()
    wrong = pop_login(srv, "bob@example.test", "bad")
    assert [pop_login(srv, "alice@example.test") for _ in range(3)] == ["ok"] * 3
    # the 4th login in the hour fails as if the password were wrong
    assert pop_login(srv, "alice@example.test") == wrong
    assert pop_login(srv, "bob@example.test") == "ok", "other mailboxes are not affected"
    time.sleep(2.5)
    assert pop_login(srv, "alice@example.test") == "ok", "unlocked by itself"
    assert "R-POP-3" in srv.cli("evidence", "--account", "alice@example.test").stdout


def test_quarantine_of_cancelled_addresses(make_server):
    srv = make_server('[policy]\nquarantine = "3s"\n')
    srv.setup_domain(users=["alice", "bob", "carol"])
    srv.cli("user", "delete", "carol@example.test")
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.ehlo("c")
        s.mail("x@remote.test")
        code, text = s.rcpt("carol@example.test")
        assert code == 550 and b"R-ADDR-7" in text and b"quarantined until" in text
    r = srv.cli("user", "add", "carol@example.test", "--password", "x", check=False)
    assert r.returncode == 1 and "R-ADDR-7" in r.stderr
    assert re.search(r"until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", r.stderr), r.stderr
    time.sleep(3.5)
    # afterwards the address may be issued to a new subscriber
    srv.cli("user", "add", "carol@example.test", "--password", "new-pw")
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.ehlo("c")
        s.mail("x@remote.test")
        assert s.rcpt("carol@example.test")[0] == 250


def test_no_catch_all(server):
    # R-ADDR-6: there is no setting for a catch-all; unknown is always 550 5.1.1
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.ehlo("c")
        s.mail("x@remote.test")
        for rcpt in ["random123@example.test", "postmaster-not@example.test", "*@example.test"]:
            code, text = s.rcpt(rcpt)
            assert code in (550, 501), (rcpt, code, text)


def test_queued_mail_of_a_suspended_account_waits(make_server, sink):
    """R-ABUSE-1 at the "before delivery" decision point: mail an account
    queued before the operator suspended it is not sent while the
    suspension lasts, and goes once it is lifted."""
    srv = make_server(sink.route
                      + 'retry_base = "1s"\nretry_max = "1s"\npoll = "200ms"\n')
    srv.setup_domain()
    sink.data_reply = "451 4.3.0 not now"
    with session(srv) as s:
        assert s.sendmail("alice@example.test", ["r1@remote.test"], body("alice@example.test")) == {}
    assert wait_for(lambda: "not now" in srv.cli("queue", "list").stdout, timeout=10)
    srv.cli("user", "suspend", "alice@example.test")
    sink.data_reply = None
    time.sleep(1.2)  # the policy's view of the account is at most a second old
    srv.cli("queue", "flush")
    assert wait_for(lambda: "suspended" in srv.cli("queue", "list").stdout, timeout=10), srv.cli("queue", "list").stdout
    assert "R-ABUSE-1" in srv.cli("queue", "list").stdout
    time.sleep(1.5)
    assert sink.messages() == []
    srv.cli("user", "resume", "alice@example.test")

    def delivered():
        srv.cli("queue", "flush")
        return len(sink.messages()) == 1
    assert wait_for(delivered, timeout=15, interval=0.5)
    assert srv.cli("queue", "list").stdout.strip() == ""


def test_enforce_false_keeps_only_the_safety_rules(make_server, sink):
    """policy.enforce = false (benchmarks, migrations): the acceptable-use
    rules stop (a forged From, recipients over the cap), while relay
    protection and unknown recipients are still refused."""
    srv = make_server('[policy]\nenforce = false\nmax_recipients = 1\n' + sink.route)
    srv.setup_domain()
    with session(srv) as s:
        forged = b"From: ceo@elsewhere.test\r\nSubject: x\r\n\r\nhello\r\n"
        assert s.sendmail("alice@example.test", ["r1@remote.test", "r2@remote.test"], forged) == {}
        s.mail("alice@example.test")
        assert s.rcpt("nobody@example.test")[0] == 550
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.ehlo("client.test")
        s.mail("x@outside.test")
        code, text = s.rcpt("someone@remote.test")
        assert code == 554 and b"R-IN-1" in text, text
