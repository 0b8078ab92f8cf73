#!/usr/bin/env python3
"""Runner for Dovecot imaptest's scripted IMAP tests.

The scripts (and their .mbox files) live in
../shared/conformance/imaptest/tests; their format is described in
scripted_test.md next to them.  This module re-implements that format in
Python 3.11 with the standard library only, following imaptest's own parser
and executor (src/test-parser.c and src/test-exec.c of dovecot/imaptest)
wherever the documentation is silent.

Usage:

    python3 tests/imap/imaptest_runner.py --host 127.0.0.1 --port 14300 \
        --user testuser --password pass [--tls] [--only NAME ...] \
        [--capabilities-from-server] TESTS_DIR

One line is printed per script: PASS, FAIL (first mismatch, with context on
the following indented lines) or SKIP (a capability named in the script's
header that the server does not advertise).  The exit code is 0 only if no
script failed.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import os
import re
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# IMAP arguments and their parser
# ---------------------------------------------------------------------------

ATOM, STRING, LITERAL, NIL, LIST = range(5)
ASTRING_TYPES = (ATOM, STRING, LITERAL, NIL)  # imap_arg_get_astring()
FULL = 1 << 60  # "everything matched" (UINT_MAX in imaptest)

# ASCII-only case folding, like Dovecot's i_toupper()
_ASCII_UP = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def up(s: str) -> str:
    return s.translate(_ASCII_UP)


def ieq(a: str, b: str) -> bool:
    return up(a) == up(b)


class Arg:
    __slots__ = ("type", "value", "literal8")

    def __init__(self, type_: int, value, literal8: bool = False):
        self.type = type_
        self.value = value  # str, or list of Arg for LIST
        self.literal8 = literal8

    def __repr__(self) -> str:
        return fmt_arg(self)


class ParseError(Exception):
    pass


_LIT_RE = re.compile(r"~?\{(\d+)(\+?)\}\r?\n")


def parse_args(s: str, multiline_str: bool = True) -> list[Arg]:
    """Parse one IMAP "line" (which may embed {n}\\r\\n literals).

    Mirrors Dovecot's imap_parser with IMAP_PARSE_FLAG_ATOM_ALLCHARS and
    LITERAL8: atoms end at SP/CR/LF (and at ')' inside a list), "NIL" is
    NIL, brackets are ordinary atom characters.  It is lenient where
    Dovecot would report an error (unbalanced parentheses)."""
    root: list[Arg] = []
    stack = [root]
    i, n = 0, len(s)
    while True:
        while i < n and s[i] == " ":
            i += 1
        if i >= n:
            break
        c = s[i]
        if c in "\r\n":
            break
        cur = stack[-1]
        if c == '"':
            j = i + 1
            out = []
            while j < n and s[j] != '"':
                if not multiline_str and s[j] in "\r\n":
                    break
                if s[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(s[j])
                j += 1
            cur.append(Arg(STRING, "".join(out)))
            i = j + 1 if j < n and s[j] == '"' else j
            continue
        if c == "{" or (c == "~" and i + 1 < n and s[i + 1] == "{"):
            m = _LIT_RE.match(s, i)
            if m:
                size = int(m.group(1))
                start = m.end()
                if start + size > n:
                    raise ParseError("Missing data (literal is truncated)")
                cur.append(Arg(LITERAL, s[start:start + size], c == "~"))
                i = start + size
                continue
        if c == "(":
            lst: list[Arg] = []
            cur.append(Arg(LIST, lst))
            stack.append(lst)
            i += 1
            continue
        if c == ")" and len(stack) > 1:
            stack.pop()
            i += 1
            continue
        j = i
        inlist = len(stack) > 1
        while j < n and s[j] not in " \r\n" and not (inlist and s[j] == ")"):
            j += 1
        if j == i:  # lone ')' at top level: keep it as an atom
            j = i + 1
        atom = s[i:j]
        cur.append(Arg(NIL if up(atom) == "NIL" else ATOM, atom))
        i = j
    return root


def quote(s: str) -> str:
    if any(ch in s for ch in "\r\n\0") or any(ord(ch) > 127 for ch in s):
        return "{%d}\r\n%s" % (len(s), s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fmt_arg(a: Arg, limit: int = 200) -> str:
    if a.type == LIST:
        return "(" + fmt_args(a.value, limit) + ")"
    if a.type in (ATOM, NIL):
        return a.value
    v = a.value
    if len(v) > limit:
        v = v[:limit] + "...[%d bytes]" % len(a.value)
    if a.type == LITERAL or any(ch in v for ch in "\r\n"):
        return ("~" if a.literal8 else "") + "{%d}" % len(a.value) + repr(v)[1:-1].join("<>")
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fmt_args(args: list[Arg], limit: int = 200) -> str:
    return " ".join(fmt_arg(a, limit) for a in args)


def cstr(s: str) -> str:
    """The string as imaptest's C code sees it: up to the first NUL."""
    p = s.find("\0")
    return s if p < 0 else s[:p]


def is_uint(s: str) -> bool:
    return s.isascii() and s.isdigit()


# ---------------------------------------------------------------------------
# Script parser (port of imaptest src/test-parser.c)
# ---------------------------------------------------------------------------

MUST_EXIST, MUST_NOT_EXIST, MAY_EXIST = "*", "!", "?"
STATES = ["nonauth", "auth", "created", "appended", "selected"]


@dataclass
class Untagged:
    args: list[Arg]
    existence: str
    linenum: int


@dataclass
class Command:
    linenum: int
    text: str = ""
    tag: int = 0  # "tagN" in the script (0 = none)
    reply: list[Arg] | None = None  # expected tagged reply (prefix)
    cur_tag: str | None = None  # tag sent to the server, while pending


@dataclass
class Group:
    conn: int = 0
    commands: list[Command] = field(default_factory=list)
    untagged: list[Untagged] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    replies_pending: int = 0
    sleep_msecs: int = 0
    have_untagged_bye: bool = False


@dataclass
class Script:
    name: str
    path: str
    mbox_path: str
    required_caps: list[str] = field(default_factory=list)
    # None = no "messages:" header: scripted_test.md says "all messages";
    # imaptest's code uses 0 since 2021 (commit 0de0dbf).  --default-messages
    message_count: int | None = None
    all_messages: bool = False
    state: str = "selected"
    connection_count: int = 1
    usernames: dict = field(default_factory=dict)  # connection idx -> name
    require_user2: bool = False
    ignore_extra_untagged: bool = True
    have_banner_check: bool = False
    groups: list[Group] = field(default_factory=list)


class ScriptError(Exception):
    pass


def _reply_atom(word: str) -> str | None:
    w = word.lower()
    if w in ("ok", "no", "bad"):
        return w
    if word == '""':
        return ""
    return None


def get_cmd_reply(line: str):
    """test_get_cmd_reply(): optional "tagN" then ok/no/bad/"" ."""
    tag = 0
    arg = line.split(" ", 1)[0]
    if arg[:3].lower() == "tag":
        p = line.find(" ")
        if p >= 0 and is_uint(arg[3:]) and int(arg[3:]) > 0:
            line = line[p + 1:]
            tag = int(arg[3:])
            arg = line.split(" ", 1)[0]
    word = _reply_atom(arg)
    reply = None
    if word is not None:
        reply = [Arg(ATOM, word)]
        line = line[len(arg):]
        if line.startswith(" "):
            line = line[1:]
    return reply, tag, line


class _DirCtx:
    __slots__ = ("parent", "reply_name", "prev_atom", "pci", "chain_count", "directives")

    def __init__(self, parent, reply_name, prev_atom=None, pci=0):
        self.parent = parent
        self.reply_name = reply_name
        self.prev_atom = prev_atom
        self.pci = pci  # parent_chain_idx
        self.chain_count = 1
        self.directives = False


