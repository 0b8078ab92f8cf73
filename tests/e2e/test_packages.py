"""Hosting packages (`mailhost package set`): per-package limits override the
server's [policy] defaults; a mailbox's package wins over its domain's."""


from helpers import submit

PW = "secret-pw"


def session(server, user):
    return submit(server, user, PW)


def body(sender):
    return f"From: {sender}\r\nSubject: package test\r\n\r\nhello\r\n".encode()


def rcpt_codes(srv, user, n, prefix):
    with session(srv, user) as s:
        s.mail(user)
        return [s.rcpt(f"{prefix}{i}@remote.test")[0] for i in range(n)]


def test_package_limits(make_server, sink):
    srv = make_server('[policy]\nhourly_limit = 300\n'
                      + sink.route)
    r = srv.cli("domain", "add", "pk.test", "--contact", "admin@pk.test", "--package", "small", check=False)
    assert r.returncode != 0 and "package set small" in r.stderr, r.stderr
    out = srv.cli("package", "set", "small", "--hourly-limit", "2", "--quota", "10MB").stdout
    assert "hourly limit 2" in out and "quota 10485760" in out, out
    srv.cli("package", "set", "big", "--hourly-limit", "100", "--max-forwards", "3")
    r = srv.cli("package", "set", "bad name!", check=False)
    assert r.returncode != 0 and "package name" in r.stderr
    assert srv.cli("package", "list").stdout.splitlines() == ["big\t100\t-\t3", "small\t2\t10485760\t-"]

    srv.cli("domain", "add", "pk.test", "--contact", "admin@pk.test", "--package", "small")
    for u, extra in [("a", []), ("b", ["--package", "big"]), ("c", [])]:
        srv.cli("user", "add", f"{u}@pk.test", "--password", PW, *extra)
    # a: the domain's package, 2 an hour; the third recipient places the hold.
    assert rcpt_codes(srv, "a@pk.test", 3, "a") == [250, 250, 451]
    # b: its own package wins.
    assert rcpt_codes(srv, "b@pk.test", 5, "b") == [250] * 5
    # A change to the package applies to the next session of a running server.
    srv.cli("package", "set", "small", "--hourly-limit", "4")
    assert "small\t4\t10485760\t-" in srv.cli("package", "list").stdout
    with session(srv, "c@pk.test") as s:
        rcpts = [f"c{i}@remote.test" for i in range(4)]
        assert s.sendmail("c@pk.test", rcpts, body("c@pk.test")) == {}
        s.mail("c@pk.test")
        code, text = s.rcpt("c4@remote.test")
        assert code == 451 and b"limit of 4" in text and b"R-OUT-6" in text, text
