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
    assert len(f"news+confirm-{m.group(1)}") <= 64, m.group(1)
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


def confirm_remote(s, sink, addr):
    """Confirms a remote invitee from the confirmation the sink received."""
    msgs = sink.wait(1)
    for _, rcpts, data in reversed(msgs):
        if addr in rcpts and b"Confirm your subscription" in data:
            msg = email.message_from_bytes(data, policy=email.policy.default)
            tok = re.search(r"\+confirm-([a-z2-7]+)@", str(msg["Reply-To"])).group(1)
            send(s, addr, f"news+confirm-{tok}@example.test", body=f"confirm {addr}")
            return
    raise AssertionError(f"no confirmation for {addr}")


@pytest.fixture
def posting(make_server, sink):
    s = make_server(extra=sink.route + '[lists]\nthrottle = "200ms"\nurl = "https://lists.example.test"\n')
    s.setup_domain(users=("owner", "reader"))
    s.cli("list", "create", LIST, "--owner", "owner@example.test", "--name", "Example News")
    s.cli("list", "invite", LIST, "reader@example.test", "far@remote.test")
    _, tok = confirmation(s, "reader")
    send(s, "reader@example.test", f"news+confirm-{tok}@example.test")
    wait_for(lambda: len(sink.messages()) >= 1)
    confirm_remote(s, sink, "far@remote.test")
    assert json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)["list"]["members"] == 2
    sink.clear()
    return s


def test_post_reaches_members_with_list_headers(posting, sink):
    s = posting
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example")
        msg = ("From: Reader <reader@example.test>\r\nTo: news@example.test\r\nSubject: first post\r\n"
               "List-Id: <forged.elsewhere.example>\r\nList-Unsubscribe: <https://evil.example/>\r\n"
               "Message-ID: <post1@client.example>\r\n\r\nhello list\r\n")
        c.mail("reader@example.test")
        c.rcpt(LIST)
        code, text = c.data(msg)
        assert code == 250 and b"posted to" in text, text
    got = sink.wait(1)
    assert got, "no copy reached the remote member"
    mail_from, rcpts, data = got[0]
    assert rcpts == ["far@remote.test"]
    # A VERP return path per member.
    assert re.match(r"news\+bounce-[a-z2-7]+@example\.test$", mail_from), mail_from
    m = email.message_from_bytes(data, policy=email.policy.default)
    assert m.get_all("List-Id") == ['"Example News" <news.example.test>'], m.get_all("List-Id")
    unsub = m["List-Unsubscribe"]
    assert "https://lists.example.test/lists/unsubscribe?t=" in unsub and "mailto:news+unsubscribe-" in unsub
    # Token addresses keep RFC 5321's 64-octet local part (compact tokens).
    mailto = re.search(r"mailto:([^>]+)", unsub).group(1)
    for addr in (mail_from, mailto):
        assert len(addr.split("@")[0]) <= 64, addr
    assert "evil.example" not in data.decode()  # incoming List-* removed first
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert m["Precedence"] == "list" and m["List-Post"] and m["List-Owner"]
    sig = m["DKIM-Signature"]
    assert sig, "the copy is DKIM-signed"
    h = re.search(r"h=([^;]+)", re.sub(r"\s", "", str(sig))).group(1).lower().split(":")
    for f in ("list-id", "list-unsubscribe", "list-unsubscribe-post", "from"):
        assert f in h, (f, h)
    # The local member has its copy too.
    wait_for(lambda: any(b"hello list" in x for x in pop_messages(s.ports["pop3"], "reader@example.test")))
    copy = [x for x in pop_messages(s.ports["pop3"], "reader@example.test") if b"hello list" in x][0]
    assert b"List-Id: \"Example News\" <news.example.test>" in copy


def test_non_members_and_loops_are_refused(posting):
    s = posting
    e = send(s, "stranger@client.example", LIST, body="let me in", expect_ok=False)
    assert "R-LIST-1" in str(e) and "only its members" in str(e)
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example")
        c.mail("reader@example.test")
        c.rcpt(LIST)
        code, text = c.data("From: reader@example.test\r\nX-Loop: news@example.test\r\nSubject: loop\r\n\r\nround\r\n")
        assert code == 550 and b"R-LIST-3" in text and b"loop" in text, text
    # Over lists.max_post_size (5 MB by default; the server takes 25 MB).
    big = "x" * 998 + "\r\n"
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=60) as c:
        c.ehlo("client.example")
        c.mail("reader@example.test")
        c.rcpt(LIST)
        code, text = c.data("From: reader@example.test\r\nSubject: big\r\n\r\n" + big * 5300)
        assert code == 552 and b"5.3.4" in text and b"R-IN-2" in text and b"max_post_size" in text, text


