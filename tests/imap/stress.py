#!/usr/bin/env python3
"""IMAP consistency stress test.

N sessions of one account work on two folders (INBOX and PREFIX-b) at the
same time, doing random APPEND / STORE / EXPUNGE / COPY / MOVE / FETCH /
SEARCH / STATUS / NOOP chosen from a fixed seed.  Each session keeps its
own view of its selected folder (sequence number -> UID, flags), built
only from what the server tells it: EXISTS, EXPUNGE, VANISHED, FETCH,
RECENT (RFC 9051 §7, RFC 7162 §3.2.10).  Nothing is taken on trust: the
view is checked against every response as it arrives, and at the end every
view must equal what a fresh session reads from the store.

Python 3.11, standard library only.  The small IMAP client below is
deliberately not imaplib: the point is to see every untagged response.

    python3 tests/imap/stress.py --host 127.0.0.1 --port 143 --starttls \
        --user alice@example.test --password secret-pw \
        [--sessions 4] [--ops 200] [--seed 1] [--serial] [--self-test]

THE ACCOUNT'S FIRST FOLDER (INBOX by default) IS EMPTIED, and PREFIX-b
deleted and re-created, before the run.

Checked while running (any failure is a "VIOLATION", exit code 1):
  - EXISTS never lower than the session's message count (RFC 9051 §7.4.1);
  - EXPUNGE sequence numbers within 1..count (§7.5.1); no EXPUNGE while
    answering FETCH, STORE or SEARCH (§7.5.1); no EXPUNGE once QRESYNC is
    enabled (RFC 7162 §3.2.10); VANISHED only for UIDs the session was told
    about (RFC 7162 §3.2.10.2);
  - UIDs strictly ascending in the view (RFC 9051 §2.3.1.1); every FETCH
    with a UID agrees with the view at that sequence number;
  - FETCH of a sequence range answers every number in it (and, with
    --serial, UID FETCH every existing UID in its range);
  - UIDVALIDITY of a folder never changes (SELECT, STATUS, APPENDUID,
    COPYUID); UIDNEXT (SELECT, STATUS) never goes back and is above every
    UID assigned before the command was sent;
  - APPENDUID / COPYUID (RFC 4315) present, UIDs above every UID known in
    the target folder before the command was sent, never given twice;
    COPYUID source UIDs within the requested set, as many as target UIDs;
  - SEARCH answers name messages in the view; MODSEQ (RFC 7162) of a
    message never goes back;
  - BAD is never an acceptable answer; unexpected BYE fails the run.
With --serial (one command at a time across all sessions, fully
deterministic for a given seed) the harness also keeps a model of the
mailbox and checks every FETCH FLAGS, every STORE / EXPUNGE / MOVE
effect, every SEARCH answer and every STATUS count against it.

Checked at the end (after each session's NOOP):
  - every session's view (UIDs and flags, \\Recent aside) equals a fresh
    session's `UID FETCH 1:* (FLAGS)` of that folder;
  - STATUS MESSAGES / UNSEEN / UIDNEXT / UIDVALIDITY agree with what the
    fresh session counts;
  - accounting: UIDs assigned (APPENDUID, COPYUID) = appended + copied +
    moved in, all distinct; the final messages are a subset of them; every
    message that went away was moved out or had \\Deleted; no message that
    a session saw expunged is still there; every message moved out is gone.

--self-test runs the harness (in --serial mode, as a child process)
through a small TCP proxy in this file that damages the server's answers
(drops one EXPUNGE, changes one FETCH FLAGS, shifts one UID, repeats one
APPENDUID, inflates one STATUS; and with sessions at once, drops one
VANISHED), and checks that each damaged run fails while an undamaged run
through the same proxy passes.

Exit codes: 0 all checks passed, 1 a violation, 2 setup or usage error.

What a server may do and the harness accepts (each seen in Dovecot 2.3):
unsolicited FETCH FLAGS (without UID) in the middle of a UID FETCH answer;
SEARCH evaluated on the flags last told to the session, the newer flags
following; EXPUNGE leaving \Deleted messages not yet announced to the
session; FETCH/STORE/COPY of a message expunged elsewhere answered NO (or
OK with nothing copied).  Dovecot also runs a pipelined `UID STORE +FLAGS
(\Deleted)` / `UID EXPUNGE` pair at once, so the harness never pipelines
commands that affect each other, and with maildir (not sdbox) it gives
messages new UIDs under concurrent flag changes, which this harness reports
(see stress_dovecot.sh).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

SYSTEM_FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"]
KEYWORDS = ["$stress1", "$stress2", "kw_a", "kw_b"]
MAX_RANGE = 200_000  # refuse to expand a sequence set larger than this


class Violation(Exception):
    """A server answer broke an invariant (exit 1)."""


class SetupError(Exception):
    """The run could not start (exit 2)."""


# ---------------------------------------------------------------------------
# Wire format: sequence sets, tokens, responses
# ---------------------------------------------------------------------------


def fmt_set(nums) -> str:
    nums = sorted(set(nums))
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}:{nums[j]}")
        i = j + 1
    return ",".join(out)


def parse_set(s: str) -> list[int]:
    """Expands a server's sequence set (no `*`: servers don't send it)."""
    out: list[int] = []
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":", 1)
            lo, hi = sorted((int(a), int(b)))
            if hi - lo > MAX_RANGE:
                raise Violation(f"sequence set {s!r} is implausibly large")
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


class Str(str):
    """A quoted string or literal (as opposed to an atom)."""


def tokenize(data: bytes, i: int = 0, close: bool = False):
    """Tokens of one response (literals inlined): atoms as str, strings as
    Str, parenthesised lists as list.  Brackets are atom characters."""
    out: list = []
    n = len(data)
    while i < n:
        c = data[i]
        if c == 0x20:
            i += 1
        elif c == 0x28:  # (
            sub, i = tokenize(data, i + 1, True)
            out.append(sub)
        elif c == 0x29:  # )
            if close:
                return out, i + 1
            raise Violation(f"unbalanced ')' in {data[:200]!r}")
        elif c == 0x22:  # "
            j, buf = i + 1, bytearray()
            while True:
                if j >= n:
                    raise Violation(f"unterminated quoted string in {data[:200]!r}")
                ch = data[j]
                if ch == 0x5C:
                    buf.append(data[j + 1])
                    j += 2
                    continue
                if ch == 0x22:
                    break
                buf.append(ch)
                j += 1
            out.append(Str(buf.decode("utf-8", "replace")))
            i = j + 1
        elif c == 0x7B or (c == 0x7E and i + 1 < n and data[i + 1] == 0x7B):  # { or ~{
            m = re.match(rb"~?\{(\d+)\+?\}\r\n", data[i : i + 40])
            if not m:
                raise Violation(f"bad literal in {data[:200]!r}")
            start = i + m.end()
            length = int(m.group(1))
            out.append(Str(data[start : start + length].decode("utf-8", "replace")))
            i = start + length
        else:
            j = i
            while j < n and data[j] not in b' ()"\r\n':
                j += 1
            out.append(data[i:j].decode("utf-8", "replace"))
            i = j
    if close:
        raise Violation(f"unbalanced '(' in {data[:200]!r}")
    return out, i


def split_resp_text(rest: bytes):
    """`[CODE args] text` -> (code tokens or [], text)."""
    rest = rest.lstrip(b" ")
    if not rest.startswith(b"["):
        return [], rest.decode("utf-8", "replace")
    depth, i, quoted = 0, 0, False
    while i < len(rest):
        ch = rest[i]
        if quoted:
            if ch == 0x5C:
                i += 1
            elif ch == 0x22:
                quoted = False
        elif ch == 0x22:
            quoted = True
        elif ch == 0x5B:
            depth += 1
        elif ch == 0x5D:
            depth -= 1
            if depth == 0:
                break
        i += 1
    code, _ = tokenize(rest[1:i])
    return code, rest[i + 1 :].decode("utf-8", "replace").strip()


def norm_flags(flags) -> frozenset:
    """Flags compare case-insensitively (RFC 9051 §2.3.2); \\Recent is
    per-session and left out of every comparison."""
    return frozenset(f.lower() for f in flags if f.lower() != "\\recent")


def show_flags(flags) -> str:
    return "(" + " ".join(sorted(flags)) + ")"


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Literal:
    def __init__(self, data: bytes):
        self.data = data


# ---------------------------------------------------------------------------
# Connection: bytes in and out, with a trace
# ---------------------------------------------------------------------------


class Conn:
    def __init__(self, args, name: str, log_dir: str | None = None):
        self.name = name
        self.args = args
        self.trace = collections.deque(maxlen=80)
        self.logf = open(os.path.join(log_dir, f"{name}.log"), "w") if log_dir else None
        self.buf = b""
        self.sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # pipelined commands
        if args.tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname=args.host)

    def note(self, direction: str, data: bytes):
        text = data.decode("utf-8", "replace").rstrip("\r\n")
        if len(text) > 400:
            text = text[:400] + f"...[{len(text)} chars]"
        line = f"{time.monotonic():.3f} {direction} {text}"
        self.trace.append(line)
        if self.logf:
            self.logf.write(line + "\n")

    def send(self, data: bytes, shown: bytes | None = None):
        self.note("C:", shown if shown is not None else data)
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Violation(f"{self.name}: no answer within {self.args.timeout} s") from None
        if not chunk:
            raise Violation(f"{self.name}: the server closed the connection")
        self.buf += chunk

    def read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[: i + 2], self.buf[i + 2 :]
                return line
            self._fill()

    def read_response(self) -> bytes:
        """One response with its literals, without the final CRLF."""
        data = self.read_line()
        while True:
            m = re.search(rb"\{(\d+)\}\r\n$", data)
            if not m:
                break
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            data += self.buf[:n]
            self.buf = self.buf[n:]
            data += self.read_line()
        self.note("S:", data)
        return data[:-2]

    def starttls(self):
        self.sock = tls_context().wrap_socket(self.sock, server_hostname=self.args.host)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.logf:
            self.logf.close()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------------------
# What all sessions share: per-folder facts and, with --serial, the model
# ---------------------------------------------------------------------------


class FolderFacts:
    def __init__(self, name):
        self.name = name
        self.uidvalidity = None
        self.uidnext_seen = 0  # highest UIDNEXT reported so far
        self.max_uid = 0  # highest UID known to exist or to have been assigned
        self.assigned: set[int] = set()  # APPENDUID / COPYUID targets
        self.appended = 0
        self.copied_in = 0
        self.moved_in = 0
        self.moved_out: set[int] = set()
        self.deleted_ever: set[int] = set()  # may have had \Deleted
        self.copied_to: list[tuple[int, str, int]] = []  # (uid, folder, new uid) by COPYUID
        self.seen_expunged: set[int] = set()  # a session was told it went away


class World:
    def __init__(self, folders, serial: bool):
        self.lock = threading.RLock()
        self.folders = {f: FolderFacts(f) for f in folders}
        # --serial: folder -> {uid: flags}; None when sessions run at once
        self.model = {f: {} for f in folders} if serial else None
        self.failed: list[str] = []
        self.ops = collections.Counter()
        self.nos = collections.Counter()

    def fact(self, folder) -> FolderFacts:
        return self.folders[folder]

    def snapshot(self, folder):
        with self.lock:
            f = self.folders[folder]
            return f.max_uid, f.uidnext_seen

    def saw_uid(self, folder, uid):
        with self.lock:
            f = self.folders[folder]
            if uid > f.max_uid:
                f.max_uid = uid

    def check_uidvalidity(self, folder, value, where):
        with self.lock:
            f = self.folders[folder]
            if f.uidvalidity is None:
                f.uidvalidity = value
            elif f.uidvalidity != value:
                raise Violation(f"{where}: UIDVALIDITY of {folder} is {value}, was {f.uidvalidity}")

    def check_uidnext(self, folder, value, snap, where):
        max_before, uidnext_before = snap
        with self.lock:
            f = self.folders[folder]
            if value <= max_before:
                raise Violation(
                    f"{where}: UIDNEXT {value} of {folder} is not above UID {max_before}, "
                    "which existed or was assigned before the command was sent"
                )
            if value < uidnext_before:
                raise Violation(f"{where}: UIDNEXT {value} of {folder} went back (was {uidnext_before})")
            f.uidnext_seen = max(f.uidnext_seen, value)

    def assign(self, folder, uids, snap, where):
        """New UIDs from APPENDUID / COPYUID."""
        max_before, _ = snap
        with self.lock:
            f = self.folders[folder]
            for u in uids:
                if u <= max_before:
                    raise Violation(
                        f"{where}: new UID {u} in {folder} is not above UID {max_before}, "
                        "known before the command was sent"
                    )
                if u in f.assigned:
                    raise Violation(f"{where}: UID {u} in {folder} was already given to another message")
                f.assigned.add(u)
                f.max_uid = max(f.max_uid, u)


# ---------------------------------------------------------------------------
# A session and its view
# ---------------------------------------------------------------------------


class Msg:
    __slots__ = ("uid", "flags")

    def __init__(self, uid=None, flags=None):
        self.uid = uid
        self.flags = flags


class Batch:
    """What the responses to one group of (pipelined) commands carried."""

    def __init__(self, no_expunge: bool):
        self.no_expunge = no_expunge  # only FETCH / STORE / SEARCH inside
        self.fetch: list[tuple[int, int | None, frozenset | None]] = []
        self.search: list[int] = []
        self.search_uid = False
        self.got_search = False
        self.status: dict[str, dict[str, int]] = {}
        self.copyuid = None
        self.expunged: list[int | None] = []  # UIDs, None if the slot was unknown
        self.exists: list[int] = []
        self.codes: list[list] = []  # untagged OK codes


class Session:
    def __init__(self, args, world: World, index: int, name: str, folder: str | None, mode: str):
        self.args = args
        self.world = world
        self.index = index
        self.name = name
        self.rng = random.Random(f"{args.seed}-{index}")
        self.conn = Conn(args, name, args.log_dir)
        self.tagn = 0
        self.caps: set[str] = set()
        self.mode = mode  # rev1 / qresync / condstore / rev2
        self.enabled: set[str] = set()
        self.folder = None
        self.home = folder  # the folder this session works in
        self.view: list[Msg] = []
        self.modseq: dict[int, int] = {}
        self.lost_unknown = 0  # slots expunged before their UID was fetched
        self.completed: dict[str, tuple[str, list, str]] = {}
        self.batch: Batch | None = None
        self.logging_out = False
        self.ops_done = collections.Counter()

    # -- plumbing ----------------------------------------------------------

    def fail(self, msg: str):
        raise Violation(f"{self.name} ({self.folder}): {msg}")

    def next_tag(self) -> str:
        self.tagn += 1
        return f"{self.name}.{self.tagn}"

    def literal_plus(self, n: int) -> bool:
        return "LITERAL+" in self.caps or ("LITERAL-" in self.caps and n <= 4096)

    def send_command(self, tag: str, parts) -> None:
        if isinstance(parts, str):
            parts = [parts]
        out = tag.encode() + b" "
        shown = out
        for p in parts:
            if isinstance(p, Literal):
                n = len(p.data)
                if self.literal_plus(n):
                    out += f"{{{n}+}}\r\n".encode() + p.data
                    shown += f"{{{n}+}}\r\n".encode() + f"<{n} octets>".encode()
                else:
                    out += f"{{{n}}}\r\n".encode()
                    self.conn.send(out, shown + f"{{{n}}}".encode())
                    self.wait_continuation(tag)
                    out = p.data
                    shown = f"<{n} octets>".encode()
            else:
                out += p.encode()
                shown += p.encode()
        self.conn.send(out + b"\r\n", shown)

    def wait_continuation(self, tag):
        while True:
            data = self.conn.read_response()
            if data.startswith(b"+"):
                return
            self.dispatch(data)
            if tag in self.completed:
                self.fail(f"literal refused: {self.completed[tag]}")

    def run(self, *cmds, no_expunge=False, allow_no=False):
        """Sends the commands (pipelined), reads until every one is done.
        Returns [(status, code tokens, text)] in order."""
        self.batch = Batch(no_expunge)
        tags = []
        for c in cmds:
            tag = self.next_tag()
            tags.append(tag)
            self.send_command(tag, c)
        while not all(t in self.completed for t in tags):
            self.dispatch(self.conn.read_response())
        results = [self.completed.pop(t) for t in tags]
        for c, (st, code, text) in zip(cmds, results):
            name = (c if isinstance(c, str) else c[0]).split(" ")[0:2]
            if st == "BAD" or (st == "NO" and not allow_no):
                self.fail(f"{' '.join(name)} answered {st} [{' '.join(map(str, code))}] {text}")
        return results

    def dispatch(self, data: bytes):
        if data.startswith(b"* "):
            self.untagged(data[2:])
        elif data.startswith(b"+"):
            self.fail(f"unexpected continuation request {data[:100]!r}")
        else:
            m = re.match(rb"(\S+) (OK|NO|BAD)\b ?(.*)$", data, re.S | re.I)
            if not m:
                self.fail(f"unparsable response {data[:200]!r}")
            code, text = split_resp_text(m.group(3))
            self.completed[m.group(1).decode()] = (m.group(2).decode().upper(), code, text)

    # -- untagged responses: the view ---------------------------------------

    def untagged(self, data: bytes):
        m = re.match(rb"(\d+) (\w+)\b ?(.*)$", data, re.S)
        if m:
            n, kind, rest = int(m.group(1)), m.group(2).decode().upper(), m.group(3)
            if kind == "EXISTS":
                return self.on_exists(n)
            if kind == "EXPUNGE":
                return self.on_expunge(n)
            if kind == "RECENT":
                if n > len(self.view):
                    self.fail(f"RECENT {n} is above the message count {len(self.view)}")
                return
            if kind == "FETCH":
                toks, _ = tokenize(rest)
                if len(toks) != 1 or not isinstance(toks[0], list):
                    self.fail(f"malformed FETCH {data[:200]!r}")
                return self.on_fetch(n, toks[0])
            return
        word = data.split(b" ", 1)[0].decode("utf-8", "replace").upper()
        rest = data[len(word) + 1 :]
        if word in ("OK", "NO", "BAD", "BYE", "PREAUTH"):
            code, text = split_resp_text(rest)
            if word == "BYE" and not self.logging_out:
                self.fail(f"unexpected BYE {text}")
            if word == "BAD":
                self.fail(f"untagged BAD {text}")
            if code and self.batch is not None:
                self.batch.codes.append(code)
                if code[0].upper() == "COPYUID":
                    self.batch.copyuid = code
                if code[0].upper() == "CLOSED":
                    self.view = []  # RFC 7162 §3.2.11: what follows is the new mailbox
            return
        if word == "CAPABILITY":
            self.caps = {c.upper() for c in rest.decode().split()}
            return
        if word == "VANISHED":
            toks, _ = tokenize(rest)
            if toks and isinstance(toks[0], list):
                self.fail("unexpected VANISHED (EARLIER): the harness never asked for it")
            return self.on_vanished(parse_set(toks[0]))
        if word == "SEARCH":
            if self.batch:
                toks, _ = tokenize(rest)
                self.batch.got_search = True
                self.batch.search += [int(t) for t in toks if not isinstance(t, list)]
            return
        if word == "ESEARCH":
            toks, _ = tokenize(rest)
            if self.batch:
                self.batch.got_search = True
                i = 0
                while i < len(toks):
                    t = toks[i]
                    if isinstance(t, list):
                        i += 1
                    elif t.upper() == "UID":
                        self.batch.search_uid = True
                        i += 1
                    elif t.upper() == "ALL":
                        self.batch.search += parse_set(toks[i + 1])
                        i += 2
                    else:
                        i += 2
            return
        if word == "STATUS":
            toks, _ = tokenize(rest)
            if len(toks) >= 2 and isinstance(toks[1], list) and self.batch:
                kv = toks[1]
                self.batch.status[str(toks[0])] = {kv[i].upper(): int(kv[i + 1]) for i in range(0, len(kv) - 1, 2)}
            return
        # FLAGS, LIST, LSUB, ENABLED, NAMESPACE, ID, QUOTA…: nothing to track

    def on_exists(self, n: int):
        if n < len(self.view):
            self.fail(f"EXISTS {n} is lower than the current count {len(self.view)} (RFC 9051 §7.4.1)")
        self.view.extend(Msg() for _ in range(n - len(self.view)))
        if self.batch:
            self.batch.exists.append(n)

    def forget(self, idx: int, uid: int | None = None):
        msg = self.view.pop(idx)
        if msg.uid is None:
            msg.uid = uid  # VANISHED names the UID of a slot not fetched yet
        if msg.uid is None:
            self.lost_unknown += 1
        else:
            self.modseq.pop(msg.uid, None)
            with self.world.lock:
                self.world.fact(self.folder).seen_expunged.add(msg.uid)
        if self.batch:
            self.batch.expunged.append(msg.uid)

    def on_expunge(self, n: int):
        if "QRESYNC" in self.enabled:
            self.fail(f"EXPUNGE {n} sent although QRESYNC is enabled (RFC 7162 §3.2.10: VANISHED)")
        if self.batch is not None and self.batch.no_expunge:
            self.fail(f"EXPUNGE {n} sent while answering FETCH/STORE/SEARCH (RFC 9051 §7.5.1)")
        if not 1 <= n <= len(self.view):
            self.fail(f"EXPUNGE {n} is outside 1..{len(self.view)}")
        self.forget(n - 1)

    def on_vanished(self, uids: list[int]):
        if self.batch is not None and self.batch.no_expunge:
            self.fail(f"VANISHED {fmt_set(uids)} sent while answering FETCH/STORE/SEARCH (RFC 9051 §7.5.1)")
        for u in uids:
            idx = self.find(u)
            if idx is not None:
                self.forget(idx)
                continue
            # a message announced by EXISTS whose UID the session has not
            # fetched yet: an unknown slot where UID u fits the ascending order
            prev = 0
            fit = None
            for i, m in enumerate(self.view):
                if m.uid is None:
                    if prev < u and fit is None:
                        fit = i
                elif m.uid > u:
                    break
                else:
                    prev = m.uid
                    fit = None
            if fit is not None:
                self.forget(fit, u)
                continue
            self.fail(f"VANISHED names UID {u}, which this session was never told about (RFC 7162 §3.2.10.2)")

    def find(self, uid: int):
        for i, m in enumerate(self.view):  # views stay small
            if m.uid == uid:
                return i
        return None

    def on_fetch(self, n: int, items: list):
        if not 1 <= n <= len(self.view):
            self.fail(f"FETCH for message {n}, outside 1..{len(self.view)}")
        msg = self.view[n - 1]
        uid = flags = None
        i = 0
        while i + 1 < len(items):
            key = str(items[i]).upper()
            val = items[i + 1]
            if key == "UID":
                uid = int(val)
            elif key == "FLAGS":
                if not isinstance(val, list):
                    self.fail(f"FETCH {n} FLAGS is not a list")
                flags = norm_flags(val)
            elif key == "MODSEQ":
                ms = int(val[0])
                u = uid if uid is not None else msg.uid
                if u is not None:
                    if ms < self.modseq.get(u, 0):
                        self.fail(f"MODSEQ of UID {u} went back from {self.modseq[u]} to {ms}")
                    self.modseq[u] = ms
            i += 2
        if uid is not None:
            if msg.uid is None:
                prev = next((m.uid for m in reversed(self.view[: n - 1]) if m.uid is not None), 0)
                nxt = next((m.uid for m in self.view[n:] if m.uid is not None), None)
                if uid <= prev or (nxt is not None and uid >= nxt):
                    self.fail(f"FETCH {n} gives UID {uid}; the view's UIDs around it are {prev} and {nxt}: not ascending")
                msg.uid = uid
                self.world.saw_uid(self.folder, uid)
            elif msg.uid != uid:
                self.fail(f"FETCH {n} gives UID {uid}, but message {n} of the view is UID {msg.uid}")
        if flags is not None:
            msg.flags = flags
            if "\\deleted" in flags and msg.uid is not None and self.folder:
                with self.world.lock:
                    self.world.fact(self.folder).deleted_ever.add(msg.uid)
        if self.batch is not None:
            self.batch.fetch.append((n, uid, flags))

    # -- session set-up ------------------------------------------------------

    def greet_and_login(self):
        greeting = self.conn.read_response()
        if not greeting.startswith(b"* OK"):
            raise SetupError(f"{self.name}: greeting {greeting[:200]!r}")
        if self.args.starttls:
            self.run("STARTTLS")
            self.conn.starttls()
        st = self.run(f"LOGIN {quote(self.args.user)} {quote(self.args.password)}", allow_no=True)[0]
        if st[0] != "OK":
            raise SetupError(f"{self.name}: LOGIN failed: {st}")
        if st[1] and st[1][0].upper() == "CAPABILITY":
            self.caps = {c.upper() for c in st[1][1:]}
        else:
            self.run("CAPABILITY")
        want = []
        if self.mode == "qresync" and "QRESYNC" in self.caps:
            want = ["QRESYNC"]
        elif self.mode == "condstore" and "CONDSTORE" in self.caps:
            want = ["CONDSTORE"]
        elif self.mode == "rev2" and "IMAP4REV2" in self.caps:
            want = ["IMAP4rev2"]
        if want and "ENABLE" in self.caps:
            self.run("ENABLE " + " ".join(want))
            self.enabled = {w.upper() for w in want}
            if "QRESYNC" in self.enabled:
                self.enabled.add("CONDSTORE")
        else:
            self.mode = "rev1"

    def select(self, folder: str):
        if self.folder is not None and "UNSELECT" in self.caps:
            self.run("UNSELECT")
            self.folder = None
            self.view = []
        snap = self.world.snapshot(folder)
        self.view = []
        self.modseq = {}
        old = self.folder
        self.folder = folder  # responses from here on describe the new folder
        st = self.run(f"SELECT {quote(folder)}")[0]
        uidvalidity = uidnext = None
        for code in self.batch.codes + [st[1]]:
            if code and code[0].upper() == "UIDVALIDITY":
                uidvalidity = int(code[1])
            if code and code[0].upper() == "UIDNEXT":
                uidnext = int(code[1])
        if uidvalidity is None or uidnext is None:
            self.fail(f"SELECT {folder} (from {old}) without UIDVALIDITY / UIDNEXT (RFC 9051 §6.3.2)")
        self.world.check_uidvalidity(folder, uidvalidity, f"{self.name} SELECT")
        self.world.check_uidnext(folder, uidnext, snap, f"{self.name} SELECT")
        self.fill()
        model = self.world.model
        if model is not None:
            want = sorted(model[folder])
            got = [m.uid for m in self.view]
            if got != want:
                self.fail(f"after SELECT the folder has UIDs {fmt_set(got)}, the model says {fmt_set(want)}")

    def fill(self):
        """Learns the UIDs and flags of the messages announced by EXISTS
        (a plain FETCH: no EXPUNGE may come while it is answered)."""
        stuck = 0
        for _ in range(500):  # new EXISTS may come with every answer
            unknown = [i + 1 for i, m in enumerate(self.view) if m.uid is None or m.flags is None]
            if not unknown:
                return
            items = "(UID FLAGS MODSEQ)" if "CONDSTORE" in self.enabled else "(UID FLAGS)"
            st = self.run(f"FETCH {fmt_set(unknown)} {items}", no_expunge=True, allow_no=True)[0]
            self.check_model(self.batch)
            if st[0] == "NO":
                self.world.nos["fill FETCH answered NO"] += 1
            got = {n for n, _, _ in self.batch.fetch}
            missing = [n for n in unknown if n not in got]
            if missing and st[0] == "OK":
                self.fail(f"FETCH {fmt_set(unknown)} answered OK without data for message(s) {fmt_set(missing)}")
            if any(self.view[n - 1].uid is None or self.view[n - 1].flags is None for n in unknown):
                # NO for a message expunged elsewhere (RFC 2180 §4.1.2): the
                # EXPUNGE comes with the next command
                stuck += 1
                if stuck > 3:
                    break
                self.run("NOOP")
                self.check_model(self.batch)
        left = [i + 1 for i, m in enumerate(self.view) if m.uid is None or m.flags is None]
        if left:
            self.fail(f"still no UID/FLAGS for message(s) {fmt_set(left)} after repeated FETCH + NOOP")

    def check_model(self, b: Batch):
        """--serial: after a batch, what it reported agrees with the model."""
        model = self.world.model
        if model is None or self.folder is None:
            return
        m = model[self.folder]
        for u in b.expunged:
            if u is not None and u in m:
                self.fail(f"UID {u} reported expunged, but it was not expunged (model flags {show_flags(m[u])})")
        for n, uid, _ in b.fetch:
            u = uid
            if u is None and n <= len(self.view):
                u = self.view[n - 1].uid
            idx = self.find(u) if u is not None else None
            if idx is not None and u in m and self.view[idx].flags != m[u]:
                self.fail(f"FETCH FLAGS of UID {u}: {show_flags(self.view[idx].flags)}; the model says {show_flags(m[u])}")

    def logout(self):
        self.logging_out = True
        try:
            self.run("LOGOUT")
        except Violation:
            pass
        self.conn.close()

    # -- helpers for the operations ------------------------------------------

    def other(self) -> str:
        a, b = self.args.folders
        return b if self.folder == a else a

    def uids(self) -> list[int]:
        return [m.uid for m in self.view]

    def pick_uids(self) -> list[int]:
        uids = self.uids()
        if not uids:
            return []
        r = self.rng.random()
        if r < 0.5:
            return sorted(self.rng.sample(uids, min(len(uids), self.rng.randint(1, 3))))
        # a run of neighbours in the view, sent as a range
        i = self.rng.randrange(len(uids))
        j = min(len(uids), i + self.rng.randint(1, 5))
        return uids[i:j]

    def uid_set_text(self, uids) -> str:
        """A contiguous run of view UIDs may be sent as lo:hi: nothing the
        session does not know can lie between two UIDs it knows."""
        if len(uids) > 1 and self.rng.random() < 0.5 and uids == self.range_in_view(uids[0], uids[-1]):
            return f"{uids[0]}:{uids[-1]}"
        return fmt_set(uids)

    def range_in_view(self, lo, hi):
        return [u for u in self.uids() if lo <= u <= hi]

    def pick_seqs(self):
        n = len(self.view)
        if not n:
            return None
        a = self.rng.randint(1, n)
        b = min(n, a + self.rng.randint(0, 4))
        return a, b

    def random_flags(self, allow_empty=True, deleted=0.1) -> list[str]:
        pool = [f for f in SYSTEM_FLAGS if f != "\\Deleted"] + (KEYWORDS if self.args.keywords else [])
        k = self.rng.randint(0 if allow_empty else 1, 3)
        flags = self.rng.sample(pool, k)
        if self.rng.random() < deleted:
            flags.append("\\Deleted")
        return flags

    def model(self):
        return self.world.model

    # -- the operations --------------------------------------------------------

    def op_append(self):
        folder = self.folder if self.rng.random() < 0.6 else self.other()
        count = 2 if self.rng.random() < 0.2 and self.literal_plus(1000) else 1
        cmds, flag_lists = [], []
        for _ in range(count):
            flags = self.random_flags(deleted=0.05)
            flag_lists.append(flags)
            self.tagn_msg = getattr(self, "tagn_msg", 0) + 1
            body = (
                f"From: stress@example.test\r\nTo: stress@example.test\r\n"
                f"Subject: stress {self.args.seed} {self.name} {self.tagn_msg}\r\n"
                f"Message-ID: <stress.{self.args.seed}.{self.name}.{self.tagn_msg}@example.test>\r\n\r\n"
                f"body {self.rng.random()}\r\n"
            ).encode()
            cmds.append([f"APPEND {quote(folder)} ({' '.join(flags)}) ", Literal(body)])
        snap = self.world.snapshot(folder)
        results = self.run(*cmds)
        for (st, code, text), flags in zip(results, flag_lists):
            if not code or code[0].upper() != "APPENDUID":
                self.fail(f"APPEND to {folder} answered OK without APPENDUID (RFC 4315): {st} {code} {text}")
            self.world.check_uidvalidity(folder, int(code[1]), f"{self.name} APPENDUID")
            new = parse_set(code[2])
            if len(new) != 1:
                self.fail(f"APPENDUID {code[2]} for one message")
            self.world.assign(folder, new, snap, f"{self.name} APPENDUID")
            with self.world.lock:
                fact = self.world.fact(folder)
                fact.appended += 1
                if "\\Deleted" in flags:
                    fact.deleted_ever.update(new)
                if self.world.model is not None:
                    self.world.model[folder][new[0]] = norm_flags(flags)
        self.after_batch()

    def store(self, targets: list[int], cmd: str, mode: str, flags: list[str], seq: bool):
        fl = norm_flags(flags)
        with self.world.lock:
            if "\\deleted" in fl and mode != "-":
                self.world.fact(self.folder).deleted_ever.update(targets)
        results = self.run(cmd, no_expunge=seq, allow_no=True)
        if results[0][0] == "NO":
            self.world.nos["STORE"] += 1
        model = self.model()
        if model is not None:
            m = model[self.folder]
            if results[0][0] == "NO" and all(u in m for u in targets):
                self.fail(f"STORE answered NO although every target exists: {results[0]}")
            changed = []
            for u in targets:
                if u not in m:
                    continue
                old = m[u]
                new = old | fl if mode == "+" else old - fl if mode == "-" else fl
                m[u] = new
                if new != old:
                    changed.append(u)
            fetched = {uid if uid is not None else (self.view[n - 1].uid if n <= len(self.view) else None)
                       for n, uid, _ in self.batch.fetch}
            for u in changed:
                if u not in fetched:
                    self.fail(f"STORE changed the flags of UID {u} but sent no FETCH for it (RFC 9051 §6.4.6)")
                idx = self.find(u)
                if idx is not None and self.view[idx].flags != m[u]:
                    self.fail(f"after STORE the view has UID {u} {show_flags(self.view[idx].flags)}, model {show_flags(m[u])}")
        self.after_batch()

    def op_uid_store(self):
        targets = self.pick_uids()
        if not targets:
            return self.op_append()
        mode = self.rng.choice(["+", "-", ""])
        flags = self.random_flags(allow_empty=(mode == ""))
        cmd = f"UID STORE {self.uid_set_text(targets)} {mode}FLAGS ({' '.join(flags)})"
        self.store(targets, cmd, mode, flags, seq=False)

    def op_seq_store(self):
        r = self.pick_seqs()
        if not r:
            return self.op_append()
        a, b = r
        targets = [m.uid for m in self.view[a - 1 : b]]
        mode = self.rng.choice(["+", "-", ""])
        flags = self.random_flags(allow_empty=(mode == ""))
        self.store(targets, f"STORE {a}:{b} {mode}FLAGS ({' '.join(flags)})", mode, flags, seq=True)

    def check_gone(self, uids, what):
        still = [u for u in uids if self.find(u) is not None]
        if still:
            self.fail(f"{what}: UID(s) {fmt_set(still)} still in the view: no EXPUNGE/VANISHED was sent for them")

    def op_uid_expunge(self):
        targets = self.pick_uids()
        if not targets or "UIDPLUS" not in self.caps:
            return self.op_expunge()
        s = self.uid_set_text(targets)
        with self.world.lock:
            self.world.fact(self.folder).deleted_ever.update(targets)
        # Not pipelined: RFC 9051 §5.5 makes the server serialise commands
        # that affect each other, but Dovecot 2.3 was seen running this pair
        # at once (the EXPUNGE missed the \Deleted just set).
        results = self.run(f"UID STORE {s} +FLAGS (\\Deleted)", allow_no=True)
        self.mark_deleted(targets)
        results += self.run(f"UID EXPUNGE {s}", allow_no=True)
        if results[0][0] == "NO":
            self.world.nos["STORE"] += 1
        if results[1][0] == "NO":
            self.fail(f"UID EXPUNGE answered NO: {results[1]}")
        model = self.model()
        if model is not None:
            m = model[self.folder]
            gone = [u for u in targets if u in m]
            for u in gone:
                del m[u]
            self.check_gone(gone, f"UID EXPUNGE {s}")
        self.after_batch()

    def mark_deleted(self, targets):
        """--serial: the model after STORE +FLAGS (\\Deleted), checked."""
        model = self.model()
        if model is not None:
            m = model[self.folder]
            for u in targets:
                if u in m:
                    m[u] = m[u] | {"\\deleted"}
            self.check_model(self.batch)

    def op_expunge(self):
        r = self.pick_seqs()
        cmds = []
        if r:
            a, b = r
            targets = [m.uid for m in self.view[a - 1 : b]]
            with self.world.lock:
                self.world.fact(self.folder).deleted_ever.update(targets)
            cmds.append(f"STORE {a}:{b} +FLAGS (\\Deleted)")
        cmds.append("EXPUNGE")
        results = []
        for c in cmds:  # not pipelined: see op_uid_expunge
            if c == "EXPUNGE":
                known = set(self.uids())
            results += self.run(c, allow_no=True)
            if c != "EXPUNGE":
                self.mark_deleted(targets)
        if results[-1][0] != "OK":
            self.fail(f"EXPUNGE answered {results[-1]}")
        model = self.model()
        uncertain = []
        if model is not None:
            m = model[self.folder]
            gone = [u for u, f in m.items() if "\\deleted" in f and u in known]
            # A \Deleted message this session has not been told about yet:
            # Dovecot leaves it (it expunges within the session's view), a
            # server that first syncs would remove it.  Settled below.
            uncertain = [u for u, f in m.items() if "\\deleted" in f and u not in known]
            told = set(self.batch.expunged)  # announced by EXISTS, UID not fetched yet
            gone += [u for u in uncertain if u in told]
            uncertain = [u for u in uncertain if u not in told]
            for u in gone:
                del m[u]
            self.check_gone(gone, "EXPUNGE")
        self.after_batch()
        if uncertain:
            self.run("NOOP")
            self.after_batch()
            for u in uncertain:
                if self.find(u) is None:
                    del model[self.folder][u]
                    self.world.nos["EXPUNGE removed a message not yet announced"] += 1

    def op_copy(self, move=False):
        if move and "MOVE" not in self.caps:
            move = False
        targets = self.pick_uids()
        if not targets:
            return self.op_append()
        dest = self.other() if move or self.rng.random() < 0.85 else self.folder
        verb = "MOVE" if move else "COPY"
        src_folder = self.folder
        s = self.uid_set_text(targets)
        snap = self.world.snapshot(dest)
        st, code, text = self.run(f"UID {verb} {s} {quote(dest)}", allow_no=True)[0]
        if st == "NO":
            self.world.nos[verb] += 1
            if self.model() is not None and all(u in self.model()[src_folder] for u in targets):
                self.fail(f"UID {verb} answered NO although every message exists: {text}")
            return self.after_batch()
        cu = code if code and code[0].upper() == "COPYUID" else self.batch.copyuid
        model = self.model()
        if not cu:
            if model is not None and any(u in model[src_folder] for u in targets):
                self.fail(f"UID {verb} answered OK without COPYUID (RFC 4315 / RFC 6851 §4.3)")
            self.world.nos[f"{verb} without COPYUID"] += 1
            return self.after_batch()
        self.world.check_uidvalidity(dest, int(cu[1]), f"{self.name} COPYUID")
        src, dst = parse_set(cu[2]), parse_set(cu[3])
        if len(src) != len(dst):
            self.fail(f"COPYUID source {cu[2]} and target {cu[3]} differ in size")
        outside = [u for u in src if not (u in targets or (":" in s and targets[0] <= u <= targets[-1]))]
        if outside:
            self.fail(f"COPYUID names source UID(s) {fmt_set(outside)} not in the requested set {s}")
        self.world.assign(dest, dst, snap, f"{self.name} COPYUID")
        with self.world.lock:
            sf, df = self.world.fact(src_folder), self.world.fact(dest)
            if move:
                df.moved_in += len(dst)
                sf.moved_out.update(src)
            else:
                df.copied_in += len(dst)
            # \Deleted travels with a copy; whether the source had it may
            # be learnt only later (an APPEND's answer still on its way), so
            # the final check follows these links
            sf.copied_to.extend((a, dest, b) for a, b in zip(src, dst))
            if model is not None:
                for a, b in zip(src, dst):
                    if a not in model[src_folder]:
                        self.fail(f"COPYUID copies UID {a}, which no longer exists")
                    model[dest][b] = model[src_folder][a]
                missing = [u for u in targets if u in model[src_folder] and u not in src]
                if missing:
                    self.fail(f"UID {verb} {s}: existing UID(s) {fmt_set(missing)} not in COPYUID {cu[2]}")
                if move:
                    for a in src:
                        del model[src_folder][a]
        if move:
            self.check_gone(src, f"UID MOVE {s}")
        self.after_batch()

    def op_move(self):
        self.op_copy(move=True)

    def op_noop(self):
        self.run("NOOP")
        self.after_batch()

    def op_fetch_seq(self):
        r = self.pick_seqs()
        if not r:
            return self.op_noop()
        a, b = r
        items = self.rng.choice(["(UID FLAGS)", "(FLAGS)", "(FLAGS UID)"])
        if "CONDSTORE" in self.enabled and self.rng.random() < 0.5:
            items = "(UID FLAGS MODSEQ)"
        self.run(f"FETCH {a}:{b} {items}", no_expunge=True)
        got = {n for n, _, _ in self.batch.fetch}
        missing = [n for n in range(a, b + 1) if n not in got]
        if missing:
            self.fail(f"FETCH {a}:{b} answered OK without data for message(s) {fmt_set(missing)}")
        self.after_batch()

    def uid_fetch_cmd(self):
        uids = self.uids()
        lo = self.rng.choice(uids) if uids and self.rng.random() < 0.8 else self.rng.randint(1, 5)
        if self.rng.random() < 0.4:
            hi = "*"
        else:
            hi = self.rng.choice([u for u in uids if u >= lo] or [lo])
        return lo, hi, f"UID FETCH {lo}:{hi} (FLAGS)"

    def check_uid_fetch(self, b, lo, hi, before):
        # A FETCH without UID may come in the same answer: an unsolicited
        # flag update (Dovecot sends those), not data for the UID FETCH.
        model = self.model()
        if model is None:
            return
        # --serial: every existing message in the range was answered
        hi_n = 10**12 if hi == "*" else hi
        got = {uid for _, uid, _ in b.fetch}
        want = [u for u in before if lo <= u <= hi_n and u in model[self.folder]]
        missing = [u for u in want if u not in got]
        if missing:
            self.fail(f"UID FETCH {lo}:{hi}: no answer for existing UID(s) {fmt_set(missing)}")
        # (a UID outside the range is no fault: unsolicited flag updates
        # carry the UID once CONDSTORE/QRESYNC is on)

    def op_fetch_uid(self):
        lo, hi, cmd = self.uid_fetch_cmd()
        before = self.uids()
        self.run(cmd)
        b = self.batch
        self.after_batch()
        self.check_uid_fetch(b, lo, hi, before)

    SEARCHES = [
        ("ALL", lambda f: True),
        ("FLAGGED", lambda f: "\\flagged" in f),
        ("UNSEEN", lambda f: "\\seen" not in f),
        ("DELETED", lambda f: "\\deleted" in f),
        ("SEEN FLAGGED", lambda f: "\\seen" in f and "\\flagged" in f),
        ("OR ANSWERED DRAFT", lambda f: "\\answered" in f or "\\draft" in f),
        ("KEYWORD $stress1", lambda f: "$stress1" in f),
        ("UNKEYWORD kw_a", lambda f: "kw_a" not in f),
        ("NOT DELETED KEYWORD kw_b", lambda f: "\\deleted" not in f and "kw_b" in f),
    ]

    def op_search(self):
        crit, pred = self.rng.choice(self.SEARCHES if self.args.keywords else self.SEARCHES[:6])
        by_uid = self.rng.random() < 0.5
        before = {m.uid: m.flags for m in self.view}
        lost = self.lost_unknown
        self.run(("UID SEARCH " if by_uid else "SEARCH ") + crit, no_expunge=not by_uid)
        b = self.batch
        if not by_uid:
            self.check_search(b, crit, pred, by_uid, before)  # numbers: before any renumbering
        self.after_batch()
        if by_uid:
            self.check_search(b, crit, pred, by_uid, before, self.lost_unknown - lost)  # UIDs: once the new ones are known

    def check_search(self, b, crit, pred, by_uid, before, lost=0):
        if not b.got_search:
            self.fail(f"SEARCH {crit}: no SEARCH/ESEARCH response")
        if by_uid:
            allowed = set(self.uids()) | {u for u in b.expunged if u is not None}
            bad = [u for u in b.search if u not in allowed]
            # A message announced by EXISTS and expunged before the session
            # fetched its UID cannot be named; as many UIDs as such slots
            # are accepted if they are newer than any UID known before.
            known = max((u for u in before if u is not None), default=0)
            if bad and len(bad) <= lost and min(bad) > known:
                bad = []
            if bad:
                self.fail(f"UID SEARCH {crit} answered UID(s) {fmt_set(bad)}, which the session was never told about")
            found = set(b.search)
        else:
            bad = [n for n in b.search if not 1 <= n <= len(self.view)]
            if bad:
                self.fail(f"SEARCH {crit} answered message number(s) {fmt_set(bad)} outside 1..{len(self.view)}")
            found = {self.view[n - 1].uid for n in b.search}
        model = self.model()
        if model is not None:
            m = model[self.folder]
            # Only the messages the session knew when it sent the SEARCH (a
            # server need not include ones it announces afterwards).  A
            # server may search the flags it last told this session (Dovecot
            # does, then sends the newer flags): either state is accepted.
            bad = []
            for u, old in before.items():
                if u in m and (u in found) not in (pred(m[u]), pred(old)):
                    bad.append(u)
            if bad:
                self.fail(
                    f"SEARCH {crit}: answered {fmt_set(found & set(before))}; wrong for UID(s) {fmt_set(bad)}: "
                    + "; ".join(f"{u} had {show_flags(before[u])}, now {show_flags(m[u])}" for u in bad[:3])
                )

    def op_status(self):
        folder = self.other()
        snap = self.world.snapshot(folder)
        self.run(f"STATUS {quote(folder)} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        st = self.status_for(folder)
        self.world.check_uidvalidity(folder, st["UIDVALIDITY"], f"{self.name} STATUS")
        self.world.check_uidnext(folder, st["UIDNEXT"], snap, f"{self.name} STATUS")
        model = self.model()
        if model is not None:
            m = model[folder]
            unseen = sum(1 for f in m.values() if "\\seen" not in f)
            if st["MESSAGES"] != len(m) or st["UNSEEN"] != unseen:
                self.fail(f"STATUS {folder} MESSAGES {st['MESSAGES']} UNSEEN {st['UNSEEN']}; the model has {len(m)}, {unseen} unseen")
        self.after_batch()

    def status_for(self, folder):
        for name, kv in self.batch.status.items():
            if name.lower() == folder.lower():
                for k in ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"):
                    if k not in kv:
                        self.fail(f"STATUS {folder} without {k}")
                return kv
        self.fail(f"no STATUS response for {folder}")

    def op_reselect(self):
        if self.index < 2 or self.args.no_reselect:
            return self.op_noop()  # sessions 0 and 1 always watch their folder
        self.select(self.other())

    def op_pipeline(self):
        lo, hi, cmd = self.uid_fetch_cmd()
        crit, pred = self.rng.choice(self.SEARCHES[:6])
        before = {m.uid: m.flags for m in self.view}
        lost = self.lost_unknown
        self.run(cmd, "UID SEARCH " + crit, "NOOP")
        b = self.batch
        self.after_batch()
        self.check_uid_fetch(b, lo, hi, before)
        self.check_search(b, crit, pred, True, before, self.lost_unknown - lost)

    OPS = [
        ("append", 14), ("uid_store", 14), ("seq_store", 7), ("uid_expunge", 6),
        ("expunge", 3), ("copy", 7), ("move", 7), ("noop", 5), ("fetch_seq", 7),
        ("fetch_uid", 7), ("search", 7), ("status", 3), ("reselect", 2), ("pipeline", 4),
    ]

    def step(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        if len(self.view) > self.args.max_messages:
            weights[names.index("append")] = 1
            weights[names.index("uid_expunge")] = 20
        op = self.rng.choices(names, weights)[0]
        self.ops_done[op] += 1
        with self.world.lock:
            self.world.ops[op] += 1
        getattr(self, "op_" + op)()

    def after_batch(self):
        self.check_model(self.batch)
        self.fill()
        prev = 0
        for m in self.view:
            if m.uid <= prev:
                self.fail(f"UIDs not ascending in the view: {prev} then {m.uid}")
            prev = m.uid


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

SESSION_MODES = ["rev1", "qresync", "rev2", "condstore"]


def setup(args, world):
    s = Session(args, world, 99, "setup", None, "rev1")
    s.greet_and_login()
    a, b = args.folders
    for f in (a, b):
        if f.upper() == "INBOX":
            s.folder = f
            s.run(f"SELECT {quote(f)}")
            if s.view:
                s.run("STORE 1:* +FLAGS.SILENT (\\Deleted)")
                s.run("EXPUNGE")
                s.run("NOOP")
                if s.view:
                    s.fail(f"{len(s.view)} message(s) left after STORE 1:* +FLAGS (\\Deleted) and EXPUNGE")
            if "UNSELECT" in s.caps:
                s.run("UNSELECT")
            else:
                s.run("CLOSE")
            s.folder = None
            s.view = []
        else:
            s.run(f"DELETE {quote(f)}", allow_no=True)
            if s.run(f"CREATE {quote(f)}", allow_no=True)[0][0] != "OK":
                raise SetupError(f"cannot create {f}")
    missing = [c for c in ("UIDPLUS",) if c not in s.caps]
    if missing:
        raise SetupError(f"the server does not advertise {', '.join(missing)}; the harness needs it")
    caps = s.caps
    s.logout()
    return caps


def truth(args, world):
    """What a fresh session reads from the store."""
    s = Session(args, world, 98, "fresh", None, "rev1")
    s.greet_and_login()
    out = {}
    for f in args.folders:
        s.run(f"STATUS {quote(f)} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        st = s.status_for(f)
        s.folder = f
        s.view = []
        s.run(f"EXAMINE {quote(f)}")
        n = len(s.view)
        s.view = [Msg() for _ in range(n)]  # numbers come from EXISTS; UIDs from the FETCH
        msgs = {}
        if n:
            s.run("UID FETCH 1:* (FLAGS)")
            for seq, uid, flags in s.batch.fetch:
                if uid is None or flags is None:
                    s.fail(f"UID FETCH 1:* answer without UID or FLAGS for {seq}")
                msgs[uid] = flags
        if len(msgs) != n or any(m.uid is None for m in s.view):
            s.fail(f"EXAMINE {f} said {n} messages, UID FETCH 1:* answered {len(msgs)}")
        unseen = sum(1 for fl in msgs.values() if "\\seen" not in fl)
        if st["MESSAGES"] != n:
            s.fail(f"STATUS {f} MESSAGES {st['MESSAGES']}, but the folder has {n}")
        if st["UNSEEN"] != unseen:
            s.fail(f"STATUS {f} UNSEEN {st['UNSEEN']}, but {unseen} messages lack \\Seen")
        if msgs and st["UIDNEXT"] <= max(msgs):
            s.fail(f"STATUS {f} UIDNEXT {st['UIDNEXT']} is not above UID {max(msgs)}")
        world.check_uidvalidity(f, st["UIDVALIDITY"], "fresh STATUS")
        world.check_uidnext(f, st["UIDNEXT"], (world.fact(f).max_uid, world.fact(f).uidnext_seen), "fresh STATUS")
        out[f] = (msgs, st)
        s.run("UNSELECT" if "UNSELECT" in s.caps else "NOOP")
    s.logout()
    return out


def inherit_deleted(world):
    """Copies and moves take \\Deleted along: follow COPYUID links until
    nothing changes."""
    changed = True
    while changed:
        changed = False
        for f in world.folders.values():
            for a, dest, b in f.copied_to:
                df = world.fact(dest)
                if a in f.deleted_ever and b not in df.deleted_ever:
                    df.deleted_ever.add(b)
                    changed = True


def final_checks(args, world, sessions):
    errors = []
    inherit_deleted(world)
    for s in sessions:
        s.run("NOOP")
        s.after_batch()
    t = truth(args, world)
    for s in sessions:
        msgs, _ = t[s.folder]
        view = {m.uid: m.flags for m in s.view}
        if list(view) != sorted(msgs):
            extra = sorted(set(view) - set(msgs))
            missing = sorted(set(msgs) - set(view))
            errors.append(
                f"{s.name} ({s.folder}): view has {len(view)} messages, the store {len(msgs)}; "
                f"only in the view: {fmt_set(extra) or '-'}; only in the store: {fmt_set(missing) or '-'}"
            )
            continue
        for u, fl in view.items():
            if fl != msgs[u]:
                errors.append(f"{s.name} ({s.folder}): UID {u} has {show_flags(fl)} in the view, {show_flags(msgs[u])} in the store")
                break
    lines = []
    for f in args.folders:
        msgs, st = t[f]
        fact = world.fact(f)
        final = set(msgs)
        removed = fact.assigned - final
        moved = fact.moved_out & fact.assigned
        lines.append(
            f"  {f}: appended {fact.appended} + copied in {fact.copied_in} + moved in {fact.moved_in} "
            f"- moved out {len(moved)} - expunged {len(removed - moved)} = {len(final)} "
            f"(STATUS MESSAGES {st['MESSAGES']}, UNSEEN {st['UNSEEN']}, UIDNEXT {st['UIDNEXT']}, UIDVALIDITY {st['UIDVALIDITY']})"
        )
        if len(fact.assigned) != fact.appended + fact.copied_in + fact.moved_in:
            errors.append(f"{f}: {len(fact.assigned)} distinct UIDs assigned for {fact.appended + fact.copied_in + fact.moved_in} messages added")
        phantom = final - fact.assigned
        if phantom:
            errors.append(f"{f}: UID(s) {fmt_set(phantom)} in the store were never assigned by APPEND/COPY/MOVE")
        if len(final) != fact.appended + fact.copied_in + fact.moved_in - len(removed):
            errors.append(f"{f}: counts do not add up")
        unexplained = removed - fact.moved_out - fact.deleted_ever
        if unexplained:
            errors.append(f"{f}: UID(s) {fmt_set(unexplained)} went away without MOVE or \\Deleted")
        back = final & fact.seen_expunged
        if back:
            errors.append(f"{f}: UID(s) {fmt_set(back)} were reported expunged but are still in the store")
        stay = final & fact.moved_out
        if stay:
            errors.append(f"{f}: UID(s) {fmt_set(stay)} were moved out (COPYUID of MOVE) but are still here")
        if world.model is not None:
            m = world.model[f]
            if set(m) != final:
                errors.append(f"{f}: the model has {fmt_set(m)}, the store {fmt_set(final)}")
            else:
                for u in final:
                    if m[u] != msgs[u]:
                        errors.append(f"{f}: UID {u} model {show_flags(m[u])}, store {show_flags(msgs[u])}")
                        break
    return errors, lines


def run(args) -> int:
    started = time.monotonic()
    world = World(args.folders, args.serial)
    try:
        caps = setup(args, world)
    except OSError as e:
        raise SetupError(f"setup: {e}") from e
    sessions = []
    for i in range(args.sessions):
        home = args.folders[i % 2] if args.sessions > 1 else args.folders[0]
        s = Session(args, world, i, f"s{i}", home, SESSION_MODES[i % len(SESSION_MODES)])
        s.greet_and_login()
        s.select(home)
        sessions.append(s)
    print(f"stress: {args.sessions} sessions ({', '.join(f'{s.name}={s.mode}/{s.folder}' for s in sessions)}), "
          f"{args.ops} ops each, seed {args.seed}, {'serial' if args.serial else 'concurrent'}")

    def worker(s: Session):
        try:
            for _ in range(args.ops):
                if world.failed:
                    return
                s.step()
        except Violation as e:
            world.failed.append(report(s, e))
        except Exception as e:  # a response the harness could not take in
            world.failed.append(report(s, Violation(f"{s.name}: {e!r}\n{traceback.format_exc()}")))

    if args.serial:
        order = random.Random(f"{args.seed}-order")
        left = {s.name: args.ops for s in sessions}
        while any(left.values()) and not world.failed:
            s = order.choice([s for s in sessions if left[s.name]])
            left[s.name] -= 1
            try:
                s.step()
            except Violation as e:
                world.failed.append(report(s, e))
            except Exception as e:
                world.failed.append(report(s, Violation(f"{s.name}: {e!r}\n{traceback.format_exc()}")))
    else:
        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.run_timeout)
            if t.is_alive():
                world.failed.append(f"VIOLATION: a session did not finish within {args.run_timeout} s")
                break
    errors, lines = [], []
    if not world.failed:
        try:
            errors, lines = final_checks(args, world, sessions)
        except Violation as e:
            world.failed.append(f"VIOLATION: {e}")
    elapsed = time.monotonic() - started
    total = sum(world.ops.values())
    print(f"ops done: {total} — " + ", ".join(f"{k} {v}" for k, v in sorted(world.ops.items())))
    if world.nos:
        print("tolerated NO answers / notes: " + ", ".join(f"{k} {v}" for k, v in sorted(world.nos.items())))
    for line in lines:
        print(line)
    print(f"time: {elapsed:.1f} s")
    for s in sessions:
        if not world.failed:
            s.logout()
        else:
            s.conn.close()
    if world.failed or errors:
        for f in world.failed:
            print(f)
        for e in errors:
            print(f"VIOLATION (final check): {e}")
        print(f"FAIL: {len(world.failed) + len(errors)} violation(s), seed {args.seed}")
        return 1
    print(f"PASS: every session's view equals the store (seed {args.seed}); capabilities used: "
          + " ".join(sorted(c for c in caps if c in ("UIDPLUS", "MOVE", "QRESYNC", "CONDSTORE", "IMAP4REV2", "LITERAL+", "LITERAL-", "UNSELECT", "ESEARCH"))))
    return 0


def report(s: Session, e: Exception) -> str:
    trace = "\n".join("    " + line for line in list(s.conn.trace)[-30:])
    return f"VIOLATION: {e}\n  last lines of {s.name}'s trace:\n{trace}"


# ---------------------------------------------------------------------------
# --self-test: a proxy that damages answers, and runs that must fail
# ---------------------------------------------------------------------------


class FaultProxy:
    """Plain TCP on 127.0.0.1 to the client; to the server plain, TLS or
    STARTTLS as the harness was told.  Damages the nth matching server
    response (counted over all connections but the first, which is the
    harness's set-up session) according to `fault`."""

    def __init__(self, args, fault: str | None, nth: int):
        self.args = args
        self.fault = fault
        self.nth = nth
        self.count = 0
        self.injected = None
        self.last_appenduid = None
        self.lock = threading.Lock()
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def stop(self):
        self.stopping = True
        self.lsock.close()

    def accept_loop(self):
        n = 0
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c, n), daemon=True).start()
            n += 1

    def handle(self, client, index):
        a = self.args
        try:
            up = socket.create_connection((a.host, a.port), timeout=30)
            for s in (up, client):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if a.tls:
                up = tls_context().wrap_socket(up, server_hostname=a.host)
            elif a.starttls:
                got = b""
                while b"\r\n" not in got:
                    got += up.recv(4096)
                up.sendall(b"P0 STARTTLS\r\n")
                got = b""
                while not re.search(rb"(^|\r\n)P0 ", got) or not got.endswith(b"\r\n"):
                    got += up.recv(4096)
                up = tls_context().wrap_socket(up, server_hostname=a.host)
                client.sendall(b"* OK stress.py fault proxy ready\r\n")
            up.settimeout(None)
            view: list = []  # what the client knows: UID (or None) by number
            buf = b""
            while True:
                ready = [up] if isinstance(up, ssl.SSLSocket) and up.pending() else select.select([client, up], [], [], 60)[0]
                if not ready:
                    continue
                if client in ready:
                    d = client.recv(65536)
                    if not d:
                        break
                    up.sendall(d)
                if up in ready:
                    # not blocking: the readable record may be no data at
                    # all (a TLS 1.3 session ticket), and a blocking recv
                    # would then stop the client's bytes from going through
                    up.setblocking(False)
                    try:
                        d = up.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    finally:
                        up.setblocking(True)
                    if not d:
                        break
                    buf += d
                    while True:
                        resp, buf = self.cut(buf)
                        if resp is None:
                            break
                        out = self.damage(resp, view) if index else resp
                        self.track(view, out)
                        client.sendall(out)
        except OSError:
            pass
        finally:
            for s in (client,):
                try:
                    s.close()
                except OSError:
                    pass
            try:
                up.close()
            except (OSError, UnboundLocalError):
                pass

    @staticmethod
    def cut(buf: bytes):
        """One whole response (with literals) off the front of buf."""
        pos = 0
        while True:
            i = buf.find(b"\r\n", pos)
            if i < 0:
                return None, buf
            m = re.search(rb"\{(\d+)\}$", buf[pos:i])
            if not m:
                return buf[: i + 2], buf[i + 2 :]
            pos = i + 2 + int(m.group(1))
            if pos > len(buf):
                return None, buf

    def hit(self, what: str) -> bool:
        with self.lock:
            if self.injected:
                return False
            self.count += 1
            if self.count == self.nth:
                self.injected = what
                return True
            return False

    @staticmethod
    def track(view: list, resp: bytes):
        """Follows the message numbers and UIDs the client was told."""
        if re.match(rb"\* OK \[(UIDVALIDITY|CLOSED)", resp, re.I):
            view.clear()  # a (re)selected folder
        elif m := re.match(rb"\* (\d+) EXISTS", resp, re.I):
            view.extend([None] * (int(m.group(1)) - len(view)))
        elif m := re.match(rb"\* (\d+) EXPUNGE", resp, re.I):
            if 1 <= int(m.group(1)) <= len(view):
                view.pop(int(m.group(1)) - 1)
        elif m := re.match(rb"\* VANISHED (\d[\d:,]*)", resp, re.I):
            gone = set(parse_set(m.group(1).decode()))
            view[:] = [u for u in view if u not in gone]
        elif m := re.match(rb"\* (\d+) FETCH \(.*?UID (\d+)", resp, re.I | re.S):
            n = int(m.group(1))
            if 1 <= n <= len(view):
                view[n - 1] = int(m.group(2))

    def damage(self, resp: bytes, view: list) -> bytes:
        f = self.fault
        if f in ("drop-expunge", "drop-vanished"):
            # Only a message whose UID the client has seen: an EXPUNGE of
            # one it never fetched leaves no trace a client could check.
            # With sessions at once, a lost `* n EXPUNGE` can still be
            # masked (a later EXPUNGE of a slot whose UID the client never
            # learnt removes the stale one instead); a lost VANISHED names
            # its UIDs, so the client keeps a message the store no longer
            # has whatever comes after: the concurrent self-test drops that.
            m = re.match(rb"\* (\d+) EXPUNGE\r\n$", resp, re.I) if f == "drop-expunge" else None
            known = m is not None and 1 <= int(m.group(1)) <= len(view) and view[int(m.group(1)) - 1] is not None
            v = re.match(rb"\* VANISHED (\d[\d:,]*)", resp, re.I)
            known = known or (v is not None and bool(set(parse_set(v.group(1).decode())) & {u for u in view if u}))
            if known:
                if self.hit(resp.decode().strip()):
                    return b""
        elif f == "alter-flags":
            m = re.match(rb"(\* \d+ FETCH \(.*FLAGS \()([^)]*)(\).*)$", resp, re.I | re.S)
            if m:
                flags = m.group(2).split()
                new = [x for x in flags if x.lower() != b"\\seen"] if any(x.lower() == b"\\seen" for x in flags) else flags + [b"\\Seen"]
                out = m.group(1) + b" ".join(new) + m.group(3)
                if self.hit(f"{resp.decode().strip()} -> {out.decode().strip()}"):
                    return out
        elif f == "shift-uid":
            m = re.match(rb"(\* \d+ FETCH \(.*UID )(\d+)(.*)$", resp, re.I | re.S)
            if m:
                out = m.group(1) + str(int(m.group(2)) + 1).encode() + m.group(3)
                if self.hit(f"{resp.decode().strip()} -> {out.decode().strip()}"):
                    return out
        elif f == "repeat-appenduid":
            m = re.match(rb"(\S+ OK \[APPENDUID (\d+) )(\d+)(\].*)$", resp, re.I | re.S)
            if m:
                # the previous UID given in the same folder (same UIDVALIDITY)
                last = self.last_appenduid if isinstance(self.last_appenduid, dict) else {}
                prev = last.get(m.group(2))
                last[m.group(2)] = m.group(3)
                self.last_appenduid = last
                if prev is not None:
                    out = m.group(1) + prev + m.group(4)
                    if self.hit(f"{resp.decode().strip()} -> {out.decode().strip()}"):
                        return out
        elif f == "inflate-status":
            m = re.match(rb"(\* STATUS .*MESSAGES )(\d+)(.*)$", resp, re.I | re.S)
            if m:
                out = m.group(1) + str(int(m.group(2)) + 1).encode() + m.group(3)
                if self.hit(f"{resp.decode().strip()} -> {out.decode().strip()}"):
                    return out
        return resp


