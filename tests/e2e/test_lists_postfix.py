"""A list member's bounce as a real MTA writes it, on both backends: our
server delivers a list copy to Debian's Postfix, which accepts it, fails
it locally (error:5.1.1) and sends its own RFC 3464 DSN from the null
sender to the member's VERP address, through its own SMTP client, back to
our SMTP port. One hard bounce disables the member (bounce_threshold = 1),
the ledger records it and the owner is told.

test_lists.py replays canned DSNs with smtplib; this test proves that what
Postfix actually generates and how it actually delivers it (EHLO, null
sender, multipart/report) is accepted and scored.

Postfix runs as a private instance (its own main.cf, master.cf, queue and
data directories and log under tmp_path, SMTP on a free 127.0.0.1 port):
the system's /etc/postfix and port 25 are never used. The member's
confirmation request goes through it too; Postfix holds that one (null
sender) and the test reads the token from its queue, as the member would
from its mailbox."""

import email
import email.policy
import json
import os
import re
import signal
import smtplib
import stat
import subprocess

import pytest

from helpers import pop_messages, wait_for
from peers import free_port

POSTFIX = "/usr/sbin/postfix"
LIST = "news@example.test"
MEMBER = "far@remote.test"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/maillog
# maillog_file must start with one of these (the default allows /var only).
maillog_file_prefixes = {root}
myhostname = mx.remote.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# The member's domain is relayed, with any recipient: its mailbox is
# "unavailable" only after the message is accepted (transport below), so
# Postfix itself must bounce it. Left at yes, smtpd would refuse an address
# that resolves to error(8) at RCPT, and our server would write the DSN.
relay_domains = remote.test
smtpd_reject_unlisted_recipient = no
# The list's confirmation request (null sender) is held, not bounced, so the
# test can read its token from the queue: a bounce of a bounce goes nowhere.
smtpd_sender_restrictions = check_sender_access texthash:{root}/etc/senders
transport_maps = texthash:{root}/etc/transport
# Nothing else ever leaves this instance.
default_transport = error:5.7.1 test instance does not relay
relay_transport = error:5.7.1 test instance does not relay
# Our server offers STARTTLS with a self-signed certificate: plain SMTP is
# enough here. No DNS either: the next hop is an address literal.
smtp_tls_security_level = none
smtp_dns_support_level = disabled
soft_bounce = no
# Should our server answer 4xx, retry within seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s
bounce_queue_lifetime = 1m
maximal_queue_lifetime = 1m
"""

# No chroot: the daemons would need copies of /etc files inside the spool.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n  -  n  60    1  pickup
cleanup   unix  n  -  n  -     0  cleanup
qmgr      unix  n  -  n  300   1  qmgr
rewrite   unix  -  -  n  -     -  trivial-rewrite
bounce    unix  -  -  n  -     0  bounce
defer     unix  -  -  n  -     0  bounce
trace     unix  -  -  n  -     0  bounce
flush     unix  n  -  n  1000? 0  flush
proxymap  unix  -  -  n  -     -  proxymap
smtp      unix  -  -  n  -     -  smtp
showq     unix  n  -  n  -     -  showq
error     unix  -  -  n  -     -  error
retry     unix  -  -  n  -     -  error
discard   unix  -  -  n  -     -  discard
anvil     unix  -  -  n  -     1  anvil
scache    unix  -  -  n  -     1  scache
postlog   unix-dgram n - n -   1  postlogd
"""