def test_throttle_spaces_posts(posting, sink):
    s = posting
    import time
    for i in range(3):
        send(s, "reader@example.test", LIST, body=f"post {i}")
    got = sink.wait(3, timeout=30)
    assert len(got) == 3
    # One post per 200 ms at most (R-LIST-6): the copies left in order, spaced.
    arrivals = []
    deadline = time.time() + 10
    while time.time() < deadline and len(arrivals) < 3:
        arrivals = [d for _, _, d in sink.messages()]
        time.sleep(0.05)
    bodies = [re.search(rb"post (\d)", d).group(1) for d in arrivals]
    assert bodies == [b"0", b"1", b"2"], bodies


def offpeak_list(make_server, sink, zone, window, throttle):
    """A server in `zone` with one off-peak `window`, and a list of two
    confirmed members over its off-peak threshold (1)."""
    s = make_server(extra=sink.route + f'[server]\ntimezone = "{zone}"\n[lists]\noffpeak_threshold = 1\n'
                    f'throttle = "{throttle}"\noffpeak = ["{window}"]\n')
    s.setup_domain(users=("owner", "reader", "other"))
    s.cli("list", "create", LIST, "--owner", "owner@example.test")
    s.cli("list", "invite", LIST, "reader@example.test", "other@example.test")
    for u in ("reader", "other"):
        _, tok = confirmation(s, u)
        send(s, f"{u}@example.test", f"news+confirm-{tok}@example.test")
    return s


@pytest.mark.parametrize("zone,offset", [("UTC", b"+00:00"), ("America/New_York", b"-05:00")])
def test_large_list_waits_for_offpeak(make_server, sink, zone, offset):
    """R-LIST-4 in the default-free zone UTC and in a DST zone (New York is
    on EST, UTC-05:00, in December; the windows are local wall-clock time)."""
    import datetime
    import time
    import zoneinfo
    local = datetime.datetime.now(zoneinfo.ZoneInfo(zone))
    if local.month in (3, 4, 10, 11):
        pytest.skip("the offset asserted is the winter one")  # DST itself: crates/lists/src/offpeak.rs tests
    tomorrow = (local + datetime.timedelta(days=1)).strftime("%a").lower()
    s = offpeak_list(make_server, sink, zone, f"{tomorrow} 03:00-04:00", "200ms")
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example")
        c.mail("reader@example.test")
        c.rcpt(LIST)
        code, text = c.data("From: reader@example.test\r\nSubject: big\r\n\r\nbig news\r\n")
    assert code == 250 and b"R-LIST-4" in text and b"03:00" in text, text
    # The poster is told when, in local time with the UTC offset.
    wait_for(lambda: any(b"held until off-peak" in x for x in pop_messages(s.ports["pop3"], "reader@example.test")))
    notice = [x for x in pop_messages(s.ports["pop3"], "reader@example.test") if b"held until off-peak" in x][0]
    assert b"03:00" in notice and offset in notice, notice
    time.sleep(1.5)
    assert not any(b"big news" in x for x in pop_messages(s.ports["pop3"], "other@example.test"))


def test_posts_past_the_windows_end_wait_for_the_next(make_server, sink):
    """A window that ends before a post's throttle slot: the first post goes
    inside the window, the second (whose slot is past the end) is held to
    the next window instead of going out off-window (R-LIST-4, R-LIST-6)."""
    import datetime
    import time
    now = datetime.datetime.now(datetime.timezone.utc)
    end = now + datetime.timedelta(minutes=2)
    window = f"{now:%a} {now:%H:%M}-{end:%H:%M}".lower()  # ends 60-120 s from now
    s = offpeak_list(make_server, sink, "UTC", window, "130s")
    for n in (1, 2):
        with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
            c.sendmail("reader@example.test", [LIST], f"From: reader@example.test\r\nSubject: post {n}\r\n\r\npost number {n}\r\n")
    assert wait_for(lambda: any(b"post number 1" in x for x in pop_messages(s.ports["pop3"], "other@example.test")))
    log = s.dir / "server.log"
    assert wait_for(lambda: b"held to the next window (R-LIST-4)" in log.read_bytes()), log.read_text()[-3000:]
    time.sleep(0.5)
    assert not any(b"post number 2" in x for x in pop_messages(s.ports["pop3"], "other@example.test"))