def _add_default_directives(ctx: _DirCtx, args: list[Arg]) -> None:
    p = ctx.parent
    if p is None:
        return

    def ins(d):
        args.insert(0, Arg(ATOM, d))

    rn = ctx.reply_name
    if rn in ("list", "lsub"):
        if p.parent is None and p.pci == 0 and ctx.pci == 1:
            ins("$!unordered")  # list|lsub (flags) sep mailbox
    elif rn == "status":
        if p.parent is None and p.pci == 0 and ctx.pci == 2:
            ins("$!unordered=2")  # status <mailbox> (reply)
    elif rn == "fetch":
        if p.parent is None and p.pci == 0 and ctx.pci == 2:
            ins("$!unordered=2")  # <seq> fetch (reply)
        elif (p.parent is not None and p.parent.parent is None
              and p.parent.pci == 0 and p.pci == 2 and ctx.prev_atom == "flags"):
            # <seq> fetch (flags (..))
            ins("$!unordered")
            ins("$!noextra")
            ins("$!ignore=\\recent")
            ins("$!ignore=$HasAttachment")
            ins("$!ignore=$HasNoAttachment")


def _handle_directives(ctx: _DirCtx, args: list[Arg]) -> None:
    for a in args:
        if a.type not in (ATOM, NIL) or not a.value.startswith("$!"):
            break
        d = a.value[2:]
        if d.startswith("unordered"):
            if d == "unordered":
                pass
            elif d[9:10] == "=" and is_uint(d[10:]):
                ctx.chain_count = int(d[10:])
            else:
                raise ScriptError("Broken $!unordered directive")
        elif d in ("ordered", "noextra", "extra") or d.startswith("ignore=") or d.startswith("ban="):
            pass
        else:
            raise ScriptError("Unknown directive: " + d)
        ctx.directives = True
    if not ctx.directives:
        _add_default_directives(ctx, args)
    prev_atom = None
    for i, a in enumerate(args):
        if a.type in (ATOM, NIL):
            prev_atom = a.value.lower()
        if a.type != LIST:
            continue
        sub = _DirCtx(ctx, ctx.reply_name.lower(), prev_atom,
                      i if ctx.chain_count == 1 else i % ctx.chain_count)
        _handle_directives(sub, a.value)


class ScriptParser:
    def __init__(self, script: Script):
        self.t = script
        self.group: Group | None = None
        self.ifenv: list[dict] = []
        self.skip = False

    # header ------------------------------------------------------------
    def header_line(self, line: str) -> None:
        t = self.t
        if ":" not in line:
            raise ScriptError("Missing ':'")
        key, value = line.split(":", 1)
        key = key.rstrip(" ").lower()
        value = value.lstrip(" ")
        if key == "capabilities":
            t.required_caps = value.split()
        elif key == "connections":
            n = 2 if value == "n" else (int(re.match(r"\d*", value).group() or 0))
            if n == 0 or n > 100:
                raise ScriptError("Too many connections")
            t.connection_count = n
        elif key == "ignore_extra_untagged":
            t.ignore_extra_untagged = value[:1] == "y"
        elif key.startswith("user ") and is_uint(key[5:]) and int(key[5:]) != 0:
            idx = int(key[5:])
            if idx > 100:
                raise ScriptError("Too many connections")
            if value in ("$user2", "${user2}"):
                t.require_user2 = True
                value = "$user2"
            t.usernames[idx - 1] = value
        elif key == "messages":
            if value == "all":
                t.all_messages = True
                t.message_count = 1 << 31
            else:
                t.message_count = int(re.match(r"\d*", value).group() or 0)
        elif key == "state":
            v = value.lower()
            if v not in STATES:
                raise ScriptError("Unknown state value")
            t.state = v
        else:
            raise ScriptError("Unknown setting")

    # commands ------------------------------------------------------------
    def untagged(self, linenum: int, text: str, existence: str) -> None:
        group = self.group
        try:
            args = parse_args(text)
        except ParseError as e:
            raise ScriptError(str(e))
        name = ""
        if args and args[0].type in (ATOM, NIL):
            name = args[0].value
            if name[:1] == "$" or name[:1].isdigit():
                name = args[1].value if len(args) > 1 and args[1].type in (ATOM, NIL) else ""
        _handle_directives(_DirCtx(None, name), args)
        if name[:3].lower() == "bye":
            if existence == MUST_EXIST:
                group.have_untagged_bye = True
            elif existence == MAY_EXIST:
                raise ScriptError("? BYE not currently supported")
        group.untagged.append(Untagged(args, existence, linenum))

    def finish(self, tag: int, line: str) -> None:
        group = self.group
        cmd = next((c for c in group.commands if c.tag == tag), None)
        if cmd is None:
            raise ScriptError("Reply for unknown tag")
        if cmd.reply is not None:
            raise ScriptError("Command already has a reply")
        try:
            args = parse_args(line)
        except ParseError as e:
            raise ScriptError(str(e))
        cmd.reply = args[1:] if tag else args
        group.replies_pending -= 1

    def command_line(self, linenum: int, line: str) -> None:
        t = self.t
        if line.startswith("!ifenv ") or line.startswith("!ifnenv "):
            env = line.split(" ", 1)[1]
            skip_now = os.environ.get(env) is None
            if line.startswith("!ifnenv "):
                skip_now = not skip_now
            self.ifenv.append({"line": linenum, "else": False, "skip": self.skip})
            if skip_now:
                self.skip = True
            return
        if line == "!else":
            if not self.ifenv:
                raise ScriptError("!else without !ifenv")
            top = self.ifenv[-1]
            if top["else"]:
                raise ScriptError("!else already seen")
            top["else"] = True
            if not top["skip"]:
                self.skip = not self.skip
            return
        if line == "!endif":
            if not self.ifenv:
                raise ScriptError("!endif without !ifenv")
            self.skip = self.ifenv.pop()["skip"]
            return
        if self.skip:
            return

        group = self.group
        if group is not None:
            if line.startswith("!sleep "):
                group.sleep_msecs = parse_interval_msecs(line[7:])
                return
            if line.startswith("!output "):
                group.output.append(line[8:])
                return
            if line[:2] in ("* ", "! ", "? "):
                self.untagged(linenum, line[2:], line[0])
                return
            if group.replies_pending > 0:
                line_no_conn = line
                reply_conn = 0
                if t.connection_count > 1:
                    first = line.split(" ", 1)[0]
                    if is_uint(first) and int(first) > 0:
                        reply_conn = int(first)
                        line_no_conn = line.split(" ", 1)[1] if " " in line else ""
                reply, tag, _ = get_cmd_reply(line_no_conn)
                if reply is not None:
                    if t.connection_count > 1:
                        if reply_conn == 0:
                            raise ScriptError("Missing client index")
                        if reply_conn - 1 != group.conn:
                            raise ScriptError("Reply for wrong connection")
                    self.finish(tag, line_no_conn)
                    return

        if group is None or group.replies_pending == 0:
            group = Group()
            self.group = group
            t.groups.append(group)

        cmd = Command(linenum)
        if t.connection_count > 1:
            first = line.split(" ", 1)[0]
            if not is_uint(first) or int(first) == 0:
                raise ScriptError("Missing client index")
            idx = int(first)
            if idx > 100:
                raise ScriptError("Too many connections")
            if group.commands and group.conn != idx - 1:
                raise ScriptError("All pipelined commands must use the same connection")
            group.conn = idx - 1
            t.connection_count = max(t.connection_count, idx)
            line = line.split(" ", 1)[1] if " " in line else ""

        cmd.reply, cmd.tag, line = get_cmd_reply(line)
        if cmd.tag == 0:
            if group.replies_pending > 0:
                raise ScriptError("Missing reply from previous command group")
        elif any(c.tag == cmd.tag for c in group.commands):
            raise ScriptError("Tag reused within command group")
        if not group.commands and line[:2] in ("* ", "! ", "? "):
            t.have_banner_check = True
            self.untagged(linenum, line[2:], line[0])
            return
        if cmd.reply is None:
            group.replies_pending += 1
        cmd.text = line
        group.commands.append(cmd)


