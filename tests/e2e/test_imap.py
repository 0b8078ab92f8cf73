"""IMAP (R-POP-5) end to end: Dovecot imaptest's scripted suite through
our runner, and the mailbox rules over IMAP with Python's imaplib —
passwords only under TLS, one computer at a time with POP3 and IMAP
excluding each other (R-POP-4), logins counted with POP3's (R-POP-3),
quota (R-IN-3), suspension (R-ADDR-3), brute force (R-ABUSE-4), IDLE
woken by SMTP deliveries (also across two nodes), bad input."""

import imaplib
import os
import poplib
import re
import smtplib
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, Server
from helpers import raw, tls_ctx, wait_for

TESTS = os.path.join(ROOT, "..", "shared", "conformance", "imaptest", "tests")
RUNNER = os.path.join(ROOT, "tests", "imap", "imaptest_runner.py")

# The scripts log in many times; the hourly login limit (R-POP-3) is
# tested on its own below.
MANY_LOGINS = """
[policy]
pop_logins_per_hour = 100000
"""


class Imap(imaplib.IMAP4):
    """imaplib over STARTTLS, optionally from another loopback address."""

    def __init__(self, port, source=None, tls=True):
        self.source = source
        super().__init__("127.0.0.1", port, timeout=15)
        if tls:
            self.starttls(ssl_context=tls_ctx())

    def _create_socket(self, timeout):
        src = (self.source, 0) if self.source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


def imap_login(server, user="alice@example.test", pw="secret-pw", source=None):
    m = Imap(server.ports["imap"], source)
    m.login(user, pw)
    return m


def deliver(server, rcpt, body):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("x@remote.test", [rcpt], body)


def runner(server, *args, tls="--starttls"):
    return subprocess.run(
        [sys.executable, RUNNER, "--host", "127.0.0.1", "--port", str(server.ports["imap" if tls == "--starttls" else "imaps"]), tls,
         "--user", "testuser@example.test", "--password", "testpass",
         "--user2", "testuser2@example.test", "--password2", "testpass2",
         "--capabilities-from-server", *args, TESTS],
        capture_output=True, text=True, timeout=900,
    )


def test_imaptest_scripted_suite(make_server):
    """Every imaptest script passes, or is skipped because it needs a
    capability we do not advertise (SORT, THREAD, CONTEXT=SEARCH,
    CATENATE, NOTIFY, URLAUTH, ESORT)."""
    srv = make_server(MANY_LOGINS)
    srv.setup_domain(users=("testuser",), password="testpass")
    srv.cli("user", "add", "testuser2@example.test", "--password", "testpass2")
    r = runner(srv)
    print(r.stdout[-6000:])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    m = re.search(r"(\d+) scripts: (\d+) passed, (\d+) failed, (\d+) skipped", r.stdout)
    assert m and int(m.group(3)) == 0 and int(m.group(2)) >= 43, r.stdout[-500:]
    skipped = re.findall(r"^SKIP (\S+): server does not advertise (.+)$", r.stdout, re.M)
    allowed = {"SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "CONTEXT=SEARCH",
               "CONTEXT=SORT", "CATENATE", "NOTIFY", "URLAUTH", "URLAUTH=BINARY", "ESORT"}
    for name, caps in skipped:
        assert set(caps.upper().split()) & allowed, (name, caps)
    # The same over implicit TLS (port 993), a subset.
    r = runner(srv, "--only", "select", "fetch-body", "multiappend", "expunge", tls="--tls")
    assert r.returncode == 0, r.stdout[-3000:]


def test_passwords_only_under_tls(server):
    m = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    caps = m.capabilities
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps and "AUTH=PLAIN" not in caps
    typ, data = m._simple_command("LOGIN", "alice@example.test", "secret-pw")
    assert typ == "NO" and b"PRIVACYREQUIRED" in data[0], data
    m.starttls(ssl_context=tls_ctx())
    typ, caps = m.capability()
    assert b"AUTH=PLAIN" in caps[0] and b"LOGINDISABLED" not in caps[0]
    m.login("alice%example.test", "secret-pw")  # R-ADDR-1
    m.logout()
    # Implicit TLS on 993.
    s = imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=tls_ctx(), timeout=10)
    s.login("alice@example.test", "secret-pw")
    s.logout()