class Postfix:
    """A private Postfix instance under `root` (tmp_path). `port` is taken
    first, so that our server's route can name it before either starts."""

    def __init__(self, root):
        self.root = root
        self.etc = root / "etc"
        self.port = free_port()
        self.master_pid = None
        self.opened = []  # (directory, mode) to restore

    @property
    def route(self):
        """The [delivery] section that sends remote.test here, as Sink.route."""
        return f'[delivery]\nroutes = {{ "remote.test" = "127.0.0.1:{self.port}" }}\n'

    def postfix(self, *args):
        r = subprocess.run([POSTFIX, "-c", str(self.etc), *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"postfix {' '.join(args)}: {r.stderr}\n{self.log()}"

    def start(self, smtp_port):
        """Starts Postfix relaying example.test to our server on `smtp_port`."""
        self.etc.mkdir(parents=True)
        (self.root / "spool").mkdir()
        root = str(self.root)
        (self.etc / "main.cf").write_text(MAIN_CF.format(root=root))
        (self.etc / "master.cf").write_text(MASTER_CF.format(port=self.port))
        (self.etc / "senders").write_text("<> HOLD\n")
        (self.etc / "transport").write_text(
            f"{MEMBER} error:5.1.1 mailbox unavailable\n"
            f"example.test smtp:[127.0.0.1]:{smtp_port}\n"
        )
        # The master opens data_directory/master.lock as the postfix user,
        # by its absolute path: every directory above it must be searchable
        # by others, and pytest makes its temporary directories 0700.
        # Restored by stop().
        for d in (self.root, *self.root.parents):
            mode = stat.S_IMODE(d.stat().st_mode)
            if not mode & stat.S_IXOTH:
                os.chmod(d, mode | stat.S_IXOTH)
                self.opened.append((d, mode))
        # check creates the queue and data directories with Postfix's owners
        # and modes (from /etc/postfix/postfix-files, read only).
        self.postfix("check")
        self.postfix("start")
        self.master_pid = int((self.root / "spool" / "pid" / "master.pid").read_text().split()[0])

    def held(self):
        """The messages in the hold queue, as bytes."""
        hold = self.root / "spool" / "hold"
        out = []
        for f in sorted(hold.iterdir()) if hold.is_dir() else []:
            r = subprocess.run(["postcat", "-c", str(self.etc), "-bh", str(f)], capture_output=True, timeout=30)
            if r.returncode == 0:
                out.append(r.stdout)
        return out

    def drop_held(self):
        r = subprocess.run(["postsuper", "-c", str(self.etc), "-d", "ALL", "hold"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr

    def log(self, tail=6000):
        """The maillog, its last `tail` characters (None: all of it)."""
        try:
            text = (self.root / "maillog").read_text(errors="replace")
        except OSError:
            return ""
        return text[-tail:] if tail else text

    def stop(self):
        if self.master_pid:
            subprocess.run([POSTFIX, "-c", str(self.etc), "stop"], capture_output=True, timeout=60)
            # postfix stop only signals the master: wait for it (and so its
            # children) to be gone before pytest may remove the directory.
            gone = wait_for(lambda: not alive(self.master_pid), timeout=10)
            if not gone:
                os.kill(self.master_pid, signal.SIGKILL)
            self.master_pid = None
        for d, mode in reversed(self.opened):
            os.chmod(d, mode)
        self.opened.clear()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not yet reaped by its parent, init) is gone for us.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def postfix(tmp_path):
    if not os.path.exists(POSTFIX):
        pytest.skip("Debian's postfix is not installed (scripts/test.sh installs it)")
    pf = Postfix(tmp_path / "postfix")
    yield pf
    pf.stop()


def send(s, sender, rcpt, body):
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example")
        c.sendmail(sender, [rcpt], f"From: {sender}\r\nTo: {rcpt}\r\nSubject: x\r\n\r\n{body}\r\n")


def state(s):
    show = json.loads(s.cli("list", "show", LIST, "--format", "json").stdout)
    return {m["address"]: m["state"] for m in show["members"]}


def consent(s):
    return json.loads(s.cli("list", "consent", LIST, "--format", "json").stdout)


def test_postfix_dsn_disables_member(make_server, postfix):
    pf = postfix
    s = make_server(extra=pf.route + '[lists]\nthrottle = "100ms"\nbounce_threshold = 1\n')
    pf.start(s.ports["smtp"])

    def logs():
        return f"--- postfix maillog:\n{pf.log()}\n--- server log:\n{s.read_log()}"

    s.setup_domain(users=("owner",))
    s.cli("list", "create", LIST, "--owner", "owner@example.test")
    s.cli("list", "invite", LIST, MEMBER)

    # The member confirms with the token from the request Postfix holds.
    assert wait_for(pf.held, timeout=20), logs()
    req = email.message_from_bytes(pf.held()[0], policy=email.policy.default)
    assert "Confirm your subscription" in str(req["Subject"]), req
    tok = re.search(r"news\+confirm-([a-z2-7]+)@example\.test", str(req["Reply-To"])).group(1)
    pf.drop_held()
    send(s, MEMBER, f"news+confirm-{tok}@example.test", "confirm")
    assert state(s)[MEMBER] == "member"

    # A post: Postfix accepts the copy, then bounces it and returns its DSN.
    send(s, "owner@example.test", LIST, "to bounce")
    assert wait_for(lambda: state(s)[MEMBER] == "disabled", timeout=20), logs()

    # It was Postfix's own DSN, delivered by its smtp client to our port,
    # that our server scored. Postfix logs the 250 (which names what the
    # report did) only after our server has acted on it: wait for the line.
    def dsn_sent():
        log = pf.log(tail=None)
        verp = re.search(r"from=<(news\+bounce-[a-z2-7]+@example\.test)>", log)
        if not verp:
            return False
        failed = rf"to=<{re.escape(MEMBER)}>, relay=none, .*dsn=5\.1\.1, status=bounced"
        returned = (rf"to=<{re.escape(verp.group(1))}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{s.ports['smtp']}, "
                    r".*status=sent \(250 .*Disabled")
        return re.search(failed, log) and re.search(returned, log)

    assert wait_for(dsn_sent), logs()

    events = consent(s)
    bounce, disabled = events[-2:]
    assert [bounce["event"], disabled["event"]] == ["bounce", "disabled"], events
    assert bounce["address"] == MEMBER and bounce["method"] == "bounce"
    assert "status 5.1.1" in bounce["detail"], bounce
    assert disabled["address"] == MEMBER and disabled["method"] == "bounce"

    # The owner is told.
    def notice():
        for raw in pop_messages(s.ports["pop3"], "owner@example.test"):
            m = email.message_from_bytes(raw, policy=email.policy.default)
            if str(m["Subject"]) == f"{MEMBER} disabled on {LIST}":
                return m.get_body(("plain",)).get_content()
        return None

    assert wait_for(notice), logs()
    assert f"{MEMBER} was disabled on {LIST}" in notice() and "5.1.1" in notice()
