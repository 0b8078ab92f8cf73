"""Mailbox quota (R-IN-3): usage shown by `user quota`; a notice to the user
and to the domain's contact when a mailbox passes 90 % and when it is full,
once per crossing, in English and Japanese (002); mail that does not fit
is refused with 452 4.2.2, at RCPT when SIZE says so, else at the end of
DATA; deleting mail frees space; per-mailbox and per-package quotas."""

import email
import email.policy
import poplib
import re
import smtplib

from helpers import pop_messages, wait_for

PW = "secret-pw"
A = "alice@example.test"
WARNING = "*** Mail quota warning ***"
EXCEEDED = "*** Mail quota exceeded ***"


def smtp(srv):
    return smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20)


def sized(n, subject="filler", to=A):
    """A message of exactly `n` octets as sent (CRLF lines of at most 78)."""
    head = f"From: x@remote.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n".encode()
    left = n - len(head)
    assert left >= 2, n
    lines = []
    while left > 0:
        take = min(78, left)
        if left - take == 1:  # a line is at least its CRLF
            take -= 1
        lines.append(b"x" * (take - 2) + b"\r\n")
        left -= take
    m = head + b"".join(lines)
    assert len(m) == n
    return m


def deliver(srv, m, rcpt=A):
    with smtp(srv) as s:
        assert s.sendmail("x@remote.test", [rcpt], m) == {}


def refused_at_data(srv, m, rcpt=A):
    """Sends without SIZE; returns the reply to the end of DATA (RCPT must pass)."""
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test")[0] == 250
        code, text = s.rcpt(rcpt)
        assert code == 250, (code, text)
        return s.data(m)


def quota_line(srv, addr):
    out = srv.cli("user", "quota", addr).stdout
    lines = [l for l in out.splitlines() if addr in l]
    assert lines, out
    return lines[0]


def usage(srv, addr, quota):
    """The octets used, as `user quota` prints them: the number just before
    the quota (percentages and decimals are skipped)."""
    line = quota_line(srv, addr)
    nums = [int(n) for n in re.findall(r"(?<![\d.])\d+(?![\d.%])", line)]
    assert quota in nums, (quota, line)
    i = len(nums) - 1 - nums[::-1].index(quota)
    assert i > 0, line
    return nums[i - 1]


def stat(srv, user=A):
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.user(user)
    p.pass_(PW)
    r = p.stat()
    p.quit()
    return r


def parsed(user_msgs):
    return [email.message_from_bytes(m, policy=email.policy.default) for m in user_msgs]


def notices(srv, user, subject):
    return [m for m in parsed(pop_messages(srv.ports["pop3"], user)) if m["Subject"] == subject]


def text_of(m):
    return "\n".join(p.get_content() for p in m.walk() if p.get_content_maintype() == "text")


def check_notice(m, japanese):
    text = text_of(m)
    whole = "\n".join(f"{k}: {v}" for k, v in m.items()) + "\n" + text
    assert re.search(r"MailAddress:\s*alice@example\.test", whole), whole
    assert "QuotaSize:" in whole, whole
    assert "mailbox" in text.lower(), text
    assert japanese in text, text


def test_usage_shown_by_the_cli(make_server):
    srv = make_server('[policy]\nquota = "20KB"\n')
    srv.setup_domain()
    line = quota_line(srv, A)
    assert "20480" in line, line
    assert usage(srv, A, 20480) == 0
    deliver(srv, sized(3000))
    used = usage(srv, A, 20480)
    assert 3000 < used < 4000, quota_line(srv, A)
    # what the mailbox holds, as POP3 counts it
    assert stat(srv) == (1, used)
    r = srv.cli("user", "quota", "nobody@example.test", check=False)
    assert r.returncode != 0 and r.stderr.strip()


