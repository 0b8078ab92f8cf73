"""IMAP consistency under concurrent sessions (R-POP-5): tests/imap/stress.py
against the real server, on both backends.

Several sessions of alice (all from 127.0.0.1, so the mailbox lease lets
them in together) do random APPEND / STORE / EXPUNGE / COPY / MOVE / FETCH /
SEARCH on INBOX and stress-b from a fixed seed; every session's view, built
only from the server's untagged responses, must match the store at the end.
The harness is proved against Dovecot by tests/imap/stress_dovecot.sh; the
self-test here proves it against this server too: answers damaged by a
proxy must fail the run.
"""

import os
import subprocess
import sys

STRESS = os.path.join(os.path.dirname(__file__), "..", "imap", "stress.py")
SEED = "20251207"


def stress(server, tmp_path, *extra, starttls=False, timeout=120):
    port = server.ports["imap"] if starttls else server.ports["imaps"]
    cmd = [
        sys.executable, STRESS, "--host", "127.0.0.1", "--port", str(port),
        "--starttls" if starttls else "--tls",
        "--user", "alice@example.test", "--password", "secret-pw",
        "--seed", SEED, "--log-dir", str(tmp_path / "traces"), *extra,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = r.stdout + r.stderr
    print(out)
    return r.returncode, out


def test_concurrent_sessions_agree_with_the_store(server, tmp_path):
    """Six sessions at once (rev1, QRESYNC, IMAP4rev2, CONDSTORE modes)."""
    code, out = stress(server, tmp_path, "--sessions", "6", "--ops", "300")
    assert code == 0, out + server.read_log()
    assert "PASS" in out


def test_serial_run_matches_the_model(server, tmp_path):
    """One command at a time: every answer is checked against a model of
    the mailbox (flags, expunges, SEARCH, STATUS); over STARTTLS."""
    code, out = stress(server, tmp_path, "--sessions", "4", "--ops", "250", "--serial", starttls=True)
    assert code == 0, out + server.read_log()


def test_harness_catches_damaged_answers(server, tmp_path):
    """The harness cannot silently pass: through a proxy that drops an
    EXPUNGE, changes FLAGS, shifts a UID, repeats an APPENDUID or inflates
    STATUS, every run fails, and the undamaged run through it passes."""
    code, out = stress(server, tmp_path, "--self-test", "--sessions", "3", "--ops", "60", timeout=300)
    assert code == 0, out
    assert "self-test PASS" in out