def parse_interval_msecs(s: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", s.lower())
    if not m:
        raise ScriptError("Invalid !sleep value " + s)
    n, unit = int(m.group(1)), m.group(2)
    mult = {"": 1000, "ms": 1, "msec": 1, "msecs": 1, "millisecs": 1, "milliseconds": 1,
            "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
            "m": 60000, "min": 60000, "mins": 60000, "minute": 60000, "minutes": 60000}
    if unit not in mult:
        raise ScriptError("Invalid !sleep value " + s)
    return n * mult[unit]


def parse_script(path: str, default_mbox: str) -> Script:
    name = os.path.basename(path)
    mbox = path + ".mbox"
    t = Script(name=name, path=path, mbox_path=mbox if os.path.exists(mbox) else default_mbox)
    with open(path, "rb") as f:
        data = f.read().decode("latin-1")
    p = ScriptParser(t)
    if data and not data.endswith("\n"):
        raise ScriptError("Last line doesn't end with LF")
    lines = data.split("\n")[:-1]
    header = True
    continues = False
    binary = False
    multiline = ""
    start_pos = last_line_end = 0
    start_linenum = 0
    for linenum, line in enumerate(lines, 1):
        if continues:
            if not line.startswith("}}}"):
                multiline += line
                last_line_end = len(multiline)
                multiline += "\n" if binary else "\r\n"
                continue
            multiline = multiline[:last_line_end]
            line = line[3:]
            lit = multiline[start_pos:]
            multiline = multiline[:start_pos] + ("~" if binary else "") + "{%d}\r\n" % len(lit) + lit
            if len(line) >= 3 and line.endswith("{{{"):
                binary = len(line) > 3 and line[-4] == "~"
                multiline += line[:-4] if binary else line[:-3]
                start_pos = last_line_end = len(multiline)
                continue
            multiline += line
            line = multiline
            continues = False
        else:
            start_linenum = linenum
            if line == "":
                header = False
                continue
            if line[0] == "#":
                continue
            if len(line) >= 3 and line.endswith("{{{"):
                binary = len(line) > 3 and line[-4] == "~"
                multiline = line[:-4] if binary else line[:-3]
                start_pos = last_line_end = len(multiline)
                continues = True
                continue
        try:
            if header:
                p.header_line(line)
            else:
                p.command_line(start_linenum, line)
        except ScriptError as e:
            raise ScriptError("%s line %d: %s" % (name, linenum, e))
    if continues:
        raise ScriptError("%s: Multiline reply at line %d not ended" % (name, start_linenum))
    if p.group is None:
        raise ScriptError("%s: No commands in file" % name)
    if p.group.replies_pending > 0:
        cmd = next(c for c in p.group.commands if c.reply is None)
        raise ScriptError("%s: Missing reply from previous command at line %d" % (name, cmd.linenum))
    if p.ifenv:
        raise ScriptError("%s: !ifenv at line %d not closed with !endif" % (name, p.ifenv[0]["line"]))
    # imaptest adds a LOGOUT on the first connection unless the script logs
    # out (or expects BYE) itself
    has_logout = any(g.have_untagged_bye or any(c.text.lower() == "logout" for c in g.commands)
                     for g in t.groups)
    if not has_logout:
        g = Group(conn=0)
        g.commands.append(Command(0, "logout", 0, [Arg(ATOM, "ok")]))
        t.groups.append(g)
    return t


# ---------------------------------------------------------------------------
# mbox source (port of imaptest src/mailbox-source-mbox.c)
# ---------------------------------------------------------------------------

_WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def mbox_from_parse(s: str):
    """Dovecot's mbox_from_parse(): returns (time_t, tz_offset_minutes) or None."""
    i, n = 0, len(s)
    if i < n and s[i] == '"':
        i += 1
        esc = False
        while i < n and (s[i] != '"' or esc):
            esc = s[i] == "\\"
            i += 1
        i += 1
    while i < n and s[i] != " ":
        i += 1
    while i < n and s[i] == " ":
        i += 1
    if i + 29 - 3 - 5 > n:
        return None
    s = s + "\0" * 8  # so that look-ahead never runs off the end
    i += 4  # weekday

    def month_at(k):
        m = s[k:k + 3].capitalize()
        if m in _MONTHS and s[k + 3] == " ":
            return _MONTHS.index(m)
        return None

    def year_at(k):
        y = s[k:k + 4]
        return int(y) if len(y) == 4 and y.isdigit() else None

    mon = month_at(i)
    sec = 0
    if mon is None:
        alt = True
        i += 1
        if not s[i].isdigit():
            return None
        mday = int(s[i])
        i += 1
        if s[i].isdigit():
            mday = mday * 10 + int(s[i])
            i += 1
        if s[i] != " ":
            return None
        i += 1
        mon = month_at(i)
        if mon is None:
            return None
        i += 4
        year = year_at(i)
        if year is None:
            return None
        i += 5
    else:
        alt = False
        i += 4
        if s[i] == " ":
            i += 1
        if s[i + 1] == " ":
            if not s[i].isdigit():
                return None
            mday = int(s[i])
            i += 2
        else:
            if not (s[i].isdigit() and s[i + 1].isdigit() and s[i + 2] == " "):
                return None
            mday = int(s[i:i + 2])
            i += 3
    if mday == 0:
        mday = 1
    if i + 5 > n:
        return None
    if not (s[i].isdigit() and s[i + 1].isdigit() and s[i + 2] == ":"):
        return None
    hour = int(s[i:i + 2])
    i += 3
    if not (s[i].isdigit() and s[i + 1].isdigit()):
        return None
    minute = int(s[i:i + 2])
    i += 2
    if i >= n:
        pass
    elif s[i] == ":":
        if i + 3 > n:
            return None
        i += 1
        if not (s[i].isdigit() and s[i + 1].isdigit()):
            return None
        sec = int(s[i:i + 2])
        i += 2
        if not alt:
            if s[i] == " ":
                i += 1
            else:
                return None
    elif not alt:
        if s[i] != " ":
            return None
        i += 1
    tz_secs = None
    if alt:
        pass
    elif i + 4 <= n and not s[i:i + 4].isdigit():
        while i < n and s[i] != " ":
            i += 1
        if i + 5 > n:
            return None
        i += 1
    elif (i + 6 <= n and s[i] in "+-" and s[i + 1:i + 5].isdigit() and s[i + 5] == " "):
        tz_secs = int(s[i + 1:i + 3]) * 3600 + int(s[i + 3:i + 5])  # sic (Dovecot)
        if s[i] == "-":
            tz_secs = -tz_secs
        i += 6
    if not alt:
        if i + 4 > n:
            return None
        year = year_at(i)
        if year is None:
            return None
        i += 4
    if (tz_secs is None and i + 6 <= n and s[i] == " " and s[i + 1] in "+-"
            and s[i + 2:i + 6].isdigit()):
        tz_secs = int(s[i + 2:i + 4]) * 3600 + int(s[i + 4:i + 6])
        if s[i + 1] == "-":
            tz_secs = -tz_secs
    try:
        if tz_secs is not None:
            t = calendar.timegm((year, mon + 1, mday, hour, minute, sec, 0, 0, 0)) - tz_secs
            return t, int(tz_secs / 60)
        t = int(time.mktime((year, mon + 1, mday, hour, minute, sec, 0, 0, -1)))
        return t, time.localtime(t).tm_gmtoff // 60
    except (OverflowError, ValueError):
        return None


def imap_datetime(t: int, tz_min: int) -> str:
    d = datetime.datetime.fromtimestamp(t, datetime.timezone(datetime.timedelta(minutes=tz_min)))
    sign = "-" if tz_min < 0 else "+"
    a = abs(tz_min)
    return "%02d-%s-%04d %02d:%02d:%02d %s%02d%02d" % (
        d.day, _MONTHS[d.month - 1], d.year, d.hour, d.minute, d.second, sign, a // 60, a % 60)


class MboxSource:
    """Messages of an mbox file, handed out in order and wrapping around.
    Like imaptest, every line (including the blank line before the next
    From_ line) is sent with CRLF line endings."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            data = f.read().decode("latin-1")
        lines = data.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        self.messages: list[tuple[str, int, int]] = []
        i = 0
        if not lines or not lines[0].startswith("From ") or mbox_from_parse(lines[0][5:]) is None:
            raise ScriptError("Not a valid mbox file: %s" % path)
        while i < len(lines):
            when = mbox_from_parse(lines[i][5:])
            i += 1
            body: list[str] = []
            while i < len(lines):
                ln = lines[i]
                if ln.startswith("From ") and mbox_from_parse(ln[5:]) is not None:
                    if body:
                        break
                    i += 1  # empty body: skip the second From_ line
                    continue
                body.append(ln)
                i += 1
            if not body:
                raise ScriptError("mbox file ends with From-line: %s" % path)
            self.messages.append(("".join(ln + "\r\n" for ln in body), when[0], when[1]))
        self.next = 0

    def eof(self) -> bool:
        return self.next >= len(self.messages)

    def get_next(self) -> tuple[str, int, int]:
        if self.next >= len(self.messages):
            self.next = 0
        m = self.messages[self.next]
        self.next += 1
        return m


# ---------------------------------------------------------------------------
# Network connection
# ---------------------------------------------------------------------------

class Timeout(Exception):
    pass


class Closed(Exception):
    pass


class TestFailure(Exception):
    pass


class TestSkip(Exception):
    pass


_LIT_END_RE = re.compile(r"~?\{(\d+)\+?\}\r?\n\Z")
MAX_RESPONSE = 64 * 1024 * 1024


class Conn:
    def __init__(self, run: "TestRun", idx: int):
        o = run.opts
        self.run = run
        self.idx = idx
        self.timeout = o.timeout
        self.buf = b""
        self.tagno = 0
        self.caps: list[str] = []
        self.postlogin_caps = False
        self.logged_in = False
        self.msg_count = 0
        self.storage = run.mailbox  # the "current" mailbox for bare APPEND
        self.logout_sent = False
        self.seen_bye = False
        self.closed = False
        self.send_queue: list[tuple[Command | None, bytes, bool]] = []
        self.awaiting_cont: Command | None = None
        try:
            sock = socket.create_connection((o.host, o.port), timeout=o.timeout)
        except OSError as e:
            raise TestFailure("connection %d: connect to %s:%d failed: %s" % (idx + 1, o.host, o.port, e))
        if o.tls:
            sock = run.ssl_context().wrap_socket(sock, server_hostname=o.host if not _is_ip(o.host) else None)
        self.sock = sock

    # -- low level
    def log(self, direction: str, text: str) -> None:
        self.run.log("%s%d: %s" % (direction, self.idx + 1, text))

    def send_raw(self, data: bytes) -> None:
        if self.closed:
            raise TestFailure("connection %d: cannot send, connection is closed" % (self.idx + 1))
        self.log("C", _printable(data))
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
        except (OSError, socket.timeout) as e:
            self.closed = True
            raise TestFailure("connection %d: send failed: %s" % (self.idx + 1, e))

    def _recv(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout()
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except ssl.SSLError as e:
            self.closed = True
            raise Closed(str(e))
        except OSError as e:
            self.closed = True
            raise Closed(str(e))
        if not data:
            self.closed = True
            raise Closed("connection closed by server")
        self.buf += data

    def _read_line(self, deadline: float) -> bytes:
        start = 0
        while True:
            p = self.buf.find(b"\n", start)
            if p >= 0:
                line, self.buf = self.buf[:p + 1], self.buf[p + 1:]
                return line
            start = len(self.buf)
            if start > MAX_RESPONSE:
                raise TestFailure("connection %d: response line too long" % (self.idx + 1))
            self._recv(deadline)

    def _read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            self._recv(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self) -> str:
        """One full server response (with literals), without the final CRLF."""
        deadline = time.monotonic() + self.timeout
        parts: list[bytes] = []
        total = 0
        while True:
            line = self._read_line(deadline)
            parts.append(line)
            total += len(line)
            m = _LIT_END_RE.search(line.decode("latin-1"))
            if not m or line.startswith(b"+"):
                break
            n = int(m.group(1))
            total += n
            if total > MAX_RESPONSE:
                raise TestFailure("connection %d: response too large" % (self.idx + 1))
            parts.append(self._read_exact(n, deadline))
        raw = b"".join(parts)
        self.log("S", _printable(raw.rstrip(b"\r\n")))
        s = raw.decode("latin-1")
        if s.endswith("\r\n"):
            s = s[:-2]
        elif s.endswith("\n"):
            s = s[:-1]
        return s

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    # -- helpers
    def next_tag(self) -> str:
        self.tagno += 1
        return "%d.%d" % (self.idx + 1, self.tagno)

    def has_cap(self, cap: str) -> bool:
        return any(ieq(c, cap) for c in self.caps)

    def set_caps(self, words: list[str]) -> None:
        self.caps = list(words)
        if self.logged_in:
            self.postlogin_caps = True


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    except OSError:
        return False


def _printable(b: bytes, limit: int = 400) -> str:
    s = b.decode("latin-1")
    if len(s) > limit:
        s = s[:limit] + "...[%d bytes]" % len(b)
    return s.replace("\r\n", "\\r\\n").replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")


# ---------------------------------------------------------------------------
# Test execution (port of imaptest src/test-exec.c)
# ---------------------------------------------------------------------------

def _is_varchar(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


class TestRun:
    def __init__(self, script: Script, opts, shared):
        self.t = script
        self.opts = opts
        self.shared = shared
        self.mailbox = opts.mailbox_prefix + (("-" + script.name) if opts.mailbox_per_test else "")
        self.vars: dict[str, str] = {}
        self.added: list[str] = []
        self.seqmap: list[int] = []
        self.hmodseq_idx = 0
        self.hmodseq_val = 0
        self.conns: list[Conn] = []
        self.source = MboxSource(script.mbox_path)
        self.trace: list[str] = []
        self.group_idx = -1
        self.cur_group: Group | None = None
        self.init_finished = False
        self.deadline = time.monotonic() + opts.script_timeout

    # -- logging and failures
    def log(self, line: str) -> None:
        self.trace.append(line)

    def ssl_context(self) -> ssl.SSLContext:
        return self.shared.ssl_context()

    def fail(self, msg: str):
        raise TestFailure(msg)

    def context(self) -> str:
        if not self.init_finished:
            return "initialization"
        g = self.cur_group
        if g is None or not g.commands:
            return "banner check"
        cmd = g.commands[0]
        where = "line %d" % cmd.linenum if cmd.linenum else "final LOGOUT added by the runner"
        return "command %d/%d (%s), connection %d: %s" % (
            self.group_idx + 1, len(self.t.groups), where, g.conn + 1, _printable(cmd.text.encode("latin-1"), 200))

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            self.fail("script timeout (%ds) exceeded" % self.opts.script_timeout)

    # -- variables
    def relative_seq(self, seq: int) -> str:
        if seq == 0:
            return "<zero seq>"
        if seq > len(self.seqmap):
            return "<out of range>"
        if self.seqmap[seq - 1] == 0:
            return "<expunged>"
        return str(self.seqmap[seq - 1])

    def expand_all(self, line: str, skip_uninitialized: bool = False) -> str:
        if "$" not in line:
            return line
        out: list[str] = []
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if c != "$" or i == n - 1:
                out.append(c)
                i += 1
                continue
            i += 1
            if line[i] == "$":
                out.append("$")
                i += 1
            elif line[i] == "!":
                while i + 1 < n and line[i + 1] != " ":
                    i += 1
                i += 1
            else:
                if line[i] == "{":
                    e = line.find("}", i + 1)
                    if e < 0:
                        self.fail("Missing '}'")
                    name = line[i + 1:e]
                    i = e + 1
                else:
                    e = i
                    while e < n and _is_varchar(line[e]):
                        e += 1
                    name = line[i:e]
                    i = e
                if is_uint(name):
                    value = self.relative_seq(int(name))
                else:
                    value = self.vars.get(name)
                    if value is None:
                        if not skip_uninitialized:
                            self.fail("Uninitialized variable: %s" % name)
                        value = "$"
                out.append(value)
        return "".join(out)

    def new_var_modseq(self, idx: int, value: str) -> str:
        if not is_uint(value):
            return "$modseq-not-number"
        v = int(value)
        if self.hmodseq_idx > idx:
            return "$modseq-order-mismatch"
        at_least = self.hmodseq_val + (idx - self.hmodseq_idx)
        if v < at_least:
            value = "$modseq-at-least-%d" % at_least
            v = at_least
        self.hmodseq_idx = idx
        self.hmodseq_val = v
        return value

    def expand_input(self, pat: str, inp: str):
        """test_expand_input(): match pattern `pat` (with $vars) against
        the input string; binds unset variables.  Returns (expanded, icase)
        or (None, icase) on mismatch."""
        icase = True
        out: list[str] = []
        s = ip = 0
        np_, ni = len(pat), len(inp)
        while s < np_:
            c = pat[s]
            if c != "$" or (s + 1 < np_ and pat[s + 1] == "$"):
                if c == "$":
                    s += 1
                ch = pat[s]
                if ip >= ni or up(ch) != up(inp[ip]):
                    return None, icase
                ip += 1
                out.append(ch)
                s += 1
                continue
            s += 1
            if s < np_ and pat[s] == "{":
                e = pat.find("}", s + 1)
                if e < 0:
                    return "", icase
                name = pat[s + 1:e]
                s = e + 1
            else:
                e = s
                while e < np_ and _is_varchar(pat[e]):
                    e += 1
                name = pat[s:e]
                s = e
            if is_uint(name):
                value = self.relative_seq(int(name))
            elif name.startswith("case:"):
                value = name[5:]
                icase = False
            else:
                value = self.vars.get(name) if name else None
                if value is None:
                    rest = pat[s:]
                    sub_icase = True
                    if rest.startswith("$"):
                        tmp, sub_icase = self.expand_input(rest, inp[ip:])
                        tmp = tmp or ""
                    else:
                        tmp = rest
                    p = ip
                    if tmp:
                        stop = tmp[0]
                        if sub_icase:
                            while p < ni and up(inp[p]) != up(stop):
                                p += 1
                        else:
                            while p < ni and inp[p] != stop:
                                p += 1
                    else:
                        p = ni
                    captured = inp[ip:p]
                    m = re.fullmatch(r"modseq(\d+)", name)
                    if name == "":
                        value = captured
                    elif m:
                        value = self.new_var_modseq(int(m.group(1)), captured)
                        self.vars[name] = value
                    else:
                        self.vars[name] = captured
                        self.added.append(name)
                        value = captured
            out.append(value)
            if inp[ip:ip + len(value)] != value:
                return None, icase
            ip += len(value)
        return "".join(out), icase

    # -- matching
    def match_list(self, match: list[Arg], args: list[Arg]) -> int:
        unordered = False
        chain = 1
        ignores: list[str] = []
        bans: list[str] = []
        noextra = -1
        k = 0
        while k < len(match) and match[k].type in (ATOM, NIL) and match[k].value.startswith("$!"):
            d = match[k].value[2:]
            if d.startswith("unordered"):
                unordered = True
                if noextra == -1:
                    noextra = 0
                if d[9:10] == "=":
                    chain = int(re.match(r"\d*", d[10:]).group() or 0) or 1
            elif d == "ordered":
                unordered = False
            elif d == "extra":
                noextra = 0
            elif d == "noextra":
                noextra = 1
            elif d.startswith("ignore="):
                ignores.append(d[7:])
            elif d.startswith("ban="):
                bans.append(d[4:])
            k += 1
        match = match[k:]
        if noextra == -1:
            noextra = 1
        if not unordered:
            return self.match_args(match, args, FULL, False)
        n = len(args)
        if n % chain != 0:
            return 0
        matched = [False] * n
        ret = 0
        for mi in range(0, len(match), chain):
            for ai in range(0, n, chain):
                if self.match_args(match[mi:], args[ai:], chain, False) == FULL:
                    matched[ai] = True
                    break
            else:
                return ret
            ret += 1
        if noextra > 0:
            for ai in range(0, n, chain):
                if matched[ai] or args[ai].type not in ASTRING_TYPES:
                    continue
                if not any(ieq(cstr(x), cstr(args[ai].value)) for x in ignores):
                    return ret
        elif bans:
            for ai in range(0, n, chain):
                if matched[ai] or args[ai].type not in ASTRING_TYPES:
                    continue
                if any(ieq(cstr(x), cstr(args[ai].value)) for x in bans):
                    return ret
        return FULL

    def match_args(self, match: list[Arg], args: list[Arg], maxn: int, prefix: bool) -> int:
        ret = 0
        mi = ai = 0
        while mi < len(match) and maxn > 0:
            m = match[mi]
            a = args[ai] if ai < len(args) else None
            if m.type == NIL:
                if a is None or a.type != NIL:
                    return ret
            elif m.type == LIST:
                if a is None or a.type != LIST:
                    return ret
                sub = self.match_list(m.value, a.value)
                if sub != FULL:
                    return ret + sub
            else:
                ms = m.value
                if ms == "$" and a is not None and a.type == LIST:
                    pass  # "$" skips over a list
                elif ms == "$]":
                    # skip until an atom containing ']' (inclusive)
                    while a is not None and a.type in (ATOM, NIL) and "]" not in a.value:
                        ai += 1
                        a = args[ai] if ai < len(args) else None
                else:
                    if a is None or a.type not in ASTRING_TYPES:
                        return ret
                    # imaptest compares C strings: everything from a NUL
                    # byte on is invisible (append-binary relies on this)
                    astr = cstr(a.value)
                    mstr, icase = self.expand_input(cstr(ms), astr)
                    if mstr is None:
                        return ret
                    if prefix and mi == len(match) - 1:
                        ok = (up(astr[:len(mstr)]) == up(mstr)) if icase else astr.startswith(mstr)
                    else:
                        ok = ieq(astr, mstr) if icase else astr == mstr
                    if not ok:
                        return ret
            ret += 1
            mi += 1
            ai += 1
            maxn -= 1
        if prefix or ai >= len(args) or maxn == 0:
            return FULL
        return ret

    # -- protocol helpers
    def update_state(self, conn: Conn, args: list[Arg]) -> None:
        """The bits of imaptest's client state tracking that matter here."""
        if not args or args[0].type not in (ATOM, NIL):
            return
        w = up(args[0].value)
        if is_uint(w) and len(args) > 1 and args[1].type == ATOM:
            kind = up(args[1].value)
            n = int(w)
            # imaptest's view tracking treats these as fatal server errors
            if kind == "EXISTS":
                if n < conn.msg_count:
                    self.fail("Message count dropped %d -> %d (connection %d): * %s"
                              % (conn.msg_count, n, conn.idx + 1, fmt_args(args)))
                conn.msg_count = n
            elif kind == "EXPUNGE":
                if n == 0 or n > conn.msg_count:
                    self.fail("Tried to expunge sequence %d with only %d msgs (connection %d)"
                              % (n, conn.msg_count, conn.idx + 1))
                conn.msg_count -= 1
        elif w == "VANISHED":
            rest = args[1:]
            if rest and rest[0].type == LIST:
                return  # VANISHED (EARLIER) doesn't change the view
            if rest and rest[0].type == ATOM:
                conn.msg_count = max(0, conn.msg_count - _seqset_size(rest[0].value))
        elif w == "CAPABILITY":
            conn.set_caps([a.value for a in args[1:] if a.type in ASTRING_TYPES])
        elif w in ("OK", "PREAUTH", "BYE", "NO", "BAD"):
            self.resp_code_caps(conn, args[1:])
            if w == "BYE":
                conn.seen_bye = True

    def resp_code_caps(self, conn: Conn, args: list[Arg]) -> None:
        if args and args[0].type == ATOM and up(args[0].value) == "[CAPABILITY":
            words = []
            for a in args[1:]:
                if a.type not in ASTRING_TYPES:
                    break
                v = a.value
                if "]" in v:
                    v = v[:v.index("]")]
                    if v:
                        words.append(v)
                    break
                words.append(v)
            conn.set_caps(words)

    def literal_nonsync_ok(self, conn: Conn, size: int) -> bool:
        caps = conn.caps or (self.conns[0].caps if self.conns else [])
        if any(ieq(c, "LITERAL+") for c in caps):
            return True
        return any(ieq(c, "LITERAL-") for c in caps) and size <= 4096

    def build_chunks(self, conn: Conn, tag: str, cmdline: str) -> list[tuple[bytes, bool]]:
        """command_get_cmdline(): split a command at its literals.  Literals
        become non-synchronizing when the server allows it (imaptest always
        uses LITERAL+); otherwise we wait for the continuation."""
        chunks: list[tuple[bytes, bool]] = []
        cur = tag + " "
        rest = cmdline
        while True:
            p = rest.find("\n")
            if p < 0:
                break
            head = rest[:p + 1]
            m = re.search(r" (~?)\{(\d+)(\+?)\}\r?\n\Z", head)
            if not m:
                cur += head
                rest = rest[p + 1:]
                continue
            size = int(m.group(2))
            literal = rest[p + 1:p + 1 + size]
            rest = rest[p + 1 + size:]
            before = head[:m.start()] + " " + m.group(1)
            if m.group(3) or self.literal_nonsync_ok(conn, size):
                cur += before + "{%d+}\r\n" % size + literal
            else:
                cur += before + "{%d}\r\n" % size
                chunks.append((cur.encode("latin-1"), True))
                cur = literal
        cur += rest + "\r\n"
        chunks.append((cur.encode("latin-1"), False))
        return chunks

    def queue_command(self, conn: Conn, cmd: Command | None, tag: str, cmdline: str) -> None:
        for data, wait in self.build_chunks(conn, tag, cmdline):
            conn.send_queue.append((cmd, data, wait))
        self.pump(conn)

    def pump(self, conn: Conn) -> None:
        while conn.send_queue and conn.awaiting_cont is None:
            cmd, data, wait = conn.send_queue.pop(0)
            conn.send_raw(data)
            if wait:
                conn.awaiting_cont = cmd if cmd is not None else Command(0)

    def drop_queued(self, conn: Conn, cmd: Command | None) -> None:
        if conn.awaiting_cont is not None and conn.awaiting_cont is cmd:
            conn.awaiting_cont = None
        conn.send_queue = [q for q in conn.send_queue if q[0] is not cmd]

    def append_message_cmd(self, args: str, add_datetime: bool) -> str:
        msg, t, tz = self.source.get_next()
        s = "APPEND " + args
        if add_datetime:
            s += ' "%s"' % imap_datetime(t, tz)
        return s + " {%d}\r\n" % len(msg) + msg

    def simple_command(self, conn: Conn, cmdline: str, what: str, allow_no: bool = False):
        """Run one setup command to completion; returns (status, args, untagged)."""
        tag = conn.next_tag()
        self.queue_command(conn, None, tag, cmdline)
        untagged: list[list[Arg]] = []
        while True:
            self.check_deadline()
            kind, rtag, args = self.read(conn, what)
            if kind == "+":
                conn.awaiting_cont = None
                self.pump(conn)
                continue
            if kind == "*":
                untagged.append(args)
                continue
            if rtag != tag:
                self.fail("%s: unexpected tagged reply %s %s" % (what, rtag, fmt_args(args)))
            status = up(args[0].value) if args and args[0].type in (ATOM, NIL) else ""
            conn.send_queue.clear()
            conn.awaiting_cont = None
            if status == "OK" or (status == "NO" and allow_no):
                return status, args, untagged
            self.fail("%s failed: %s" % (what, fmt_args(args)))

    def read(self, conn: Conn, what: str):
        try:
            raw = conn.read_response()
        except Timeout:
            self.fail("timeout (%ss) waiting for the server's reply to %s on connection %d"
                      % (self.opts.timeout, what, conn.idx + 1))
        if raw.startswith("+"):
            return "+", None, []
        try:
            args = parse_args(raw, multiline_str=False)
        except ParseError as e:
            self.fail("unparsable server response %r: %s" % (raw[:200], e))
        if not args or args[0].type not in (ATOM, NIL):
            self.fail("broken server response: %r" % raw[:200])
        tag = args[0].value
        if tag == "*":
            self.update_state(conn, args[1:])
            return "*", None, args[1:]
        if args[1:] and args[1].type == ATOM:
            self.resp_code_caps(conn, args[2:])
        return "tagged", tag, args[1:]

    # -- setup (the startup states)
    def connect_all(self) -> None:
        for i in range(self.t.connection_count):
            conn = Conn(self, i)
            self.conns.append(conn)
        for conn in self.conns:
            try:
                kind, _, args = self.read(conn, "the greeting")
            except Closed as e:
                self.fail("connection %d closed before the greeting: %s" % (conn.idx + 1, e))
            if kind != "*" or not args or args[0].type != ATOM or up(args[0].value) not in ("OK", "PREAUTH"):
                self.fail("malformed greeting: %s" % fmt_args(args))
            if up(args[0].value) == "PREAUTH":
                conn.logged_in = True
            if conn.idx == 0 and self.t.have_banner_check:
                self.banner_args = args
            if self.opts.starttls:
                self.simple_command(conn, "STARTTLS", "STARTTLS")
                conn.sock = self.ssl_context().wrap_socket(
                    conn.sock, server_hostname=None if _is_ip(self.opts.host) else self.opts.host)
                conn.caps = []
            if not conn.caps:
                self.simple_command(conn, "CAPABILITY", "CAPABILITY")

    def user_for(self, idx: int) -> tuple[str, str]:
        o = self.opts
        name = self.t.usernames.get(idx)
        if name is None:
            return o.user, o.password
        if name == "$user2":
            if not o.user2:
                self.fail("the script needs a second user (header 'user %d: $user2'); run with --user2"
                          % (idx + 1))
            return o.user2, o.password2 or o.password
        return name, o.password

    def login_all(self) -> None:
        for conn in self.conns:
            if conn.logged_in:
                continue
            user, password = self.user_for(conn.idx)
            conn.logged_in = True  # capabilities in the tagged OK are post-login
            self.simple_command(conn, "LOGIN %s %s" % (quote(user), quote(password)),
                                "LOGIN as %s" % user)

    def set_predefined_vars(self) -> None:
        host = self.opts.host
        for i in range(self.t.connection_count):
            user, password = self.t.usernames.get(i), None
            if user == "$user2":
                user, password = self.opts.user2 or "", self.opts.password2 or self.opts.password
            elif user is None:
                user, password = self.opts.user, self.opts.password
            else:
                password = self.opts.password
            sfx = "" if i == 0 else str(i + 1)
            self.vars["user" + sfx] = user
            self.vars["username" + sfx] = user.split("@", 1)[0]
            self.vars["domain" + sfx] = user.split("@", 1)[1] if "@" in user else host
            self.vars["password" + sfx] = password
        self.vars["mailbox"] = self.mailbox
        self.vars["mailbox_url"] = mailbox_url(self.mailbox)

    def check_capabilities(self, conn: Conn) -> None:
        have = self.shared.capabilities_for(conn)
        if have is None:
            return
        missing = [c for c in self.t.required_caps if not any(ieq(c, h) for h in have)]
        if missing:
            raise TestSkip("server does not advertise %s" % " ".join(missing))

    def setup(self) -> None:
        t = self.t
        self.connect_all()
        if t.state == "nonauth":
            self.check_capabilities(self.conns[0])
            return
        self.login_all()
        c0 = self.conns[0]
        if not c0.postlogin_caps:
            self.simple_command(c0, "CAPABILITY", "CAPABILITY")
        self.check_capabilities(c0)
        # make sure all test mailboxes are deleted
        mask = quote(self.mailbox + "*")
        boxes: list[str] = []
        subs: list[str] = []
        for cmd, dest in (("LIST", boxes), ("LSUB", subs)):
            _, _, untagged = self.simple_command(c0, '%s "" %s' % (cmd, mask), cmd)
            for a in untagged:
                if (len(a) >= 4 and a[0].type == ATOM and up(a[0].value) == cmd and a[1].type == LIST
                        and a[2].type in (STRING, LITERAL, NIL) and a[3].type in ASTRING_TYPES):
                    dest.append(a[3].value)
        for name in sorted(boxes, key=up, reverse=True):
            self.simple_command(c0, "DELETE " + quote(name), "DELETE " + name, allow_no=True)
        for name in sorted(subs, key=up, reverse=True):
            self.simple_command(c0, "UNSUBSCRIBE " + quote(name), "UNSUBSCRIBE " + name, allow_no=True)
        if t.state == "auth":
            return
        if not ieq(self.mailbox, "INBOX"):
            self.simple_command(c0, "CREATE " + quote(self.mailbox), "CREATE " + self.mailbox)
        if t.state == "created":
            return
        count, all_messages = t.message_count, t.all_messages
        if count is None:
            d = self.opts.default_messages
            all_messages = d == "all"
            count = 1 << 31 if all_messages else int(d)
        left = count
        while left > 0 and (not self.source.eof() or not all_messages):
            left -= 1
            cmd = self.append_message_cmd('"%s"' % self.mailbox, True)
            self.simple_command(c0, cmd, "APPEND of message %d from %s"
                                % (self.source.next, os.path.basename(t.mbox_path)))
        if t.state == "appended":
            return
        for conn in self.conns:
            conn.msg_count = 0
            self.simple_command(conn, "SELECT " + quote(self.mailbox), "SELECT " + self.mailbox)

    # -- running the command groups
    def run_group(self, group: Group) -> None:
        conn = self.conns[group.conn]
        self.cur_group = group
        self.seqmap = list(range(1, conn.msg_count + 1))
        found = [False] * len(group.untagged)
        maybes: list[tuple[int, str]] = [(0, "")] * len(group.untagged)
        state = {"mismatch": 0, "first_extra": None}
        pending: dict[str, Command] = {}

        for cmd in group.commands:
            cmdline = self.expand_all(cmd.text)
            tag = conn.next_tag()
            low = cmdline.lower()
            if low == "append":
                cmdline = self.append_message_cmd('"%s"' % conn.storage, True)
            elif low.startswith("append ") and not append_has_body(cmdline[7:], False):
                cmdline = self.append_message_cmd(cmdline[7:], False)
            elif low.startswith("replace ") and not append_has_body(cmdline[8:], True):
                cmdline = "REPLACE " + self.append_message_cmd(cmdline[8:], False)[7:]
            elif low.startswith("uid replace ") and not append_has_body(cmdline[12:], True):
                cmdline = "UID REPLACE " + self.append_message_cmd(cmdline[12:], False)[7:]
            else:
                if cmd.linenum == 0 or low == "logout" or group.have_untagged_bye:
                    conn.logout_sent = True
                self.note_command(conn, cmdline)
            cmd.cur_tag = tag
            pending[tag] = cmd
            if conn.closed:
                self.fail("connection %d is closed" % (conn.idx + 1))
            self.queue_command(conn, cmd, tag, cmdline)

        while pending:
            self.check_deadline()
            try:
                kind, rtag, args = self.read(conn, "the command")
            except Closed as e:
                if group.have_untagged_bye and conn.seen_bye:
                    for c in group.commands:
                        if not (c.reply and len(c.reply) == 1 and c.reply[0].value == ""):
                            self.fail("server disconnected after BYE before the tagged reply; "
                                      "the script expects '%s' (only \"\" allowed when BYE happens)"
                                      % fmt_args(c.reply or []))
                    break
                self.fail("Unexpected disconnection (%s)" % e)
            if kind == "+":
                if conn.awaiting_cont is not None:
                    conn.awaiting_cont = None
                    self.pump(conn)
                continue
            if kind == "*":
                self.handle_untagged(conn, group, args, found, maybes, state)
                if (len(args) >= 2 and args[0].type == ATOM and is_uint(args[0].value)
                        and args[1].type == ATOM and up(args[1].value) == "EXPUNGE"):
                    self.handle_expunge(int(args[0].value))
                continue
            cmd = pending.pop(rtag, None)
            if cmd is None:
                self.fail("Unexpected tagged reply: %s %s" % (rtag, fmt_args(args)))
            self.drop_queued(conn, cmd)
            self.pump(conn)
            first = group.commands[0]
            reply_word = cmd.reply[0].value.lower() if cmd.reply and cmd.reply[0].type == ATOM else ""
            if args and args[0].type == ATOM and up(args[0].value) == "BAD" and reply_word != "bad":
                # imaptest: "BAD reply for command" unless the script expects bad
                self.fail("BAD reply for command: %s (the script expects '%s')"
                          % (fmt_args(args), fmt_args(cmd.reply or [])))
            self.vars["tag"] = rtag
            try:
                mc = self.match_args(cmd.reply or [], args, FULL, True)
            finally:
                self.vars.pop("tag", None)
            cmd.cur_tag = None
            if mc != FULL:
                extra = "" if cmd is first else " (for the command at line %d: %s)" % (
                    cmd.linenum, _printable(cmd.text.encode("latin-1"), 200))
                self.fail("Expected tagged reply '%s', got '%s'%s"
                          % (fmt_args(cmd.reply or []), fmt_args(args), extra))
        self.group_finished(group, found, maybes, state)

    def note_command(self, conn: Conn, cmdline: str) -> None:
        """SELECT/EXAMINE switch the mailbox that a bare APPEND goes to."""
        parts = cmdline.split(" ", 1)
        if len(parts) < 2:
            return
        name = parts[0].upper()
        if name in ("SELECT", "EXAMINE"):
            try:
                a = parse_args(parts[1])
            except ParseError:
                return
            if a and a[0].type in ASTRING_TYPES:
                conn.storage = a[0].value
            conn.msg_count = 0

    def handle_untagged(self, conn: Conn, group: Group, args: list[Arg], found, maybes, state) -> None:
        if not group.untagged:
            if self.t.ignore_extra_untagged or conn.logout_sent:
                return
        prefix = bool(args) and args[0].type in (ATOM, NIL) and up(args[0].value) in ("OK", "NO", "BAD", "BYE")
        tag = None
        if group.commands and group.commands[0].cur_tag:
            tag = group.commands[0].cur_tag
        self.added = []
        found_some = False
        for i, ut in enumerate(group.untagged):
            if found[i]:
                continue
            if tag is not None:
                self.vars["tag"] = tag
            mc = self.match_args(ut.args, args, FULL, prefix)
            if tag is not None:
                self.vars.pop("tag", None)
            if mc == FULL:
                if ut.existence == MUST_NOT_EXIST:
                    self.fail("Unexpected untagged match (script line %d):\n"
                              "Match: %s\nReply: %s" % (ut.linenum, fmt_args(ut.args), fmt_args(args)))
                found[i] = True
                found_some = True
                self.added = []
                continue
            if maybes[i][0] < mc:
                maybes[i] = (mc, fmt_args(args))
            for v in self.added:
                self.vars.pop(v, None)
            self.added = []
        if not found_some:
            state["mismatch"] += 1
            if not self.t.ignore_extra_untagged and state["first_extra"] is None:
                state["first_extra"] = fmt_args(args)

    def handle_expunge(self, seq: int) -> None:
        if seq > len(self.seqmap):
            return
        for i in range(seq - 1, len(self.seqmap)):
            if self.seqmap[i] >= seq:
                if self.seqmap[i] == seq:
                    self.seqmap[i] = 0
                else:
                    self.seqmap[i] -= 1

    def group_finished(self, group: Group, found, maybes, state) -> None:
        missing = [i for i, ut in enumerate(group.untagged)
                   if ut.existence == MUST_EXIST and not found[i]]
        if missing:
            ut = group.untagged[missing[0]]
            unexpanded = fmt_args(ut.args)
            expanded = self.expand_all(unexpanded, True)
            self.fail("Missing %d untagged replies (%d mismatches)\n"
                      " - first unexpanded: %s (script line %d)\n"
                      " - first expanded: %s\n"
                      " - best match: %s" % (len(missing), state["mismatch"], unexpanded, ut.linenum,
                                             expanded, maybes[missing[0]][1]))
        if state["first_extra"] is not None:
            self.fail("%d unexpected untagged replies received, first: %s"
                      % (state["mismatch"], state["first_extra"]))
        for line in group.output:
            print(self.expand_all(line))
        if group.sleep_msecs:
            time.sleep(min(group.sleep_msecs, 10000) / 1000.0)

    def banner_check(self, group: Group) -> None:
        self.cur_group = group
        found = [False] * len(group.untagged)
        maybes = [(0, "")] * len(group.untagged)
        state = {"mismatch": 0, "first_extra": None}
        self.handle_untagged(self.conns[0], group, self.banner_args, found, maybes, state)
        self.group_finished(group, found, maybes, state)

    def execute(self) -> None:
        self.set_predefined_vars()
        self.setup()
        self.init_finished = True
        for i, group in enumerate(self.t.groups):
            self.group_idx = i
            if not group.commands:
                self.banner_check(group)
                continue
            self.run_group(group)

    def logout_quietly(self) -> None:
        for conn in self.conns:
            if conn.closed:
                continue
            try:
                conn.sock.settimeout(2)
                conn.sock.sendall(b"Z LOGOUT\r\n")
            except OSError:
                pass

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


def _seqset_size(s: str) -> int:
    total = 0
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":", 1)
            if is_uint(a) and is_uint(b):
                total += abs(int(b) - int(a)) + 1
        elif is_uint(part):
            total += 1
    return total


def append_has_body(args_str: str, replace: bool) -> bool:
    """append_has_body(): does an APPEND/REPLACE command carry its message?"""
    try:
        args = parse_args(args_str)
    except ParseError:
        return False
    if replace:
        args = args[1:]
    if not args:
        return False
    i = 0
    if i + 1 < len(args) and args[i + 1].type == LIST:
        i += 1
    if i + 1 < len(args) and args[i + 1].type == STRING:
        i += 1
    if i + 1 >= len(args):
        return False
    a = args[i + 1]
    return a.type == LITERAL or (a.type == ATOM and ieq(a.value, "catenate"))


def mailbox_url(name: str) -> str:
    """$mailbox_url: the mailbox name (mUTF-7 -> UTF-8), URL path-encoded."""
    try:
        utf8 = mutf7_decode(name)
    except ValueError:
        utf8 = name
    keep = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,=:@/"
    return "".join(ch if ch in keep else "".join("%%%02X" % b for b in ch.encode("utf-8"))
                   for ch in utf8)


def mutf7_decode(s: str) -> str:
    import base64
    out = []
    i = 0
    while i < len(s):
        if s[i] != "&":
            out.append(s[i])
            i += 1
            continue
        j = s.index("-", i)
        if j == i + 1:
            out.append("&")
        else:
            b = s[i + 1:j].replace(",", "/")
            b += "=" * (-len(b) % 4)
            out.append(base64.b64decode(b).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


# ---------------------------------------------------------------------------
# Running a directory of scripts
# ---------------------------------------------------------------------------

class Shared:
    def __init__(self, opts):
        self.opts = opts
        self._ctx = None
        self.declared = None
        if opts.capability:
            self.declared = [c for item in opts.capability for c in item.replace(",", " ").split()]

    def ssl_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            ctx = ssl.create_default_context(cafile=self.opts.ca_file) if self.opts.ca_file \
                else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if not self.opts.ca_file:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ctx = ctx
        return self._ctx

    def capabilities_for(self, conn: Conn):
        """The capability list a script's requirements are checked against:
        what the server advertised on the first connection (after login,
        or before it for state: nonauth) with --capabilities-from-server,
        else the --capability list; None means "assume everything"."""
        if self.opts.capabilities_from_server:
            return conn.caps
        return self.declared


def list_scripts(tests_dir: str) -> tuple[list[str], str]:
    if os.path.isfile(tests_dir):
        d = os.path.dirname(tests_dir) or "."
        return [tests_dir], os.path.join(d, "default.mbox")
    names = []
    for n in sorted(os.listdir(tests_dir)):
        if n.startswith(".") or n.endswith(".mbox"):
            continue
        p = os.path.join(tests_dir, n)
        if os.path.isdir(p):
            continue  # imaptest skips directories (e.g. tests/broken)
        names.append(p)
    return names, os.path.join(tests_dir, "default.mbox")


@dataclass
class Result:
    name: str
    status: str  # PASS, FAIL, SKIP
    message: str = ""
    seconds: float = 0.0


def run_script(path: str, default_mbox: str, opts, shared: Shared) -> tuple[Result, list[str]]:
    name = os.path.basename(path)
    start = time.monotonic()
    try:
        script = parse_script(path, default_mbox)
    except (ScriptError, OSError) as e:
        return Result(name, "FAIL", "cannot parse the script: %s" % e), []
    try:
        run = TestRun(script, opts, shared)
    except (ScriptError, OSError) as e:
        return Result(name, "FAIL", "cannot read the mbox: %s" % e), []
    try:
        run.execute()
        res = Result(name, "PASS")
    except TestSkip as e:
        run.logout_quietly()
        res = Result(name, "SKIP", str(e))
    except TestFailure as e:
        res = Result(name, "FAIL", "%s\n  failed: %s" % (run.context(), e))
    except Closed as e:
        res = Result(name, "FAIL", "%s\n  failed: connection closed unexpectedly (%s)" % (run.context(), e))
    except Exception as e:  # a runner bug must not stop the whole run
        import traceback
        res = Result(name, "FAIL", "%s\n  runner error: %s\n%s" % (run.context(), e, traceback.format_exc()))
    finally:
        run.close()
    res.seconds = time.monotonic() - start
    return res, run.trace


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run imaptest scripted tests against an IMAP server.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--user2", help="second user, for scripts with a 'user N: $user2' header")
    ap.add_argument("--password2", help="password of --user2 (default: --password)")
    ap.add_argument("--tls", action="store_true", help="implicit TLS (IMAPS)")
    ap.add_argument("--starttls", action="store_true", help="STARTTLS after the greeting")
    ap.add_argument("--ca-file", help="verify the server certificate against this CA (default: no verification)")
    ap.add_argument("--only", nargs="+", action="extend", default=[], metavar="NAME",
                    help="run only these scripts (names or comma-separated lists)")
    ap.add_argument("--capabilities-from-server", action="store_true",
                    help="skip a script when the server (first connection, after login) "
                         "does not advertise a capability the script requires")
    ap.add_argument("--capability", action="append", default=[], metavar="CAPS",
                    help="the capabilities to assume instead (space/comma separated, repeatable); "
                         "without this or --capabilities-from-server nothing is skipped")
    ap.add_argument("--mailbox-prefix", default="imaptest",
                    help="test mailbox name ($mailbox); every mailbox named PREFIX* is deleted "
                         "before a test (default: imaptest)")
    ap.add_argument("--mailbox-per-test", action="store_true",
                    help="use PREFIX-<script name> as $mailbox")
    ap.add_argument("--default-messages", default="all", metavar="N|all",
                    help="messages appended when a script has no 'messages:' header: 'all' "
                         "(scripted_test.md, the default) or a number (imaptest's code uses 0)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each reply (default 10)")
    ap.add_argument("--script-timeout", type=float, default=120.0, help="seconds per script (default 120)")
    ap.add_argument("--run-timeout", type=float, default=1800.0, help="seconds for the whole run (default 1800)")
    ap.add_argument("--log-dir", help="write a protocol trace per script into this directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the protocol trace of failed scripts")
    ap.add_argument("tests_dir", nargs="?", metavar="TESTS_DIR")
    opts = ap.parse_args(argv)
    only = [n for item in opts.only for n in item.split(",") if n]
    if opts.tests_dir is None and only and os.path.isdir(only[-1]):
        opts.tests_dir = only.pop()  # "--only a b DIR"
    if opts.tests_dir is None:
        ap.error("TESTS_DIR is required")
    if opts.default_messages != "all" and not is_uint(opts.default_messages):
        ap.error("--default-messages takes a number or 'all'")
    if opts.tls and opts.starttls:
        ap.error("--tls and --starttls are exclusive")

    scripts, default_mbox = list_scripts(opts.tests_dir)
    if only:
        known = {os.path.basename(p): p for p in scripts}
        unknown = [n for n in only if n not in known]
        if unknown:
            print("unknown script(s): %s" % " ".join(unknown), file=sys.stderr)
            return 2
        scripts = [known[n] for n in only]
    if opts.log_dir:
        os.makedirs(opts.log_dir, exist_ok=True)

    shared = Shared(opts)
    run_deadline = time.monotonic() + opts.run_timeout
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for path in scripts:
        name = os.path.basename(path)
        if time.monotonic() > run_deadline:
            res, trace = Result(name, "FAIL", "not run: whole-run timeout (%ds) exceeded" % opts.run_timeout), []
        else:
            res, trace = run_script(path, default_mbox, opts, shared)
        counts[res.status] += 1
        if res.status == "PASS":
            print("PASS %s" % name)
        elif res.status == "SKIP":
            print("SKIP %s: %s" % (name, res.message))
        else:
            lines = res.message.split("\n")
            print("FAIL %s: %s" % (name, lines[0]))
            for ln in lines[1:]:
                print("    " + ln)
            if opts.verbose and trace:
                for ln in trace[-60:]:
                    print("      | " + ln)
        sys.stdout.flush()
        if opts.log_dir and trace:
            with open(os.path.join(opts.log_dir, name + ".log"), "w", encoding="latin-1",
                      errors="replace") as f:
                f.write("%s %s\n%s\n\n" % (res.status, name, res.message))
                f.write("\n".join(trace) + "\n")
    total = sum(counts.values())
    print("%d scripts: %d passed, %d failed, %d skipped" % (total, counts["PASS"], counts["FAIL"], counts["SKIP"]))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
