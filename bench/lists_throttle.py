#!/usr/bin/env python3
"""The mailing-list throttle (R-LIST-6) through a running server.

R-LIST-6: a list sends at most one post per `lists.throttle`; each post
takes the list's next slot from a schedule kept in the store, and is
expanded to the members when its slot comes. This benchmark starts the
real `mailhost serve` (SQLite in a temporary directory, 127.0.0.1 only,
ephemeral ports), makes a list with one remote member at a loopback SMTP
sink (tests/e2e/peers.py's `Sink`, routed there by `[delivery] routes`)
and, unless --no-local, one local member; both confirm through the real
confirmation flow (the remote one by mailing back the token in the
confirmation the sink received, as tests/e2e/test_lists.py's
`confirm_remote` does). Then one SMTP session on port 25 submits --posts
posts from the local member as fast as the server answers, each with a
counter in its Subject and body, and the sink records the time each
post's copy arrives (end of DATA).

A remote copy leaves through the outbound queue, so the arrival spacing is
the throttle's spacing plus queue pickup jitter (the worker is woken when
a post is expanded, and also polls every `delivery.poll`). The server's
own log (JSON, `list post sent`) gives when each post was expanded, so
the report also shows the expansion spacing and each copy's time in the
queue (arrival - expansion), to tell the two apart.

From the stopped server's store: since 8a7e872 the expanding transaction
writes each sent post's send time into `list_posts.release_at` and
refuses to send a post within one throttle of the list's previous sent
post (the worker then moves the list's whole schedule on by the
shortfall, so later posts keep their order and spacing), so the
send times' spacing is the throttle's guarantee, never below it. That
time is read before the transaction writes: a slow commit or a copy's
wait in the queue can still bring two arrivals closer (a "burst"). The
original slots are rebuilt from the list's schedule (`lists.next_send_at`
is the last slot + throttle; posts submitted faster than the throttle get
consecutive slots); each post's delay is its send time minus the earliest
time it was allowed (the later of its slot and the previous send +
throttle). A post sent late pushes the following ones back (the total time
grows by the delays); it no longer shortens the next spacing. Posts sent
after a later one are reported (none since the schedule slips whole).
(With an older binary `release_at` still holds the slot; the log times
stand in.)

Report: copies received, mean / min / max spacing between consecutive
arrivals (every spacing in time order), the largest deviation from the
throttle, "bursts" (spacing < 0.9 x throttle), "gaps" (spacing > 1.5 x
throttle), total time, whether the copies arrived in posting order; the
expansion, send-time and queue figures above; a summary for people, then
one JSON line (the last line of stdout).

Bounded: everything stops after --timeout seconds (default posts x
throttle x 3 + 60 s); the server is stopped (and dies with this process
in any case: PR_SET_PDEATHSIG) and the temporary directory removed
(--keep keeps it). Exit status 0 when every post's copy arrived, 2 when
some did not, 1 on a setup error.

Usage: bench/lists_throttle.py [--posts 100] [--throttle-ms 200] [--timeout S] [--no-local] [--keep]
       (MAILHOST_BIN: the server binary, default target/release/mailhost)
"""

import argparse
import ctypes
import datetime
import email
import email.policy
import json
import os
import platform
import poplib
import re
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from peers import Dns, Sink  # noqa: E402  (aiosmtpd, dnslib)

DOMAIN = "example.test"
LIST = f"news@{DOMAIN}"
REMOTE = "far@remote.test"
PASSWORD = "bench-pw"
SEQ = re.compile(rb"throttle-bench seq=(\d+)")