def test_one_computer_at_a_time(server):
    """R-POP-4 as R-POP-5 reads it: several IMAP sessions from one IP,
    none from a second IP meanwhile, and POP3 and IMAP exclude each other."""
    a = imap_login(server)
    b = imap_login(server)  # a mail client's second connection
    with pytest.raises(imaplib.IMAP4.error) as e:
        imap_login(server, source="127.0.0.2")
    assert "INUSE" in str(e.value) and "R-POP-4" in str(e.value)
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    p.user("alice@example.test")
    with pytest.raises(poplib.error_proto) as pe:
        p.pass_("secret-pw")
    assert b"IN-USE" in pe.value.args[0]
    p.quit()
    a.logout()
    b.logout()
    # Free again: POP3 now, and IMAP is refused while it is open.
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    p.user("alice@example.test")
    p.pass_("secret-pw")
    with pytest.raises(imaplib.IMAP4.error) as e:
        imap_login(server)
    assert "INUSE" in str(e.value)
    p.quit()
    imap_login(server, source="127.0.0.2").logout()
    ev = server.cli("evidence", "--rule", "R-POP-4", "--format", "json").stdout
    assert '"imap"' in ev and "INUSE" in ev and '"alice@example.test"' in ev, ev


def test_pop3_and_imap_share_one_state(server):
    for i in range(3):
        deliver(server, "alice@example.test", f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
    m = imap_login(server)
    typ, data = m.select("INBOX")
    assert data == [b"3"]
    m.store("2", "+FLAGS", "\\Deleted")
    m.expunge()
    m.logout()
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    p.user("alice@example.test")
    p.pass_("secret-pw")
    assert p.stat()[0] == 2
    p.dele(1)
    p.quit()
    m = imap_login(server)
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    typ, data = m.fetch("1", "(UID BODY.PEEK[TEXT])")
    assert b"UID 3" in data[0][0] and data[0][1] == b"body 2\r\n"
    # Mail in other folders is not POP3's.
    m.append("Archive", None, None, b"Subject: kept\r\n\r\nx\r\n")
    m.logout()
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    p.user("alice@example.test")
    p.pass_("secret-pw")
    assert p.stat()[0] == 1
    p.quit()


def test_quota_and_suspension(server):
    server.cli("user", "quota", "bob@example.test", "--set", "2KB")
    m = imap_login(server, "bob@example.test")
    typ, data = m.append("INBOX", None, None, b"Subject: a\r\n\r\n" + b"x" * 1500 + b"\r\n")
    assert typ == "OK" and b"APPENDUID" in data[0]
    typ, data = m.append("INBOX", None, None, b"Subject: b\r\n\r\n" + b"x" * 1500 + b"\r\n")
    assert typ == "NO" and b"OVERQUOTA" in data[0] and b"R-IN-3" in data[0], data
    m.select("INBOX")
    typ, data = m.copy("1", "Archive")
    assert typ == "NO" and b"OVERQUOTA" in data[0], data
    # MOVE takes no more room.
    typ, data = m._simple_command("MOVE", "1", "Archive")
    assert typ == "OK", data
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and b"STORAGE" in data[1][0], data
    m.logout()
    server.cli("user", "suspend", "bob@example.test")
    with pytest.raises(imaplib.IMAP4.error) as e:
        imap_login(server, "bob@example.test")
    assert "R-ADDR-3" in str(e.value)


def test_idle_hears_new_mail(server):
    m = imap_login(server)
    m.select("INBOX")
    tag = m._new_tag().decode()
    m.send(f"{tag} IDLE\r\n".encode())
    assert m.readline().startswith(b"+")
    deliver(server, "alice@example.test", b"Subject: ping\r\n\r\nping\r\n")
    m.sock.settimeout(10)
    line = m.readline()
    assert line == b"* 1 EXISTS\r\n", line
    assert m.readline() == b"* 1 RECENT\r\n"  # IMAP4rev1
    # Commands pipelined right after DONE run.
    m.send(f"DONE\r\n{tag}x NOOP\r\n".encode())
    assert m.readline().startswith(f"{tag} OK".encode())
    assert m.readline().startswith(f"{tag}x OK".encode())
    m.logout()


def test_logins_count_with_pop3(make_server):
    """R-POP-3 counts IMAP logins too."""
    srv = make_server("[policy]\npop_logins_per_hour = 3\n")
    srv.setup_domain()
    for _ in range(3):
        imap_login(srv).logout()
    with pytest.raises(imaplib.IMAP4.error) as e:
        imap_login(srv)
    assert "AUTHENTICATIONFAILED" in str(e.value)


def test_brute_force_limit(make_server):
    """R-ABUSE-4: after the failures allowed, even the right password fails."""
    srv = make_server("[policy]\nauth_failures_per_account = 3\nauth_failures_per_ip = 100\n")
    srv.setup_domain()
    for _ in range(3):
        m = Imap(srv.ports["imap"])
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice@example.test", "wrong")
        m.shutdown()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(srv)
    ev = srv.cli("evidence", "--rule", "R-ABUSE-4", "--format", "json").stdout
    assert '"imap"' in ev and "locked out" in ev, ev


def test_bad_input(make_server):
    srv = make_server("[limits]\nimap_login_timeout = \"2s\"\n[server]\nmax_message_size = \"1MB\"\n")
    srv.setup_domain()
    s = raw(srv.ports["imap"])
    assert s.recv(4096).startswith(b"* OK [CAPABILITY")
    # Empty lines are tolerated; garbage gets BAD, not a hang or a close.
    s.sendall(b"\r\n\r\na1 FROB\r\n* BAD\r\na2 FETCH\r\na3 NOOP\r\n")
    buf = b""
    while b"a3 OK" not in buf:
        buf += s.recv(4096)
    assert b"a1 BAD" in buf and b"a2 BAD" in buf
    # A synchronizing literal over the limit is refused before it is sent.
    s.sendall(b"a4 LOGIN {99999999}\r\n")
    assert re.match(rb"a4 (BAD|NO) ", s.recv(4096))
    # A line over 64 KB is refused whole; the session goes on.
    s.sendall(b"a5 NOOP " + b"x" * 70_000 + b"\r\na6 NOOP\r\n")
    buf = b""
    while b"a6 OK" not in buf:
        buf += s.recv(4096)
    assert b"a5 BAD" in buf
    # Autologout before login (limits.imap_login_timeout).
    s.settimeout(10)
    rest = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        rest += c
    assert b"* BYE" in rest
    # A 100k-UID set (a 64 KB line) is accepted.
    m = imap_login(srv)
    m.select("INBOX")
    uids = ",".join(str(i) for i in range(1, 100_000, 9))
    assert len(uids) > 64_000
    typ, data = m.uid("FETCH", uids, "(FLAGS)")
    assert typ == "OK"
    m.logout()


def test_idle_across_two_nodes(make_server, backend, tmp_path, dns):
    """New mail delivered by one node reaches an IDLE session on another
    node of the same PostgreSQL store (it looks every limits.imap_poll)."""
    if backend != "postgres":
        pytest.skip("two nodes share a PostgreSQL store")
    a = make_server("[limits]\nimap_poll = \"200ms\"\n")
    a.setup_domain()
    d = tmp_path / "node-b"
    d.mkdir()
    b = Server(d, "postgres", "[limits]\nimap_poll = \"200ms\"\n", dns_port=dns.port)
    b.config.write_text(b.config.read_text().replace(b.store_url, a.store_url))
    b.store_url = a.store_url
    b.start()
    try:
        m = imap_login(a)
        m.select("INBOX")
        tag = m._new_tag().decode()
        m.send(f"{tag} IDLE\r\n".encode())
        assert m.readline().startswith(b"+")
        deliver(b, "alice@example.test", b"Subject: from b\r\n\r\nx\r\n")
        m.sock.settimeout(10)
        assert m.readline() == b"* 1 EXISTS\r\n"
        assert m.readline() == b"* 1 RECENT\r\n"
        m.send(b"DONE\r\n")
        m.readline()
        m.logout()
    finally:
        b.stop()


def test_imap_read_retention(make_server):
    """policy.imap_read_retention (R-POP-5): off by default; when set, mail
    first read over IMAP goes after it, mail only listed stays."""
    srv = make_server("[policy]\nimap_read_retention = \"2s\"\n")
    srv.setup_domain()
    for i in range(2):
        deliver(srv, "alice@example.test", f"Subject: r{i}\r\n\r\nbody\r\n".encode())
    m = imap_login(srv)
    m.select("INBOX")
    # Headers only (a webmail's list) is not a read; the body is.
    m.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    m.fetch("1", "(BODY.PEEK[])")
    m.logout()

    def left():
        c = imap_login(srv)
        typ, data = c.select("INBOX")
        c.logout()
        return int(data[0])

    wait_for(lambda: left() == 1, timeout=15, interval=0.5)
    # The default keeps mail read over IMAP.
    srv2 = make_server()
    srv2.setup_domain()
    deliver(srv2, "alice@example.test", b"Subject: kept\r\n\r\nbody\r\n")
    m = imap_login(srv2)
    m.select("INBOX")
    m.fetch("1", "(BODY[])")
    m.logout()
    time.sleep(3)
    c = imap_login(srv2)
    assert c.select("INBOX")[1] == [b"1"]
    c.logout()
