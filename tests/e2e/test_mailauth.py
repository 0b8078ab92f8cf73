"""DKIM signing of submitted mail, `domain dns`, and SPF/DKIM/DMARC results
on inbound mail (R-IN-6, R-OUT-9), with a real DNS server on loopback."""

import re
import smtplib

from helpers import pop_messages, tls_ctx


def test_domain_dns_records(server):
    out = server.cli("domain", "dns", "example.test").stdout
    assert re.search(r"^example\.test\.? .*MX\s+10 mx\.test\.example", out, re.M), out
    assert "v=spf1" in out and "v=DKIM1" in out and "v=DMARC1" in out
    assert "mailhost._domainkey.example.test" in out
    # the key is stable: a second call prints the same record
    assert server.cli("domain", "dns", "example.test").stdout == out
    r = server.cli("domain", "dns", "unknown.test", check=False)
    assert r.returncode == 1 and "no such domain" in r.stderr


def test_spf_and_forged_results(server, dns):
    dns.publish("remote.test", "TXT", ["v=spf1 ip4:127.0.0.1 -all"])
    dns.publish("elsewhere.test", "TXT", ["v=spf1 ip4:192.0.2.1 -all"])
    msg = (b"From: x@remote.test\r\nAuthentication-Results: mx.test.example; spf=pass; dkim=pass\r\n"
           b"Subject: s\r\n\r\nbody\r\n")
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.sendmail("x@remote.test", ["alice@example.test"], msg)
        s.sendmail("y@elsewhere.test", ["alice@example.test"], msg)
    a, b = pop_messages(server.ports["pop3"], "alice@example.test")
    for m in (a, b):
        # ours is first and the forged one claiming our name is gone
        assert m.count(b"Authentication-Results: mx.test.example") == 1, m
    assert b"spf=pass" in a.split(b"\r\nReceived:")[0]
    assert b"spf=fail" in b.split(b"\r\nReceived:")[0]


def test_dkim_signed_submission_verifies_inbound(server, dns):
    # Publish what `domain dns` says, submit as alice, then hand the signed
    # message back to port 25 as if it came from outside: dkim and dmarc pass.
    dns.publish_zone(server.cli("domain", "dns", "example.test").stdout)
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=20) as s:
        s.starttls(context=tls_ctx())
        s.login("alice@example.test", "secret-pw")
        s.sendmail("alice@example.test", ["bob@example.test"],
                   b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: signed\r\n\r\nhello\r\n")
    m = pop_messages(server.ports["pop3"], "bob@example.test")[0]
    assert b"DKIM-Signature: v=1; a=rsa-sha256" in m and b"d=example.test" in m
    # strip what local delivery added, keep the signed message
    signed = m.split(b"DKIM-Signature:", 1)[1]
    signed = b"DKIM-Signature:" + signed
    dns.publish("example.test", "TXT", ["v=spf1 ip4:192.0.2.99 -all"])  # SPF fails: DKIM must carry DMARC
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.sendmail("alice@example.test", ["bob@example.test"], signed)
    back = pop_messages(server.ports["pop3"], "bob@example.test")[1]
    ar = back.split(b"\r\nReceived:")[0]
    assert b"dkim=pass" in ar and b"header.d=example.test" in ar, ar
    assert b"dmarc=pass" in ar, ar


def auth_results(m):
    return m.split(b"\r\nReceived:")[0].decode()


def test_dns_outage_does_not_stall_acceptance_and_recovers(make_server):
    """With nothing answering at dns_server, 32 concurrent senders are not
    held up for their lookups: after a few messages wait, the breaker
    answers temperror at once; the messages are accepted with that result.
    When a DNS server appears there, results come back without a restart."""
    import threading
    import time

    from peers import Dns, free_port

    port = free_port()  # UDP and TCP: nothing listens here yet
    server = make_server(f'[delivery]\ndns_server = "127.0.0.1:{port}"\ndns_timeout = "1s"\nverify_timeout = "2s"\n[limits]\nconnections_per_ip = 64\n')
    server.setup_domain()
    sessions, per_session = 32, 8
    errors = []

    def sender(i):
        try:
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=60) as s:
                for n in range(per_session):
                    s.sendmail(f"s{i}@remote.test", ["alice@example.test"],
                               f"From: s{i}@remote.test\r\nSubject: {i}/{n}\r\n\r\nbody\r\n".encode())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    started = time.time()
    threads = [threading.Thread(target=sender, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - started
    assert not errors, errors[:3]
    # Each message waiting for its lookups would take per_session x 1 s at
    # least (dns_timeout); with the breaker only the first ones wait.
    assert took < per_session * 1.0 - 2, f"{took:.1f}s"
    msgs = pop_messages(server.ports["pop3"], "alice@example.test")
    assert len(msgs) == sessions * per_session
    for m in msgs:
        ar = auth_results(m)
        assert "spf=temperror" in ar and "dmarc=temperror" in ar, ar
    log = lambda: (server.dir / "server.log").read_text(errors="replace")  # noqa: E731
    assert "DNS resolver not answering" in log()

    # A DNS server appears on that port: SPF results come back.
    dns = Dns({("remote.test", "TXT"): ["v=spf1 ip4:127.0.0.1 -all"]}, port=port)
    try:
        deadline = time.time() + 15
        ar = ""
        while time.time() < deadline and "spf=pass" not in ar:
            time.sleep(0.3)
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
                s.sendmail("back@remote.test", ["bob@example.test"],
                           b"From: back@remote.test\r\nSubject: back\r\n\r\nbody\r\n")
            ar = auth_results(pop_messages(server.ports["pop3"], "bob@example.test")[-1])
        assert "spf=pass" in ar, ar
        assert "DNS resolver answers again" in log()
    finally:
        dns.stop()


def test_lookups_are_cached(server, dns):
    dns.publish("remote.test", "TXT", ["v=spf1 ip4:127.0.0.1 -all"])
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        for _ in range(3):
            s.sendmail("x@remote.test", ["alice@example.test"],
                       b"From: x@remote.test\r\nSubject: s\r\n\r\nbody\r\n")
    for m in pop_messages(server.ports["pop3"], "alice@example.test"):
        assert "spf=pass" in auth_results(m)
    # The SPF record once for three messages (TTL 60).
    assert dns.asked.count(("remote.test", "TXT")) == 1, dns.asked
