"""The README quickstart with swaks and curl."""

import shutil
import subprocess

import pytest


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks not installed")
def test_swaks_then_curl_pop3(server):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]), "--from", "sender@remote.test",
         "--to", "alice@example.test", "--header", "Subject: via swaks", "--body", "hello from swaks"],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 OK" in r.stdout
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]), "--tls", "--from", "sender@remote.test",
         "--to", "bob@example.test", "--body", "over tls"],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    base = f"pop3://127.0.0.1:{server.ports['pop3']}"
    listing = subprocess.run(["curl", "-sS", "--user", "alice%example.test:secret-pw", base + "/"],
                             capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.strip().startswith("1 ")
    msg = subprocess.run(["curl", "-sS", "--user", "alice@example.test:secret-pw", base + "/1"],
                         capture_output=True, text=True, timeout=30)
    assert "Subject: via swaks" in msg.stdout and "hello from swaks" in msg.stdout
    tls = subprocess.run(["curl", "-sSk", "--user", "bob@example.test:secret-pw",
                          f"pop3s://127.0.0.1:{server.ports['pop3s']}/1"], capture_output=True, text=True, timeout=30)
    assert "over tls" in tls.stdout, tls.stderr


def test_swaks_relay_denied(server):
    if not shutil.which("swaks"):
        pytest.skip("swaks not installed")
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]), "--from", "a@remote.test",
         "--to", "victim@elsewhere.test"],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode != 0
    assert "554 5.7.1" in r.stdout and "R-IN-1" in r.stdout


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks not installed")
def test_swaks_submission_with_auth_and_tls(server):
    base = ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["submission"]), "--tls",
            "--from", "alice@example.test", "--to", "bob@example.test", "--header", "Subject: via 587"]
    r = subprocess.run(base + ["--auth", "LOGIN", "--auth-user", "alice%example.test", "--auth-password", "secret-pw"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0" in r.stdout and "250 2.0.0" in r.stdout
    r = subprocess.run(base + ["--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "wrong"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "535 5.7.8" in r.stdout
    # implicit TLS on 465
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(server.ports["submissions"]), "--tlsc",
                        "--from", "bob@example.test", "--to", "alice@example.test",
                        "--auth", "PLAIN", "--auth-user", "bob@example.test", "--auth-password", "secret-pw"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    listing = subprocess.run(["curl", "-sS", "--user", "bob@example.test:secret-pw",
                              f"pop3://127.0.0.1:{server.ports['pop3']}/1"], capture_output=True, text=True, timeout=30)
    assert "Subject: via 587" in listing.stdout and "DKIM-Signature:" in listing.stdout