class Timeout(Exception):
    pass


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def die_with_parent():
    # The server goes if this process dies, even by SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Server:
    def __init__(self, binary, work, throttle_ms, sink_port, dns_port):
        self.bin = binary
        self.work = work
        self.data = os.path.join(work, "data")
        self.config = os.path.join(work, "mailhost.toml")
        self.stdout = os.path.join(work, "stdout")
        self.log = os.path.join(work, "server.log")
        self.proc = None
        self.ports = {}
        with open(self.config, "w") as f:
            f.write(f"""[server]
hostname = "mx.{DOMAIN}"
data_dir = "{self.data}"
shutdown_grace = "5s"
log_format = "json"
[store]
url = "sqlite://{self.data}/mailhost.db"
[listen]
smtp = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
pop3s = ""
submission = ""
submissions = ""
imap = ""
imaps = ""
http = ""
https = ""
[delivery]
routes = {{ "remote.test" = "127.0.0.1:{sink_port}" }}
# SPF/DKIM/DMARC lookups of mail on port 25 go to a loopback stub (NXDOMAIN).
dns_server = "127.0.0.1:{dns_port}"
[dkim]
rsa_bits = 1024
[policy]
# One member posts many times: lift the hourly limits (R-OUT-6/7, and the
# domain limit that spreads list copies over later hours) so that only the
# throttle spaces the posts.
hourly_limit = 100000000
domain_hourly_limit = 100000000
[lists]
throttle = "{throttle_ms}ms"
url = "https://lists.{DOMAIN}"
""")

    def cli(self, *args):
        r = subprocess.run([self.bin, "--config", self.config, *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"mailhost {' '.join(args)} failed ({r.returncode}): {r.stderr or r.stdout}")
        return r.stdout

    def start(self):
        env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
        with open(self.stdout, "wb") as out, open(self.log, "ab") as err:
            self.proc = subprocess.Popen([self.bin, "--config", self.config, "serve"], stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent)
        deadline = time.time() + 60
        while time.time() < deadline:
            text = open(self.stdout, errors="replace").read()
            for m in re.finditer(r"mailhost: (\w+) listening on (\S+):(\d+)", text):
                self.ports[m.group(1)] = int(m.group(3))
            if "mailhost: ready" in text:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.tail()}")

    def tail(self, n=3000):
        try:
            return open(self.log, errors="replace").read()[-n:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def smtp_send(port, sender, rcpt, subject, body):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("client.example")
        msg = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\nMessage-ID: <{time.time_ns()}@client.example>\r\n\r\n{body}\r\n"
        c.sendmail(sender, [rcpt], msg)


def token_of(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    m = re.search(r"\+confirm-([a-z2-7]+)@", str(msg["Reply-To"]))
    return m.group(1) if m else None


def pop_confirmation(port, user):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    try:
        p.user(user)
        p.pass_(PASSWORD)
        count, _ = p.stat()
        for i in range(count, 0, -1):
            data = b"\r\n".join(p.retr(i)[1]) + b"\r\n"
            if b"Confirm your subscription" in data:
                return token_of(data)
    finally:
        p.quit()
    return None


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def setup(s, sink, local):
    s.cli("domain", "add", DOMAIN, "--contact", f"admin@{DOMAIN}")
    for u in ("owner", "reader"):
        s.cli("user", "add", f"{u}@{DOMAIN}", "--password", PASSWORD)
    s.cli("list", "create", LIST, "--owner", f"owner@{DOMAIN}", "--name", "Throttle Bench")
    invitees = [REMOTE] + ([f"reader@{DOMAIN}"] if local else [])
    s.cli("list", "invite", LIST, *invitees)
    smtp = s.ports["smtp"]
    if local:
        tok = wait_for(lambda: pop_confirmation(s.ports["pop3"], f"reader@{DOMAIN}"), 30, "the local confirmation")
        smtp_send(smtp, f"reader@{DOMAIN}", f"news+confirm-{tok}@{DOMAIN}", "confirm", "confirm reader")

    def remote_token():
        for _, rcpts, data in reversed(sink.messages()):
            if REMOTE in rcpts and b"Confirm your subscription" in data:
                return token_of(data)
        return None

    tok = wait_for(remote_token, 30, "the remote confirmation at the sink")
    smtp_send(smtp, REMOTE, f"news+confirm-{tok}@{DOMAIN}", "confirm", f"confirm {REMOTE}")
    show = json.loads(s.cli("list", "show", LIST, "--format", "json"))
    states = {m["address"]: m["state"] for m in show["members"]}
    want = len(invitees)
    if show["list"]["members"] != want or any(states.get(a) != "member" for a in invitees):
        raise RuntimeError(f"members not confirmed: {show}")
    # The poster: the local member, or (without one) the remote member.
    return f"reader@{DOMAIN}" if local else REMOTE


def submit(port, poster, n):
    """n posts over one SMTP session; returns the time of each 250."""
    done = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
        c.ehlo("client.example")
        for i in range(n):
            msg = (f"From: Poster <{poster}>\r\nTo: {LIST}\r\nSubject: throttle post {i:05d}\r\n"
                   f"Message-ID: <throttle-{i}-{time.time_ns()}@client.example>\r\n\r\n"
                   f"throttle-bench seq={i}\r\n")
            code, text = c.mail(poster)
            if code != 250:
                raise RuntimeError(f"post {i}: MAIL {code} {text!r}")
            code, text = c.rcpt(LIST)
            if code != 250:
                raise RuntimeError(f"post {i}: RCPT {code} {text!r}")
            code, text = c.data(msg.encode())
            if code != 250:
                raise RuntimeError(f"post {i}: DATA {code} {text!r}")
            if b"R-LIST-4" in text or b"approval" in text:
                raise RuntimeError(f"post {i} was held, not queued: {text!r}")
            done.append(time.time())
    return done


def expansions(path):
    """(post id, unix time) of every `list post sent` in the server's JSON log."""
    out = []
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return out
    for line in lines:
        if "list post sent" not in line:
            continue
        try:
            e = json.loads(line)
            t = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
            out.append((int(e["post"]), t))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def store_times(db):
    """([(post id, release_at in unix seconds)] of the sent posts, the
    list's next_send_at in unix seconds or None), read from the stopped
    server's store. release_at is the send time (the slot before 8a7e872).
    Best effort: ([], None) if the schema differs."""
    import sqlite3
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = c.execute("SELECT id, release_at FROM list_posts WHERE state = 'sent' ORDER BY id").fetchall()
            nxt = c.execute("SELECT next_send_at FROM lists WHERE address = ?", (LIST,)).fetchone()
        finally:
            c.close()
        return [(int(i), r / 1000) for i, r in rows], (nxt[0] / 1000 if nxt and nxt[0] else None)
    except sqlite3.Error:
        return [], None


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def spacing_stats(times, throttle):
    gaps = [b - a for a, b in zip(times, times[1:])]
    if not gaps:
        return gaps, {}
    return gaps, {
        "mean_ms": statistics.fmean(gaps) * 1000,
        "min_ms": min(gaps) * 1000,
        "p50_ms": pct(gaps, 50) * 1000,
        "p90_ms": pct(gaps, 90) * 1000,
        "max_ms": max(gaps) * 1000,
        "max_dev_ms": max(abs(g - throttle) for g in gaps) * 1000,
        "bursts": sum(1 for g in gaps if g < 0.9 * throttle),
        "gaps": sum(1 for g in gaps if g > 1.5 * throttle),
    }


def analyse(args, sink_times, sink_msgs, t_start, submitted, exps, stored, timed_out):
    throttle = args.throttle_ms / 1000
    arrivals = []  # (time, seq) of post copies, in arrival order
    for t, (_, rcpts, data) in zip(sink_times, sink_msgs):
        m = SEQ.search(data)
        if m and REMOTE in rcpts:
            arrivals.append((t, int(m.group(1))))
    seqs = [s for _, s in arrivals]
    first = {}
    for t, s in arrivals:
        first.setdefault(s, t)
    times = [t for t, _ in arrivals]
    gaps, sp = spacing_stats(times, throttle)
    out_of_order = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
    r = {
        "bench": "lists_throttle",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "posts": args.posts,
        "throttle_ms": args.throttle_ms,
        "local_member": not args.no_local,
        "received": len(first),
        "duplicates": len(arrivals) - len(first),
        "missing": args.posts - len(first),
        "in_order": seqs == sorted(seqs) and len(first) == len(arrivals),
        "out_of_order_steps": out_of_order,
        "submitted": len(submitted),
        "submit_s": (submitted[-1] - t_start) if submitted else None,
        "first_arrival_s": (times[0] - t_start) if times else None,
        "total_s": (times[-1] - t_start) if times else None,
        "span_s": (times[-1] - times[0]) if times else None,
        # What the throttle alone would take for the copies that came.
        "ideal_span_s": max(0, len(times) - 1) * throttle,
        "timed_out": timed_out,
        "arrival": sp,
        "spacings_ms": [round(g * 1000, 1) for g in gaps] if args.spacings else None,
    }
    # The server's expansion times: the throttle itself, without the queue.
    if exps:
        exps = sorted(exps)[-args.posts:] if len(exps) > args.posts else sorted(exps)
        et = [t for _, t in exps]
        _, r["expansion"] = spacing_stats(sorted(et), throttle)
        by_time = [i for i, _ in sorted(exps, key=lambda e: e[1])]
        r["expansion"]["out_of_order_steps"] = sum(1 for a, b in zip(by_time, by_time[1:]) if b < a)
        if len(exps) == args.posts:
            # Post ids are given in acceptance order: the k-th is seq k.
            lat = [first[k] - et[k] for k in range(args.posts) if k in first]
            if lat:
                r["queue_ms"] = {"mean": statistics.fmean(lat) * 1000, "p50": pct(lat, 50) * 1000,
                                 "p90": pct(lat, 90) * 1000, "max": max(lat) * 1000, "min": min(lat) * 1000}
    # The send times in the store (the throttle's guarantee: never closer
    # than one throttle), the original slots rebuilt from the schedule, and
    # each post's delay past the earliest time it was allowed.
    sent, next_send = stored
    if sent:
        n = len(sent)
        slot = {i: next_send - (n - k) * throttle for k, (i, _) in enumerate(sent)} if next_send else {}
        # An older binary kept the slot in release_at: use the log times.
        old = bool(slot) and all(abs(t - slot[i]) < 0.0005 for i, t in sent)
        if any(t < slot[i] - 0.0005 for i, t in sent if i in slot):
            slot = {}  # not consecutive slots (posts came slower than the throttle): no rebuild
        at = dict(exps or [])
        if old:
            sent = [(i, at[i]) for i, _ in sent if i in at]
        sent.sort(key=lambda e: (e[1], e[0]))  # in the order they went
        st = [t for _, t in sent]
        sg = [b - a for a, b in zip(st, st[1:])]
        r["sent"] = {"count": len(st), "source": "log (release_at holds the slots)" if old else "store",
                     "min_ms": min(sg) * 1000 if sg else None, "max_ms": max(sg) * 1000 if sg else None,
                     "below_throttle": sum(1 for g in sg if g < throttle - 0.0005),
                     # [post, the later post sent just before it]
                     "out_of_order": [[b, a] for (a, _), (b, _) in zip(sent, sent[1:]) if b < a]}
        delay, behind = [], []
        prev = None
        for i, t in sent:
            earliest = max(x for x in (slot.get(i), prev + throttle if prev is not None else None, 0) if x is not None)
            if slot or prev is not None:
                delay.append(t - earliest)
            if i in slot:
                behind.append(t - slot[i])
            prev = t
        if delay:
            r["send_delay_ms"] = {"mean": statistics.fmean(delay) * 1000, "p50": pct(delay, 50) * 1000,
                                  "p90": pct(delay, 90) * 1000, "max": max(delay) * 1000}
        if behind:
            r["behind_slot_ms"] = {"last": behind[-1] * 1000, "max": max(behind) * 1000}
    return r


def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


def summary(r):
    a, thr = r.get("arrival") or {}, r["throttle_ms"]
    lines = [
        f"== mailing-list throttle (R-LIST-6): {r['posts']} posts, throttle {thr} ms, "
        f"{'one remote + one local member' if r['local_member'] else 'one remote member'}, SQLite, 127.0.0.1",
        f"submitted: {r['submitted']} posts in {fmt(r['submit_s'], 2)} s (one SMTP session)",
        f"received at the sink: {r['received']} of {r['posts']} (missing {r['missing']}, duplicates {r['duplicates']})"
        + ("  ** TIMED OUT **" if r["timed_out"] else ""),
        f"order kept: {'yes' if r['in_order'] else 'NO'} ({r['out_of_order_steps']} steps backwards)",
        f"total: {fmt(r['total_s'], 2)} s from the first submission to the last arrival; "
        f"first arrival to last {fmt(r['span_s'], 2)} s (ideal {fmt(r['ideal_span_s'], 2)} s)",
    ]
    if a:
        lines.append(
            f"arrival spacing: mean {fmt(a['mean_ms'])} ms, min {fmt(a['min_ms'])}, p50 {fmt(a['p50_ms'])}, "
            f"p90 {fmt(a['p90_ms'])}, max {fmt(a['max_ms'])}; max deviation from {thr} ms {fmt(a['max_dev_ms'])} ms")
        lines.append(f"bursts (spacing < {0.9 * thr:.0f} ms): {a['bursts']}; gaps (> {1.5 * thr:.0f} ms): {a['gaps']}")
    e = r.get("expansion")
    if e:
        lines.append(
            f"expansion spacing (server log, the throttle without the queue): mean {fmt(e['mean_ms'])} ms, "
            f"min {fmt(e['min_ms'])}, max {fmt(e['max_ms'])}, max deviation {fmt(e['max_dev_ms'])} ms, bursts {e['bursts']}; "
            f"{e['out_of_order_steps']} steps backwards in posting order")
    sn, dl, bh = r.get("sent"), r.get("send_delay_ms"), r.get("behind_slot_ms")
    if sn and sn["min_ms"] is not None:
        lines.append(f"send times ({sn['source']}): {sn['count']}, {fmt(sn['min_ms'])}-{fmt(sn['max_ms'])} ms apart, "
                     f"{sn['below_throttle']} closer than {thr} ms; a post sent after a later one: "
                     f"{', '.join(f'{b} after {a}' for b, a in sn['out_of_order']) or 'none'}")
    if dl:
        lines.append(f"send delay (send - the later of its slot and the previous send + {thr} ms): "
                     f"mean {fmt(dl['mean'])} ms, p50 {fmt(dl['p50'])}, p90 {fmt(dl['p90'])}, max {fmt(dl['max'])}")
    if bh:
        lines.append(f"behind the original slots: last post {fmt(bh['last'])} ms, at most {fmt(bh['max'])} ms")
    q = r.get("queue_ms")
    if q:
        lines.append(f"queue time per copy (arrival - expansion): mean {fmt(q['mean'])} ms, p50 {fmt(q['p50'])}, "
                     f"p90 {fmt(q['p90'])}, max {fmt(q['max'])}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=100)
    ap.add_argument("--throttle-ms", type=int, default=200)
    ap.add_argument("--timeout", type=float, help="seconds for everything (default posts x throttle x 3 + 60)")
    ap.add_argument("--no-local", action="store_true", help="no local member; the remote member posts")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (server log, store)")
    ap.add_argument("--spacings", action="store_true", help="every arrival spacing in the JSON")
    args = ap.parse_args()
    if args.posts < 2 or args.throttle_ms < 1:
        ap.error("--posts >= 2 and --throttle-ms >= 1")
    binary = os.environ.get("MAILHOST_BIN", os.path.join(ROOT, "target", "release", "mailhost"))
    if not os.access(binary, os.X_OK):
        sys.exit(f"lists_throttle: no mailhost binary at {binary} (set MAILHOST_BIN)")
    limit = args.timeout or args.posts * args.throttle_ms / 1000 * 3 + 60
    throttle = args.throttle_ms / 1000

    def expired(*_):
        raise Timeout()

    signal.signal(signal.SIGALRM, expired)
    signal.signal(signal.SIGTERM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    work = tempfile.mkdtemp(prefix="mh-lists-throttle-")
    dns = sink = server = None
    status = 1
    try:
        dns = Dns({})
        sink = Sink()
        server = Server(binary, work, args.throttle_ms, sink.port, dns.port)
        log(f"lists_throttle: {binary}, work dir {work}, timeout {limit:.0f} s")
        server.start()
        poster = setup(server, sink, not args.no_local)
        # Let the confirmation mail leave, then record post copies only.
        time.sleep(0.5)
        sink.clear()
        t_start = time.time()
        timed_out = False
        submitted = []
        try:
            submitted = submit(server.ports["smtp"], poster, args.posts)
            # Every copy, or no new one for a while (the queue retries a
            # failed copy only minutes later): stop then.
            stall = max(15.0, 20 * throttle)
            last_n, last_t = -1, time.time()
            while True:
                rec = sink.messages()
                seen = {int(m.group(1)) for _, r_, d in rec if (m := SEQ.search(d)) and REMOTE in r_}
                n = len(rec)
                if len(seen) >= args.posts:
                    break
                if n != last_n:
                    last_n, last_t = n, time.time()
                elif time.time() - last_t > stall:
                    log(f"lists_throttle: no copy for {stall:.0f} s; {len(seen)} of {args.posts} arrived")
                    break
                time.sleep(0.01)
            # A moment more for duplicates.
            time.sleep(min(1.0, 2 * throttle))
        except Timeout:
            timed_out = True
            log(f"lists_throttle: global timeout of {limit:.0f} s reached")
        signal.setitimer(signal.ITIMER_REAL, 0)
        with sink.lock:
            times, msgs = list(sink.arrived), list(sink.received)
        server.stop()
        r = analyse(args, times, msgs, t_start, submitted, expansions(server.log),
                    store_times(os.path.join(server.data, "mailhost.db")), timed_out)
        print(summary(r))
        r["machine"] = {"cpu": cpu_model(), "nproc": os.cpu_count(), "arch": platform.machine()}
        print(json.dumps(r, separators=(",", ":")), flush=True)
        status = 0 if r["missing"] == 0 and not timed_out else 2
    except Timeout:
        log(f"lists_throttle: global timeout of {limit:.0f} s reached during setup")
        if server:
            log(server.tail())
    except Exception as e:  # a setup failure: say why, with the server's log
        log(f"lists_throttle: {e}")
        if server:
            log(server.tail())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if server:
            server.stop()
        for peer in (sink, dns):
            if peer:
                try:
                    peer.stop()
                except Exception:
                    pass
        if args.keep:
            log(f"lists_throttle: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
