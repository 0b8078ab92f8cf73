"""Mailing lists (R-LIST-1, R-LIST-2, R-LIST-3, R-LIST-5) through the
CLI and real SMTP (Python smtplib), on both backends: an invitation only
sends a confirmation; the reply to it makes a member; the consent ledger
records every step with time, IP, method, Message-IDs and the token's
hash, and exports as CSV and JSON; unsubscribing is immediate and blocks
re-invitation; forged, reused and cross-purpose tokens are refused with
the rule named."""

import csv
import email
import email.policy
import io
import json
import re
import smtplib

import pytest

from helpers import pop_messages, wait_for

LIST = "news@example.test"


def confirmation(server, user):
    """The confirmation request in `user`'s mailbox: (text, its token)."""
    msgs = []

    def got():
        msgs[:] = [m for m in pop_messages(server.ports["pop3"], f"{user}@example.test") if b"Confirm your subscription" in m]
        return msgs

    wait_for(got, timeout=10)
    assert msgs, f"no confirmation for {user}"
    msg = email.message_from_bytes(msgs[-1], policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    m = re.search(r"news\+confirm-([a-z2-7]+)@example\.test", str(msg["Reply-To"]))
    assert m, msg["Reply-To"]
    assert msg["Auto-Submitted"] == "auto-generated"
    return text, m.group(1)


def send(server, sender, rcpt, body="hello", expect_ok=True):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        msg = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: x\r\nMessage-ID: <m{abs(hash(body))}@client.example>\r\n\r\n{body}\r\n"
        if expect_ok:
            s.sendmail(sender, [rcpt], msg)
            return None
        try:
            s.sendmail(sender, [rcpt], msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as e:
            return e
        raise AssertionError(f"{rcpt}: accepted")


def consent(server, fmt="csv"):
    r = server.cli("list", "consent", LIST, "--format", fmt)
    if fmt == "json":
        return json.loads(r.stdout)
    return list(csv.DictReader(io.StringIO(r.stdout)))


@pytest.fixture
def lists(make_server):
    s = make_server()
    s.setup_domain(users=("owner", "reader", "other"))
    s.cli("list", "create", LIST, "--owner", "owner@example.test", "--name", "Example News")
    return s


def test_invite_confirm_by_reply_and_ledger(lists):
    s = lists
    r = s.cli("list", "invite", LIST, "reader@example.test")
    assert "invited" in r.stdout
    show = json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)
    # Invited is not a member (R-LIST-2).
    assert show["list"]["members"] == 0
    assert show["members"] == [{"address": "reader@example.test", "state": "invited"}]
    text, token = confirmation(s, "reader")
    assert "/lists/confirm?t=" + token in text
    # The reply to the confirmation, through SMTP, makes a member.
    send(s, "reader@example.test", f"news+confirm-{token}@example.test")
    show = json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)
    assert show["list"]["members"] == 1
    assert show["members"][0]["state"] == "member"
    # The ledger: invited (with the confirmation's Message-ID and the
    # token's hash), then confirmed by mail from 127.0.0.1 with the same hash.
    rows = consent(s)
    assert [r["event"] for r in rows] == ["invited", "confirmed"]
    inv, conf = rows
    assert inv["method"] == "invite" and inv["message_id"] and inv["token_sha256"]
    assert conf["method"] == "mail" and conf["ip"] == "127.0.0.1"
    assert conf["token_sha256"] == inv["token_sha256"]
    assert conf["message_id"].startswith("<m") or conf["message_id"].startswith("m")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", conf["time"]), conf["time"]
    assert conf["time"].endswith("+02:00")  # Africa/Johannesburg, the default zone
    assert consent(s, "json")[1]["event"] == "confirmed"
    # The same link again: already a member, nothing new in the ledger.
    send(s, "reader@example.test", f"news+confirm-{token}@example.test", body="again")
    assert len(consent(s)) == 2


