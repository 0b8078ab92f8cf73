"""Outbound delivery (R-OUT-9): the queue worker delivers submitted mail to
a real SMTP sink on loopback, by static route or by MX lookup against a
real DNS server on loopback; failures end in RFC 3464 DSNs."""

import email
import signal
import smtplib
import time


from helpers import pop_messages, tls_ctx, wait_for

PW = "secret-pw"


def submit(server, rcpts, body=None, sender="alice@example.test"):
    body = body or f"From: {sender}\r\nSubject: out\r\n\r\nhello world\r\n.dot line\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=20) as s:
        s.starttls(context=tls_ctx())
        s.login(sender, PW)
        return s.sendmail(sender, rcpts, body)


def routed(make_server, sink, extra="", retry='retry_base = "300ms"\nretry_max = "1s"\n'):
    srv = make_server(sink.route + retry + 'poll = "100ms"\n' + extra)
    srv.setup_domain()
    return srv


def queue_empty(server):
    return server.cli("queue", "list").stdout.strip() == ""


def test_delivered_by_static_route(make_server, sink):
    srv = routed(make_server, sink)
    submit(srv, ["one@remote.test", "two@remote.test"])
    got = sink.wait(1)
    assert len(got) == 1, got
    mail_from, rcpts, data = got[0]
    assert mail_from == "alice@example.test" and sorted(rcpts) == ["one@remote.test", "two@remote.test"]
    assert data.endswith(b"hello world\r\n.dot line\r\n"), data
    assert b"DKIM-Signature:" in data and b"with ESMTPSA" in data
    assert wait_for(lambda: queue_empty(srv))


def test_signing_can_be_turned_off(make_server, sink):
    # dkim.sign = false: for a provider whose outbound relay signs.
    srv = routed(make_server, sink, '[dkim]\nsign = false\n')
    submit(srv, ["one@remote.test"])
    got = sink.wait(1)
    assert len(got) == 1 and b"with ESMTPSA" in got[0][2]
    assert b"DKIM-Signature:" not in got[0][2]


def test_delivered_by_mx_lookup(make_server, sink, dns):
    dns.publish("mxdomain.test", "MX", [(10, "mx1.mxdomain.test")])
    dns.publish("mx1.mxdomain.test", "A", ["127.0.0.1"])
    srv = make_server(f'[delivery]\nmx_port = {sink.port}\npoll = "100ms"\n')
    srv.setup_domain()
    submit(srv, ["someone@mxdomain.test"])
    got = sink.wait(1)
    assert len(got) == 1 and got[0][1] == ["someone@mxdomain.test"]


def dsn_of(server, user="alice@example.test", n=1, timeout=20):
    msgs = []
    wait_for(lambda: len(msgs.__setitem__(slice(None), pop_messages(server.ports["pop3"], user)) or msgs) >= n,
             timeout=timeout, interval=0.2)
    return msgs


def test_permanent_failure_bounces(make_server, sink):
    srv = routed(make_server, sink)
    sink.refuse["nobody@remote.test"] = "550 5.1.1 no such user"
    submit(srv, ["nobody@remote.test", "ok@remote.test"])
    assert len(sink.wait(1)) == 1
    msgs = dsn_of(srv)
    assert len(msgs) == 1
    m = email.message_from_bytes(msgs[0])
    assert m["Return-Path"] == "<>" and m["Auto-Submitted"] == "auto-replied"
    assert m.get_content_type() == "multipart/report" and m.get_param("report-type") == "delivery-status"
    text = msgs[0].decode(errors="replace")
    assert "Final-Recipient: rfc822; nobody@remote.test" in text
    assert "Action: failed" in text and "Status: 5.1.1" in text
    assert "ok@remote.test" not in text.split("Final-Recipient")[1] if "Final-Recipient" in text else True
    assert wait_for(lambda: queue_empty(srv))


def test_temporary_failure_retries_then_bounces(make_server, sink):
    srv = routed(make_server, sink, 'max_queue_time = "2s"\ndelay_warning = "500ms"\n')
    sink.refuse["later@remote.test"] = "451 4.3.0 try again"
    submit(srv, ["later@remote.test"])
    msgs = dsn_of(srv, n=2, timeout=30)
    texts = [m.decode(errors="replace") for m in msgs]
    assert any("Action: delayed" in t for t in texts), texts
    assert any("Action: failed" in t for t in texts), texts
    assert wait_for(lambda: queue_empty(srv))
    # attempts were made more than once
    assert "451" in texts[-1]


