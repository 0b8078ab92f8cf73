"""POP3 (R-POP-1, R-POP-4) with Python's poplib."""

import poplib
import smtplib
import ssl

import pytest

from helpers import raw, wait_for


def deliver(server, rcpt, bodies):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        for b in bodies:
            s.sendmail("x@remote.test", [rcpt], b)


def login(server, user="alice@example.test", pw="secret-pw"):
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    p.user(user)
    p.pass_(pw)
    return p


def test_capa_and_logins(server):
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    caps = p.capa()
    for c in ["TOP", "UIDL", "USER", "SASL", "STLS", "RESP-CODES"]:
        assert c in caps, c
    with pytest.raises(poplib.error_proto) as e:
        p.user("alice@example.test")
        p.pass_("wrong")
    assert b"[AUTH]" in e.value.args[0]
    p.quit()
    # local%domain works as well as local@domain (R-ADDR-1)
    p = login(server, "alice%example.test")
    assert p.stat() == (0, 0)
    p.quit()


def test_retr_uidl_top_dele(server):
    bodies = [
        b"Subject: one\r\n\r\n.starts with a dot\r\n..two dots\r\nend\r\n",
        b"Subject: two\r\n\r\nl1\r\nl2\r\nl3\r\n",
    ]
    deliver(server, "alice@example.test", bodies)
    p = login(server)
    count, size = p.stat()
    assert count == 2
    listing = [int(x.split()[1]) for x in p.list()[1]]
    assert sum(listing) == size
    uids = p.uidl()[1]
    for i, b in enumerate(bodies):
        lines = p.retr(i + 1)[1]
        msg = b"\r\n".join(lines) + b"\r\n"
        assert msg.endswith(b), msg
        assert len(msg) == listing[i], "LIST size equals the octets RETR sends"
    top = p.top(2, 1)[1]
    assert top[-2:] == [b"", b"l1"]
    p.dele(1)
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    p.rset()
    p.dele(1)
    p.quit()
    p = login(server)
    assert p.stat()[0] == 1
    assert p.uidl()[1][0].split()[1] == uids[1].split()[1], "UIDs are stable across sessions"
    p.quit()


def test_deletion_only_at_quit(server):
    deliver(server, "alice@example.test", [b"Subject: keep\r\n\r\nx\r\n"])
    p = login(server)
    p.dele(1)
    p.file.close()
    p.sock.close()  # disconnect without QUIT
    # the server notices the disconnect and releases the mailbox lock
    def relogin():
        try:
            return login(server)
        except poplib.error_proto:
            return None
    holder = []
    assert wait_for(lambda: holder.append(relogin()) or holder[-1] is not None, timeout=5)
    p = holder[-1]
    assert p.stat()[0] == 1
    p.quit()


def test_one_session_per_mailbox(server):
    p = login(server)
    q = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    q.user("alice@example.test")
    with pytest.raises(poplib.error_proto) as e:
        q.pass_("secret-pw")
    assert b"[IN-USE]" in e.value.args[0]
    q.close()
    # R-ABUSE-3: the refusal is in the evidence log.
    ev = server.cli("evidence", "--rule", "R-POP-4", "--format", "json").stdout
    assert '"alice@example.test"' in ev and "IN-USE" in ev and '"pop3"' in ev, ev
    # another mailbox is not affected
    login(server, "bob@example.test").quit()
    p.quit()
    login(server).quit()


def test_stls_and_pop3s(server):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deliver(server, "alice@example.test", [b"Subject: s\r\n\r\nx\r\n"])
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    p.stls(context=ctx)
    assert "STLS" not in p.capa()
    p.user("alice@example.test")
    p.pass_("secret-pw")
    assert p.stat()[0] == 1
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], timeout=10, context=ctx)
    p.user("alice%example.test")
    p.pass_("secret-pw")
    assert p.stat()[0] == 1
    p.quit()


def test_sasl_plain(server):
    import base64

    s = raw(server.ports["pop3"])
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    tok = base64.b64encode(b"\0alice@example.test\0secret-pw")
    s.sendall(b"AUTH PLAIN " + tok + b"\r\n")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
    s = raw(server.ports["pop3"])
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"AUTH PLAIN !!!notbase64\r\n")
    assert f.readline().startswith(b"-ERR")


def test_suspended_cannot_login(server):
    server.cli("user", "suspend", "alice@example.test")
    with pytest.raises(poplib.error_proto) as e:
        login(server)
    assert b"R-ADDR-3" in e.value.args[0]


def test_pipelined_retr_returns_the_right_messages(server):
    # Pipelined RETRs are served from read-ahead; with deleted messages in
    # between and a message delivered after login, each reply must still be
    # the message asked for.
    deliver(server, "alice@example.test", [f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode() for i in range(1, 41)])
    s = raw(server.ports["pop3"])
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER alice@example.test\r\nPASS secret-pw\r\nDELE 2\r\nDELE 7\r\n")
    for _ in range(4):
        assert f.readline().startswith(b"+OK")
    deliver(server, "alice@example.test", [b"Subject: late\r\n\r\nafter login\r\n"])
    wanted = [i for i in range(1, 41) if i not in (2, 7)]
    s.sendall(b"".join(f"RETR {i}\r\n".encode() for i in [2] + wanted + [41]))
    assert f.readline().startswith(b"-ERR")  # RETR 2: deleted
    for i in wanted:
        assert f.readline().startswith(b"+OK")
        lines = []
        while (line := f.readline()) != b".\r\n":
            lines.append(line)
        assert f"Subject: m{i}\r\n".encode() in lines, (i, lines)
    assert f.readline().startswith(b"-ERR")  # 41: not in the session's snapshot
    s.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