def curl(*args):
    import subprocess
    r = subprocess.run(["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def test_one_click_unsubscribe_over_http(posting, sink):
    s = posting
    send(s, "reader@example.test", LIST, body="for the link")
    _, _, data = sink.wait(1)[0]
    m = email.message_from_bytes(data, policy=email.policy.default)
    url = re.search(r"<(https://lists\.example\.test/lists/unsubscribe\?t=[a-z2-7]+)>", m["List-Unsubscribe"]).group(1)
    local = url.replace("https://lists.example.test", f"http://127.0.0.1:{s.ports['http']}")
    state = lambda: {x["address"]: x["state"] for x in json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)["members"]}
    # A GET (a link scanner, a preview) changes nothing: it shows a button.
    code, body = curl(local)
    assert code == 200 and "Unsubscribe" in body and "far@remote.test" in body
    assert state()["far@remote.test"] == "member"
    # RFC 8058: POST List-Unsubscribe=One-Click, no cookie, form-urlencoded.
    code, body = curl("-A", "Provider-Unsubscriber/1.0", "-d", "List-Unsubscribe=One-Click", local)
    assert code == 200 and "no more mail" in body, body
    assert state()["far@remote.test"] == "suppressed"
    # Again, multipart this time: idempotent.
    code, _ = curl("-F", "List-Unsubscribe=One-Click", local)
    assert code == 200
    ev = [e for e in consent(s, "json") if e["event"] == "suppressed"]
    assert len(ev) == 1 and ev[0]["method"] == "one-click" and ev[0]["ip"] == "127.0.0.1"
    assert ev[0]["user_agent"] == "Provider-Unsubscriber/1.0"
    # Suppressed: the owner cannot invite it back (R-LIST-3).
    r = s.cli("list", "invite", LIST, "far@remote.test", check=False)
    assert r.returncode != 0 and "R-LIST-3" in r.stdout
    # A forged or cross-purpose token is refused, naming the rule.
    code, body = curl("-d", "List-Unsubscribe=One-Click", local[:-4] + "aaaa")
    assert code in (400, 403) and "R-LIST-3" in body
    # The next post does not reach it.
    sink.clear()
    send(s, "reader@example.test", LIST, body="after")
    wait_for(lambda: any(b"after" in x for x in pop_messages(s.ports["pop3"], "reader@example.test")))
    import time
    time.sleep(0.5)
    assert not sink.messages()


def test_web_confirmation_and_subscribe_form(lists):
    s = lists
    base = f"http://127.0.0.1:{s.ports['http']}"
    code, body = curl(f"{base}/lists/{LIST}")
    assert code == 200 and 'name="address"' in body
    code, body = curl("-H", "Sec-Fetch-Site: same-origin", "-d", "address=reader@example.test", f"{base}/lists/{LIST}")
    assert code == 200 and "confirmation" in body, body
    text, token = confirmation(s, "reader")
    link = re.search(r"https://\S+/lists/confirm\?t=([a-z2-7]+)", text).group(1)
    assert link == token
    code, body = curl(f"{base}/lists/confirm?t={token}")
    assert code == 200 and "Confirm" in body
    assert json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)["list"]["members"] == 0
    code, body = curl("-X", "POST", f"{base}/lists/confirm?t={token}")
    assert code == 200 and "now subscribed" in body, body
    code, body = curl("-X", "POST", f"{base}/lists/confirm?t={token}")
    assert code == 200  # the same link again: already a member
    # A subscription form posted from another site is refused.
    code, _ = curl("-H", "Origin: https://evil.example", "-d", "address=x@example.test", f"{base}/lists/{LIST}")
    assert code == 403
    ev = [e for e in consent(s, "json")]
    assert [e["event"] for e in ev] == ["subscribe-requested", "confirmed"]
    assert ev[0]["method"] == "web" and ev[0]["user_agent"].startswith("curl/")


SEEDS = __import__("pathlib").Path(__file__).resolve().parents[2] / "crates" / "lists" / "fuzz" / "seeds" / "bounce"


def report_to(s, verp, seed, replace=()):
    data = (SEEDS / seed).read_bytes()
    for a, b in replace:
        data = data.replace(a, b)
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("mail.example.net")
        c.mail("<>")
        code, text = c.rcpt(verp)
        assert code == 250, (code, text)
        code, text = c.data(data)
        assert code == 250, (code, text)
        return text.decode()