def test_subscribe_by_mail_and_unsubscribe_is_permanent(lists):
    s = lists
    send(s, "other@example.test", "news+subscribe@example.test")
    _, token = confirmation(s, "other")
    show = json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)
    assert show["members"] == [{"address": "other@example.test", "state": "pending"}]
    send(s, "other@example.test", f"news+confirm-{token}@example.test")
    send(s, "other@example.test", "news+unsubscribe@example.test")
    show = json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)
    assert show["members"] == [{"address": "other@example.test", "state": "unsubscribed"}]
    # The owner cannot invite it back (R-LIST-3).
    r = s.cli("list", "invite", LIST, "other@example.test", check=False)
    assert r.returncode != 0 and "R-LIST-3" in r.stdout
    # The spent token cannot bring it back either.
    e = send(s, "other@example.test", f"news+confirm-{token}@example.test", body="replay", expect_ok=False)
    assert "R-LIST-1" in str(e) and "already used" in str(e)
    events = [r["event"] for r in consent(s)]
    assert events == ["subscribe-requested", "confirmed", "unsubscribed"]


def test_bad_tokens_and_commands_are_refused(lists):
    s = lists
    s.cli("list", "invite", LIST, "reader@example.test")
    _, token = confirmation(s, "reader")
    forged = token[:-3] + ("aaa" if token[-3:] != "aaa" else "bbb")
    e = send(s, "x@client.example", f"news+confirm-{forged}@example.test", expect_ok=False)
    assert "R-LIST-1" in str(e) and ("not valid" in str(e) or "damaged" in str(e))
    e = send(s, "x@client.example", "news+confirm-notatoken@example.test", expect_ok=False)
    assert "R-LIST-1" in str(e)
    e = send(s, "x@client.example", "news+frobnicate@example.test", expect_ok=False)
    assert "no such list command" in str(e)
    # A subscription request from the null sender has nowhere to go.
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example")
        c.mail("<>")
        code, text = c.rcpt("news+subscribe@example.test")
        assert code == 550 and b"R-LIST-1" in text
    # A list is not a member of a list; nor is a bad address.
    s.cli("list", "create", "other-list@example.test", "--owner", "owner@example.test")
    r = s.cli("list", "invite", LIST, "other-list@example.test", "not an address", check=False)
    assert r.returncode != 0
    assert "cannot be a member of a list" in r.stdout
    assert json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)["list"]["members"] == 0


def test_confirmations_are_rate_limited(make_server):
    s = make_server(extra="[lists]\nconfirm_per_address = 2\n")
    s.setup_domain(users=("owner", "reader"))
    s.cli("list", "create", LIST, "--owner", "owner@example.test")
    s.cli("list", "create", "two@example.test", "--owner", "owner@example.test")
    send(s, "victim@remote.example", "news+subscribe@example.test")
    send(s, "victim@remote.example", "two+subscribe@example.test", body="2")
    # A third request for the same address, even through another list.
    e = send(s, "victim@remote.example", "news+subscribe@example.test", body="3", expect_ok=False)
    assert "R-LIST-1" in str(e) and "confirmation requests" in str(e)
    assert str(e).find("450") >= 0 or "4.7.1" in str(e)


def test_owner_address_and_delete_keeps_ledger(lists):
    s = lists
    send(s, "x@client.example", "news+owner@example.test", body="question for the owner")
    wait_for(lambda: any(b"question for the owner" in m for m in pop_messages(s.ports["pop3"], "owner@example.test")))
    s.cli("list", "invite", LIST, "reader@example.test")
    # The owner cannot be deleted from under the list.
    r = s.cli("user", "delete", "owner@example.test", check=False)
    assert r.returncode != 0 and LIST in r.stderr
    s.cli("list", "delete", LIST)
    r = s.cli("list", "show", LIST, check=False)
    assert r.returncode != 0
    events = [r["event"] for r in consent(s)]
    assert events == ["invited", "list-deleted"]
