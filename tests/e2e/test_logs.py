"""serve's log: plain text in a file (no terminal colour codes), or one
JSON object per line with --log-format json / server.log_format."""

import json
import smtplib


def deliver_one(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.sendmail("x@remote.test", ["alice@example.test"], b"Subject: s\r\n\r\nhi\r\n")


def log_text(server):
    server.stop()
    return (server.dir / "server.log").read_text(errors="replace")


def test_log_in_a_file_has_no_escape_codes(server):
    deliver_one(server)
    text = log_text(server)
    assert "\x1b[" not in text, text[:500]
    assert " INFO " in text and "delivered" in text, text[-2000:]


def check_json_lines(text):
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert events and all("level" in e and "message" in e and "timestamp" in e for e in events)
    delivered = [e for e in events if e["message"] == "delivered"]
    # The fields already traced are the object's own keys.
    assert delivered and delivered[0]["rcpts"] == 1 and "qid" in delivered[0], delivered
    assert "\x1b[" not in text


def test_log_format_json_flag(make_server):
    server = make_server(args=("--log-format", "json"))
    server.setup_domain()
    deliver_one(server)
    check_json_lines(log_text(server))


def test_log_format_json_setting(make_server):
    server = make_server('[server]\nlog_format = "json"\n')
    server.setup_domain()
    deliver_one(server)
    check_json_lines(log_text(server))
