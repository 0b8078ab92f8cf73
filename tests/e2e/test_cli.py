"""The admin CLI: works with and without a running server, gives clear
errors with a non-zero exit, and changes nothing on error."""

import smtplib

from helpers import pop_messages


def test_cli_without_server(make_server):
    srv = make_server(start=False)
    r = srv.cli("domain", "add", "Example.TEST", "--contact", "admin@example.test")
    assert "example.test" in r.stdout
    srv.cli("user", "add", "alice@example.test", "--password-stdin", input="pw-from-stdin\n")
    srv.cli("user", "add", "bob@example.test", "--password", "x", "--quota", "10MB")
    srv.cli("alias", "add", "info@example.test", "alice@example.test", "bob@example.test")
    out = srv.cli("user", "list", "example.test").stdout
    assert "alice@example.test\tmailbox\tactive" in out
    assert "info@example.test\talias\tactive\t-> alice@example.test, bob@example.test" in out
    assert "example.test" in srv.cli("domain", "list").stdout


def test_cli_errors_change_nothing(make_server):
    srv = make_server(start=False)
    srv.cli("domain", "add", "example.test", "--contact", "admin@example.test")
    srv.cli("user", "add", "alice@example.test", "--password", "x")
    before = srv.cli("user", "list", "example.test").stdout
    for args in [
        ["domain", "add", "example.test", "--contact", "admin@example.test"],  # duplicate
        ["domain", "add", "not a domain", "--contact", "admin@example.test"],
        ["domain", "add", "ok.test", "--contact", "no-at-sign"],
        ["user", "add", "alice@example.test", "--password", "x"],  # duplicate
        ["user", "add", "bad address@example.test", "--password", "x"],
        ["user", "add", "carol@unknown.test", "--password", "x"],
        ["user", "add", "carol@example.test", "--password", "x", "--quota", "lots"],
        ["user", "passwd", "nobody@example.test", "--password", "y"],
        ["user", "suspend", "nobody@example.test"],
        ["user", "delete", "nobody@example.test"],
        ["user", "list", "unknown.test"],
        ["alias", "add", "team@example.test", "alice@example.test", "ghost@example.test"],
        ["alias", "remove", "team@example.test"],
        ["domain", "remove", "example.test"],  # not empty
        ["domain", "remove", "unknown.test"],
    ]:
        r = srv.cli(*args, check=False)
        assert r.returncode != 0, args
        assert r.stderr.strip(), args
        assert "panicked" not in r.stderr, args
    assert srv.cli("user", "list", "example.test").stdout == before
    r = srv.cli("user", "add", "x@example.test", check=False)
    assert r.returncode == 2 and "password" in r.stderr


def test_running_server_sees_cli_changes(server):
    server.cli("user", "add", "carol@example.test", "--password", "secret-pw")
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        assert s.sendmail("x@remote.test", ["carol@example.test"], b"Subject: new\r\n\r\nhi\r\n") == {}
    assert len(pop_messages(server.ports["pop3"], "carol@example.test")) == 1
    server.cli("user", "passwd", "carol@example.test", "--password", "changed")
    assert len(pop_messages(server.ports["pop3"], "carol@example.test", "changed")) == 1
    server.cli("user", "delete", "carol@example.test")
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo("c")
        s.mail("x@remote.test")
        assert s.rcpt("carol@example.test")[0] == 550


def test_bad_config_is_named(make_server):
    srv = make_server("[policy]\nhold_duration = \"soon\"\n", start=False)
    r = srv.cli("domain", "list", check=False)
    assert r.returncode == 2
    assert "policy.hold_duration" in r.stderr and "soon" in r.stderr
    srv.config.write_text(srv.config.read_text() + "\n[nosuch]\nkey = 1\n")
    r = srv.cli("config", "check", check=False)
    assert r.returncode == 2 and "nosuch" in r.stderr


def test_env_override(make_server, tmp_path):
    srv = make_server(start=False)
    srv.setup_domain()
    srv.start(env={"MAILHOST_SERVER__MAX_MESSAGE_SIZE": "2KB"})
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as s:
        s.ehlo("c")
        assert int(s.esmtp_features["size"]) == 2048