def test_notices_at_90_and_100_percent(make_server):
    q = 200 * 1024
    srv = make_server('[policy]\nquota = "200KB"\n', start=False)
    srv.setup_domain()
    srv.cli("domain", "set", "example.test", "--contact", "bob@example.test")
    srv.start()

    probe = sized(2000, "probe")
    deliver(srv, probe)
    overhead = usage(srv, A, q) - len(probe)  # what delivery adds (trace headers)
    assert 0 < overhead < 2000, overhead

    def fill_to(target, subject):
        before = usage(srv, A, q)
        n = target - before - overhead
        assert n > 200, (target, before)
        deliver(srv, sized(n, subject))

    fill_to(int(q * 0.85), "to 85%")
    fill_to(int(q * 0.91), "to 91%")
    assert wait_for(lambda: len(notices(srv, A, WARNING)) == 1 and len(notices(srv, "bob@example.test", WARNING)) == 1,
                    timeout=20, interval=0.3)
    for who in (A, "bob@example.test"):
        check_notice(notices(srv, who, WARNING)[0], "メールBOXの容量が90%を越えました")
    # still above 90 %: another message brings no second warning (counted
    # below); with the notices in, it measures what delivery adds again
    before = usage(srv, A, q)
    small = sized(1000, "still above")
    deliver(srv, small)
    overhead = usage(srv, A, q) - before - len(small)
    # exactly full: accepted, and the mailbox is at 100 %
    fill_to(q, "to 100%")
    assert usage(srv, A, q) >= q
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test", ["SIZE=6000"])[0] == 250
        code, text = s.rcpt(A)
        assert code == 452 and b"4.2.2" in text and b"R-IN-3" in text, (code, text)
        # the other recipients of the message are not affected
        assert s.rcpt("bob@example.test")[0] == 250
        s.rset()
        # without SIZE: refused at RCPT (full) or at the end of DATA
        assert s.mail("x@remote.test")[0] == 250
        code, text = s.rcpt(A)
        if code == 250:
            code, text = s.data(sized(500, "no room"))
        assert code == 452 and b"4.2.2" in text, (code, text)
    assert wait_for(lambda: len(notices(srv, A, EXCEEDED)) == 1 and len(notices(srv, "bob@example.test", EXCEEDED)) == 1,
                    timeout=20, interval=0.3)
    for who in (A, "bob@example.test"):
        check_notice(notices(srv, who, EXCEEDED)[0], "メールBOXの容量が制限値を越えました")
        # once per crossing
        assert len(notices(srv, who, WARNING)) == 1, who
    subjects = [m["Subject"] for m in parsed(pop_messages(srv.ports["pop3"], A))]
    assert "no room" not in subjects and subjects.count(EXCEEDED) == 1, subjects


def test_mail_that_does_not_fit_is_refused_and_deleting_frees_space(make_server):
    q = 20480
    srv = make_server('[policy]\nquota = "20KB"\n')
    srv.setup_domain()
    deliver(srv, sized(12000, "big"))
    used = usage(srv, A, q)
    # a declared size that does not fit is refused at RCPT; one that fits is not
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test", ["SIZE=9000"])[0] == 250
        code, text = s.rcpt(A)
        assert code == 452 and b"4.2.2" in text, (code, text)
        s.rset()
        assert s.mail("x@remote.test", ["SIZE=1000"])[0] == 250
        assert s.rcpt(A)[0] == 250
    # no SIZE: refused at the end of DATA, and nothing is stored
    code, text = refused_at_data(srv, sized(9000, "too much"))
    assert code == 452 and b"4.2.2" in text, (code, text)
    assert usage(srv, A, q) == used and stat(srv)[0] == 1
    # DELE + QUIT frees the space
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.user(A)
    p.pass_(PW)
    p.dele(1)
    p.quit()
    assert usage(srv, A, q) <= used - 12000, quota_line(srv, A)
    deliver(srv, sized(9000, "fits now"))
    got = pop_messages(srv.ports["pop3"], A)
    assert len(got) == 1 and b"Subject: fits now" in got[0]


def test_mailbox_and_package_quota(make_server):
    srv = make_server('[policy]\nquota = "20KB"\n', start=False)
    srv.setup_domain()
    srv.cli("user", "add", "x@example.test", "--password", PW, "--quota", "10KB")
    srv.cli("package", "set", "big", "--quota", "1MB")
    srv.cli("user", "add", "y@example.test", "--password", PW, "--package", "big")
    assert usage(srv, "x@example.test", 10240) == 0
    assert usage(srv, "y@example.test", 1048576) == 0
    assert usage(srv, A, 20480) == 0
    srv.start()
    m12 = sized(12000, "12k", to="x@example.test")
    code, text = refused_at_data(srv, m12, "x@example.test")
    assert code == 452 and b"4.2.2" in text, (code, text)
    deliver(srv, m12, "y@example.test")
    # more than the server's quota: refused for alice, fits in y's package
    m25 = sized(25000, "25k")
    code, text = refused_at_data(srv, m25)
    assert code == 452 and b"4.2.2" in text, (code, text)
    deliver(srv, m25, "y@example.test")
    assert stat(srv, "y@example.test")[0] == 2
    assert usage(srv, "y@example.test", 1048576) > 37000


