"""Read mail is deleted a retention period after it was first retrieved,
even when the client leaves it on the server (R-POP-2, 002); the period
is policy.read_retention, two seconds here. Mail never retrieved stays; a
TOP of the whole message is a retrieval, TOP n 0 is not; a session that
is open while its message expires keeps a consistent maildrop."""

import poplib
import re
import smtplib
import time

from helpers import wait_for

PW = "secret-pw"
A = "alice@example.test"
CONFIG = '[policy]\nread_retention = "2s"\npop_logins_per_hour = 100000\n'
DEFAULT_QUOTA = 50 * 1024 * 1024


def deliver(srv, n):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        for i in range(1, n + 1):
            s.sendmail("x@remote.test", [A], f"From: x@remote.test\r\nSubject: m{i}\r\n\r\nbody {i}\r\nline two\r\n".encode())


def login(srv):
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.user(A)
    p.pass_(PW)
    return p


def uids(srv):
    """The UIDs in the maildrop, without retrieving anything."""
    p = login(srv)
    got = [line.split()[1] for line in p.uidl()[1]]
    p.quit()
    return got


def usage(srv):
    line = [l for l in srv.cli("user", "quota", A).stdout.splitlines() if A in l][0]
    nums = [int(n) for n in re.findall(r"(?<![\d.])\d+(?![\d.%])", line)]
    i = len(nums) - 1 - nums[::-1].index(DEFAULT_QUOTA)
    return nums[i - 1]


def test_retrieved_mail_left_on_the_server_expires(make_server):
    srv = make_server(CONFIG)
    srv.setup_domain()
    deliver(srv, 3)
    before = uids(srv)
    assert len(before) == 3
    used = usage(srv)
    p = login(srv)
    assert b"Subject: m1" in p.retr(1)[1]
    p.quit()  # no DELE: the client leaves it on the server
    assert wait_for(lambda: uids(srv) == before[1:], timeout=15, interval=0.5), uids(srv)
    assert usage(srv) < used
    # the ones never retrieved are still whole
    p = login(srv)
    assert b"Subject: m2" in p.retr(1)[1] and b"Subject: m3" in p.retr(2)[1]
    p.quit()


def test_top_of_the_whole_message_counts_as_read(make_server):
    srv = make_server(CONFIG)
    srv.setup_domain()
    deliver(srv, 3)
    before = uids(srv)
    p = login(srv)
    assert b"line two" in p.top(2, 100000)[1]  # all of message 2
    assert b"line two" not in p.top(3, 0)[1]  # headers only of message 3
    p.quit()
    # message 2 goes; 3 was retrieved at the same time if at all, so it
    # would have gone in the same sweep
    assert wait_for(lambda: before[1] not in uids(srv), timeout=15, interval=0.5)
    assert uids(srv) == [before[0], before[2]]


def test_session_open_while_its_message_expires(make_server):
    srv = make_server(CONFIG)
    srv.setup_domain()
    deliver(srv, 2)
    before = uids(srv)
    p = login(srv)
    first = p.retr(1)[1]
    listing = p.list()[1]
    uidl = p.uidl()[1]
    end = time.time() + 4  # twice the retention
    while time.time() < end:
        assert p.noop().startswith(b"+OK")
        time.sleep(0.5)
    assert p.retr(1)[1] == first
    assert p.list()[1] == listing
    assert p.uidl()[1] == uidl
    assert p.stat()[0] == 2
    p.quit()
    assert wait_for(lambda: uids(srv) == before[1:], timeout=15, interval=0.5), uids(srv)