SELF_TESTS = [
    # (fault, nth matching response, extra arguments for the child run)
    (None, 0, []),
    ("drop-expunge", 4, []),
    ("alter-flags", 25, []),
    ("shift-uid", 30, []),
    ("repeat-appenduid", 5, []),
    ("inflate-status", 6, []),
    ("drop-vanished", 2, ["--concurrent", "--no-reselect"]),
]


def self_test(args) -> int:
    """Each damaged run must fail, the undamaged one must pass."""
    ok = True
    started = time.monotonic()
    for fault, nth, extra in SELF_TESTS:
        proxy = FaultProxy(args, fault, nth)
        serial = "--concurrent" not in extra
        cmd = [
            sys.executable, os.path.abspath(__file__), "--host", "127.0.0.1", "--port", str(proxy.port),
            "--user", args.user, "--password", args.password, "--sessions", str(args.sessions),
            "--ops", str(args.ops), "--seed", str(args.seed), "--mailbox-prefix", args.mailbox_prefix,
            "--first-folder", args.folders[0], "--timeout", str(args.timeout),
        ] + (["--serial"] if serial else []) + [e for e in extra if e != "--concurrent"]
        if args.log_dir:
            cmd += ["--log-dir", os.path.join(args.log_dir, f"{fault or 'none'}-{'serial' if serial else 'concurrent'}")]
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.run_timeout)
        proxy.stop()
        took = time.monotonic() - t0
        label = f"{fault or 'no damage'}{'' if serial else ' (concurrent)'}"
        first = next((line for line in r.stdout.splitlines() if line.startswith("VIOLATION")), "")
        if fault is None:
            good = r.returncode == 0
            print(f"self-test {'ok ' if good else 'BAD'} {label}: exit {r.returncode} ({took:.1f} s)")
        elif not proxy.injected:
            good = False
            print(f"self-test BAD {label}: the fault was never injected ({proxy.count} candidates); run longer")
        else:
            good = r.returncode == 1
            print(f"self-test {'ok ' if good else 'BAD'} {label}: exit {r.returncode} ({took:.1f} s)\n"
                  f"    damaged: {proxy.injected}\n    caught:  {first[:300]}")
        if not good:
            ok = False
            sys.stdout.write("    child output:\n" + "".join("      " + line + "\n" for line in (r.stdout + r.stderr).splitlines()[-40:]))
    print(f"self-test {'PASS' if ok else 'FAIL'} ({time.monotonic() - started:.1f} s)")
    return 0 if ok else 1


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=143)
    p.add_argument("--tls", action="store_true", help="implicit TLS (IMAPS); the certificate is not verified")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--ops", type=int, default=200, help="operations per session")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mailbox-prefix", default="stress", help="the second folder is PREFIX-b")
    p.add_argument("--first-folder", default="INBOX", help="the first folder (emptied before the run)")
    p.add_argument("--serial", action="store_true",
                   help="one command at a time, deterministic, with a model of the mailbox checked at every step")
    p.add_argument("--no-reselect", action="store_true", help="sessions never switch folders")
    p.add_argument("--no-keywords", dest="keywords", action="store_false")
    p.add_argument("--max-messages", type=int, default=40, help="above this, a session mostly expunges")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for any answer")
    p.add_argument("--run-timeout", type=float, default=600)
    p.add_argument("--log-dir", help="write every session's full protocol trace there")
    p.add_argument("--self-test", action="store_true",
                   help="prove the harness: damaged answers (through a proxy) must fail the run")
    args = p.parse_args(argv)
    if args.tls and args.starttls:
        p.error("--tls and --starttls are exclusive")
    args.folders = (args.first_folder, f"{args.mailbox_prefix}-b")
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
    try:
        if args.self_test:
            return self_test(args)
        return run(args)
    except SetupError as e:
        print(f"SETUP ERROR: {e}")
        return 2
    except (OSError, Violation) as e:
        print(f"VIOLATION: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