def test_full_member_of_a_fan_out_is_left_out_with_a_notice(make_server, sink):
    """An alias to a full mailbox and one with room: the message is
    accepted, the full one's copy is left out, and the sender gets a
    delivery notice (RFC 3464) naming it, with 5.2.2."""
    srv = make_server('[policy]\nquota = "20KB"\n' + sink.route + 'poll = "100ms"\n', start=False)
    srv.setup_domain()
    srv.cli("alias", "add", "team@example.test", A, "bob@example.test")
    srv.start()
    deliver(srv, sized(19000, "fills alice"))
    with smtp(srv) as s:
        assert s.sendmail("x@remote.test", ["team@example.test"], sized(3000, "to the team", to="team@example.test")) == {}
    bob = pop_messages(srv.ports["pop3"], "bob@example.test")
    assert any(b"Subject: to the team" in m for m in bob), bob
    alice = [m for m in pop_messages(srv.ports["pop3"], A) if b"Subject: to the team" in m]
    assert alice == []
    got = sink.wait(1)
    _, rcpts, data = got[0]
    assert rcpts == ["x@remote.test"]
    report = email.message_from_bytes(data, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert b"Status: 5.2.2" in data and b"alice@example.test" in data, data


def test_quota_below_usage_is_allowed_with_a_warning(make_server):
    srv = make_server('[policy]\nquota = "50KB"\n')
    srv.setup_domain()
    deliver(srv, sized(12000, "12k"))
    used = usage(srv, A, 51200)
    r = srv.cli("user", "quota", A, "--set", "8KB")
    assert "warning" in r.stderr and "R-IN-3" in r.stderr, r.stderr
    assert usage(srv, A, 8192) == used
    # new mail is refused until it fits (at RCPT: the mailbox is over)
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test")[0] == 250
        code, text = s.rcpt(A)
        assert code == 452 and b"4.2.2" in text, (code, text)
    # back to the server's quota: it fits again
    r = srv.cli("user", "quota", A, "--set", "default")
    assert "warning" not in r.stderr, r.stderr
    deliver(srv, sized(1000, "fits"))
    # a package lowered below a mailbox's usage warns too, naming it
    srv.cli("package", "set", "tiny", "--quota", "100KB")
    srv.cli("user", "add", "p@example.test", "--password", PW, "--package", "tiny")
    deliver(srv, sized(9000, "9k"), "p@example.test")
    r = srv.cli("package", "set", "tiny", "--quota", "5KB")
    assert "p@example.test" in r.stderr and "warning" in r.stderr, r.stderr
    for bad in ["-1", "lots", "1XB"]:
        r = srv.cli("user", "quota", A, "--set", bad, check=False)
        assert r.returncode != 0 and r.stderr.strip(), bad


def test_one_full_mailbox_does_not_hold_back_the_others(make_server, sink):
    """RCPT alice (full for this message) and bob: accepted, bob gets it,
    the sender a DSN for alice, and alice her "exceeded" notice although
    her usage is under the quota (R-IN-3)."""
    srv = make_server('[policy]\nquota = "20KB"\n' + sink.route + 'poll = "100ms"\n', start=False)
    srv.setup_domain()
    srv.cli("domain", "set", "example.test", "--contact", "bob@example.test")
    srv.start()
    deliver(srv, sized(18300, "almost full"))
    # the warning (stored in the mailbox too) leaves her over 90 % but under 100 %
    assert wait_for(lambda: len(notices(srv, A, WARNING)) == 1, timeout=20, interval=0.3)
    assert 0.9 * 20480 < usage(srv, A, 20480) < 20480
    with smtp(srv) as s:
        # No SIZE (smtplib would add it, and RCPT would refuse alice then)
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test")[0] == 250
        assert s.rcpt(A)[0] == 250 and s.rcpt("bob@example.test")[0] == 250
        code, text = s.data(sized(3000, "for both"))
        assert code == 250, (code, text)
    bob = pop_messages(srv.ports["pop3"], "bob@example.test")
    assert any(b"Subject: for both" in m for m in bob)
    assert not any(b"Subject: for both" in m for m in pop_messages(srv.ports["pop3"], A))
    got = sink.wait(1)
    assert got and got[0][1] == ["x@remote.test"] and b"Status: 5.2.2" in got[0][2], got
    assert wait_for(lambda: len(notices(srv, A, EXCEEDED)) == 1, timeout=20, interval=0.3)
    assert wait_for(lambda: len(notices(srv, "bob@example.test", EXCEEDED)) == 1, timeout=20, interval=0.3)
    # a second refusal (at RCPT now: the notice filled her up): no second notice
    with smtp(srv) as s:
        s.ehlo("mx.remote.test")
        assert s.mail("x@remote.test")[0] == 250
        code, text = s.rcpt(A)
        assert code == 452 and b"4.2.2" in text, (code, text)
    import time as _t
    _t.sleep(1)
    assert len(notices(srv, A, EXCEEDED)) == 1
