"""Bad input: every case ends in a clear reply or a closed connection,
never a hang, a crash or unbounded memory; the server keeps serving."""

import socket
import smtplib
import ssl
import time

from helpers import pop_messages, raw, recv_lines, recv_reply, recv_until_closed


def session(server):
    s = raw(server.ports["smtp"])
    assert recv_reply(s).startswith("220")
    s.sendall(b"EHLO c.test\r\n")
    recv_reply(s)
    return s


def still_serving(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        assert s.noop()[0] == 250


def open_data(server):
    s = session(server)
    s.sendall(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    got = b""
    while got.count(b"\r\n") < 3:
        got += s.recv(4096)
    assert b"354" in got
    return s


def test_starttls_injection_discarded(server):
    s = session(server)
    # The pipelined MAIL arrives in clear text before the handshake and
    # must not be executed inside TLS (CVE-2011-0411).
    s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
    assert recv_reply(s).startswith("220 2.0.0")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s, server_hostname="mx.test.example")
    t.sendall(b"EHLO c.test\r\n")
    r = recv_reply(t)
    assert r.startswith("250"), r
    # The injected MAIL did not open a transaction: a MAIL now is accepted.
    t.sendall(b"MAIL FROM:<x@remote.test>\r\n")
    assert recv_reply(t).startswith("250 2.1.0")
    t.close()


def test_long_line(server):
    s = session(server)
    s.sendall(b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\n")
    first, second = recv_lines(s, 2)
    assert first.startswith("500 5.5.2"), first
    assert second.startswith("250"), "the session recovers at the next line"
    s.close()


def test_garbage_bytes_then_close(server):
    s = session(server)
    s.sendall(bytes(range(256)) * 4 + b"\r\n" + b"\x00\xff\xfe\r\n" * 20)
    r = recv_until_closed(s)
    assert "421 4.7.0" in r, r  # too many errors: closed with a reason
    still_serving(server)


def test_early_disconnects(server):
    for data in [b"", b"EHLO c.test\r\n", b"EHLO c.test\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nhalf a mess"]:
        s = raw(server.ports["smtp"])
        s.sendall(data)
        s.close()
    still_serving(server)
    assert pop_messages(server.ports["pop3"], "alice@example.test") == []


def test_idle_client_times_out(make_server):
    srv = make_server('[limits]\ncommand_timeout = "1s"\ndata_timeout = "1s"\n')
    srv.setup_domain()
    s = raw(srv.ports["smtp"])
    recv_reply(s)
    t0 = time.time()
    r = recv_until_closed(s, timeout=10)
    assert "421 4.4.2" in r and time.time() - t0 < 5
    # a client that stalls in DATA
    s = raw(srv.ports["smtp"])
    recv_reply(s)
    s.sendall(b"EHLO c\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: slow\r\n")
    r = recv_until_closed(s, timeout=10)
    assert "421 4.4.2" in r
    assert pop_messages(srv.ports["pop3"], "alice@example.test") == []


def test_connection_limit_per_ip(make_server):
    srv = make_server("[limits]\nconnections_per_ip = 3\n")
    socks = [raw(srv.ports["smtp"]) for _ in range(3)]
    for s in socks:
        assert recv_reply(s).startswith("220")
    extra = raw(srv.ports["smtp"])
    assert recv_until_closed(extra).startswith("421 4.7.0")
    socks[0].close()
    time.sleep(0.3)
    again = raw(srv.ports["smtp"])
    assert recv_reply(again).startswith("220")


def test_memory_bounded_by_endless_line(server):
    # 20 MB without a newline: the server must answer and not buffer it all.
    s = session(server)
    chunk = b"A" * 65536
    try:
        for _ in range(320):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    still_serving(server)
    rss = int(open(f"/proc/{server.proc.pid}/status").read().split("VmRSS:")[1].split()[0])
    assert rss < 200 * 1024, f"RSS {rss} kB"


def test_trickling_client_hits_session_deadline(make_server):
    srv = make_server('[limits]\nsession_timeout = "2s"\ndata_timeout = "30s"\ncommand_timeout = "30s"\n')
    srv.setup_domain()
    s = raw(srv.ports["smtp"])
    recv_reply(s)
    s.sendall(b"EHLO c\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    recv_lines(s, 10)
    t0 = time.time()
    closed = False
    while time.time() - t0 < 10:
        try:
            s.sendall(b"x")
            s.settimeout(0.5)
            if s.recv(4096) == b"":
                closed = True
                break
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
    assert closed and time.time() - t0 < 6
    assert pop_messages(srv.ports["pop3"], "alice@example.test") == []