@pytest.fixture
def bouncing(make_server, sink):
    s = make_server(extra=sink.route + '[lists]\nthrottle = "100ms"\nbounce_interval = "300ms"\nbounce_threshold = 2\n')
    s.setup_domain(users=("owner", "reader"))
    s.cli("list", "create", LIST, "--owner", "owner@example.test")
    s.cli("list", "invite", LIST, "far@remote.test")
    wait_for(lambda: len(sink.messages()) >= 1)
    confirm_remote(s, sink, "far@remote.test")
    sink.clear()
    send(s, "owner@example.test", LIST, body="to bounce")
    mail_from, _, _ = sink.wait(1)[0]
    return s, mail_from


def test_verp_bounces_score_and_disable(bouncing):
    import time
    s, verp = bouncing
    state = lambda: {x["address"]: x["state"] for x in json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)["members"]}
    # A Postfix DSN (5.1.1-style hard failure) to the member's VERP address.
    t = report_to(s, verp, "postfix-failed")
    assert "Counted(2)" in t, t
    # Within the same interval it is not counted again.
    t = report_to(s, verp, "postfix-failed")
    assert "Today" in t, t
    time.sleep(0.4)
    t = report_to(s, verp, "postfix-failed")
    assert "Disabled" in t, t
    assert state()["far@remote.test"] == "disabled"
    events = [e["event"] for e in consent(s, "json")]
    assert events[-3:] == ["bounce", "bounce", "disabled"], events
    # The owner is told.
    wait_for(lambda: any(b"disabled on" in x for x in pop_messages(s.ports["pop3"], "owner@example.test")))
    # A forged VERP token is refused, naming the rule.
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("mail.example.net")
        c.mail("<>")
        c.rcpt(verp[:-20] + "aaaa" + verp[-16:])
        code, text = c.data(b"Subject: x\r\n\r\nx\r\n")
        assert code == 550 and b"R-LIST-1" in text, (code, text)


def test_arf_complaint_suppresses(bouncing):
    s, verp = bouncing
    t = report_to(s, verp, "arf")
    assert "Suppressed" in t, t
    members = json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)["members"]
    assert {"address": "far@remote.test", "state": "suppressed"} in members
    events = [e["event"] for e in consent(s, "json")]
    assert events[-2:] == ["complaint", "suppressed"], events


def test_our_own_dsn_to_a_verp_address_counts(bouncing, sink):
    """A remote member's server refuses its copy: our delivery report goes
    to the member's VERP return path and the list counts the bounce."""
    s, _ = bouncing
    sink.refuse["far@remote.test"] = "550 5.1.1 no such user here"
    send(s, "owner@example.test", LIST, body="refused copy")

    def bounced():
        return [e for e in consent(s, "json") if e["event"] == "bounce"]

    assert wait_for(bounced, timeout=20), consent(s, "json")
    ev = bounced()[0]
    assert ev["address"] == "far@remote.test" and ev["method"] == "bounce" and "5.1.1" in ev["detail"]


def test_moderated_posts_wait_for_the_owner(posting, sink):
    s = posting
    s.cli("list", "set", LIST, "--posting", "moderated")
    # The owner's own post goes straight out; a member's waits.
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example")
        c.mail("reader@example.test")
        c.rcpt(LIST)
        code, text = c.data("From: reader@example.test\r\nSubject: please approve\r\n\r\nmoderated one\r\n")
    assert code == 250 and b"approval" in text, text

    def held_notice():
        out = []
        for x in pop_messages(s.ports["pop3"], "owner@example.test"):
            text = email.message_from_bytes(x, policy=email.policy.default).get_body(("plain",)).get_content()
            if "waits for your approval" in text:
                out.append(text)
        return out

    assert wait_for(held_notice, interval=0.5), [m[:300] for m in pop_messages(s.ports['pop3'], 'owner@example.test')]
    note = held_notice()[-1]
    approve = re.search(r"(news\+approve-[a-z2-7]+@example\.test)", note).group(1)
    reject = re.search(r"(news\+reject-[a-z2-7]+@example\.test)", note).group(1)
    import time
    time.sleep(0.5)
    assert not sink.messages(), "nothing leaves before approval"
    # A forged decision is refused, naming the rule.
    e = send(s, "owner@example.test", approve.replace("approve-", "approve-aa"), expect_ok=False)
    assert "R-LIST-1" in str(e)
    send(s, "owner@example.test", approve)
    got = sink.wait(1)
    assert got and b"moderated one" in got[0][2]
    # Deciding again changes nothing (rejecting an approved post does not unsend it).
    send(s, "owner@example.test", reject, body="late reject")
    time.sleep(0.3)
    assert len(sink.messages()) == 1