def test_null_mx_bounces_at_once(make_server, dns):
    dns.publish("nomail.test", "MX", [(0, ".")])
    srv = make_server('[delivery]\npoll = "100ms"\n')
    srv.setup_domain()
    submit(srv, ["x@nomail.test"])
    msgs = dsn_of(srv)
    assert "5.1.10" in msgs[0].decode(errors="replace")


def test_bounce_of_a_bounce_is_never_sent(make_server, sink):
    # A DSN from the world to a hosted address that then fails would loop:
    # a null-sender message is never bounced.
    srv = routed(make_server, sink)
    sink.refuse["gone@remote.test"] = "550 5.1.1 gone"
    submit(srv, ["gone@remote.test"])
    assert len(dsn_of(srv)) == 1
    time.sleep(1)
    assert len(pop_messages(srv.ports["pop3"], "alice@example.test")) == 1
    assert wait_for(lambda: queue_empty(srv))


def test_connection_is_reused_by_the_next_lane(make_server, sink):
    # Two messages queued apart, each claimed on its own: the second goes
    # over the first one's connection, checked with RSET after its wait.
    srv = routed(make_server, sink, 'connection_cache_time = "30s"\n')
    submit(srv, ["one@remote.test"])
    assert len(sink.wait(1)) == 1
    submit(srv, ["two@remote.test"])
    got = sink.wait(2)
    assert [r for _, r, _ in got] == [["one@remote.test"], ["two@remote.test"]]
    assert sink.peers[0] == sink.peers[1], sink.peers


def test_cached_connection_closed_by_the_peer_is_replaced(make_server):
    # The peer closes the idle connection (421 after 0.5s without a
    # command): the next message takes a new connection at once instead of
    # failing on the dead one and waiting for a retry (an hour here).
    from peers import Sink

    sink = Sink(idle_timeout=0.5)
    try:
        srv = routed(make_server, sink, 'connection_cache_time = "30s"\n', retry='retry_base = "1h"\nretry_max = "1h"\n')
        submit(srv, ["one@remote.test"])
        assert len(sink.wait(1)) == 1
        time.sleep(1.5)
        submit(srv, ["two@remote.test"])
        got = sink.wait(2, timeout=10)
        assert len(got) == 2, srv.cli("queue", "list").stdout
        assert sink.peers[0] != sink.peers[1]
    finally:
        sink.stop()


def test_no_connection_cache(make_server, sink):
    srv = routed(make_server, sink, 'connection_cache_time = "0s"\n')
    for n, rcpt in enumerate(["one@remote.test", "two@remote.test"], 1):
        submit(srv, [rcpt])
        assert len(sink.wait(n)) == n
    assert sink.peers[0] != sink.peers[1], sink.peers


def test_kill_9_during_delivery_delivers_everything(make_server, sink):
    """Crash while the queue drains: after restart every queued message
    reaches the sink. A message can arrive twice only if the crash fell
    between the sink's 250 and our commit of that outcome (RFC 1047); the
    count of such duplicates is bounded by the deliveries in flight."""
    srv = routed(make_server, sink, "per_domain = 4\n")
    n = 60
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=20) as s:
        s.starttls(context=tls_ctx())
        s.login("alice@example.test", PW)
        for i in range(n):
            s.sendmail("alice@example.test", [f"r{i}@remote.test"],
                       f"From: alice@example.test\r\nX-Id: m{i}\r\n\r\nbody {i}\r\n".encode())
    wait_for(lambda: len(sink.messages()) >= n // 3, timeout=20, interval=0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.proc = None
    srv.start()
    wait_for(lambda: len({r for _, rs, _ in sink.messages() for r in rs}) >= n, timeout=60, interval=0.1)
    rcpts = [r for _, rs, _ in sink.messages() for r in rs]
    assert set(rcpts) == {f"r{i}@remote.test" for i in range(n)}, "a queued message was lost"
    dups = len(rcpts) - len(set(rcpts))
    assert dups <= 4, f"{dups} duplicates: more than the deliveries in flight"
    assert wait_for(lambda: queue_empty(srv))