def test_dmarc_safe_from_for_authors_whose_domain_asks_it(posting, sink, dns):
    """Issue item 10: the author's From is kept while remote.test has no
    DMARC policy; once it publishes p=quarantine, copies go From the list
    ("Name via List") with the author in Reply-To."""
    s = posting

    def copy_to_reader(marker):
        def got():
            return [x for x in pop_messages(s.ports["pop3"], "reader@example.test") if marker in x]
        assert wait_for(got), f"no copy with {marker!r}"
        return email.message_from_bytes(got()[-1], policy=email.policy.default)

    def post(subject):
        with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
            c.sendmail("far@remote.test", [LIST],
                       f"From: Far Away <far@remote.test>\r\nTo: {LIST}\r\nSubject: {subject}\r\n\r\n{subject} body\r\n")

    post("no policy")
    kept = copy_to_reader(b"no policy body")
    assert kept["From"].addresses[0].addr_spec == "far@remote.test", kept["From"]
    assert kept["Reply-To"] is None
    dns.publish("_dmarc.remote.test", "TXT", ["v=DMARC1; p=quarantine; rua=mailto:d@remote.test"])
    import time
    time.sleep(2.2)  # the NXDOMAIN seen for the first post is cached for the SOA minimum, 2 s
    post("strict policy")
    m = copy_to_reader(b"strict policy body")
    assert m["From"].addresses[0].addr_spec == LIST, m["From"]
    assert m["From"].addresses[0].display_name == "Far Away via Example News"
    assert m["Reply-To"].addresses[0].addr_spec == "far@remote.test"
    assert ("_dmarc.remote.test", "TXT") in [(n.rstrip(".").lower(), t) for n, t in dns.asked]


def test_throttle_holds_across_two_nodes(make_server, backend, sink, tmp_path, dns):
    """R-LIST-6 with two nodes on one PostgreSQL store, both running the
    list worker: posts submitted to either node leave one at a time, each
    once, in order, a throttle apart (the schedule and the sending check
    live in the store)."""
    if backend != "postgres":
        pytest.skip("two nodes share a PostgreSQL store")
    from conftest import Server
    extra = sink.route + '[lists]\nthrottle = "400ms"\n'
    a = make_server(extra=extra)
    a.setup_domain(users=("owner", "reader"))
    a.cli("list", "create", LIST, "--owner", "owner@example.test")
    a.cli("list", "invite", LIST, "reader@example.test", "far@remote.test")
    _, tok = confirmation(a, "reader")
    send(a, "reader@example.test", f"news+confirm-{tok}@example.test")
    wait_for(lambda: len(sink.messages()) >= 1)
    confirm_remote(a, sink, "far@remote.test")
    sink.clear()
    d = tmp_path / "node-b"
    d.mkdir()
    b = Server(d, "postgres", extra, dns_port=dns.port)
    b.config.write_text(b.config.read_text().replace(b.store_url, a.store_url))
    b.store_url = a.store_url
    b.start()
    try:
        import time
        for n in range(10):
            node = (a, b)[n % 2]
            with smtplib.SMTP("127.0.0.1", node.ports["smtp"], timeout=30) as c:
                c.sendmail("reader@example.test", [LIST],
                           f"From: reader@example.test\r\nSubject: two nodes {n}\r\n\r\npost {n:02d} of ten\r\n")
        got = []

        def arrived():
            got[:] = [(t, m) for t, m in sink.timed() if b"of ten" in m]
            return len(got) >= 10

        assert wait_for(arrived, timeout=30), len(got)
        time.sleep(0.5)
        arrived()
        order = [int(re.search(rb"post (\d\d) of ten", m).group(1)) for _, m in got]
        assert sorted(order) == list(range(10)), order  # each once
        assert order == list(range(10)), order  # in submission order
        gaps = [round(y[0] - x[0], 3) for x, y in zip(got, got[1:])]
        # 400 ms apart at least, less the queue's pickup jitter.
        assert min(gaps) >= 0.3, gaps
    finally:
        b.stop()
