"""Nothing accepted is lost: kill -9 under load, restart, and count.

Every message carries a unique id; a sender records an id only when the
server answered 250 to its DATA. After the crash every recorded id must be
in the mailbox exactly once, and no id may appear twice."""

import re
import signal
import smtplib
import threading
import time

from helpers import pop_messages


def load(server, stop, acked, errors, worker):
    n = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=5) as s:
                while not stop.is_set():
                    mid = f"w{worker}-{n}"
                    n += 1
                    body = f"Subject: {mid}\r\nX-Id: {mid}\r\n\r\n".encode() + b"payload line\r\n" * 60
                    s.sendmail("load@remote.test", ["alice@example.test"], body)
                    acked.append(mid)
        except (OSError, smtplib.SMTPException) as e:
            errors.append(repr(e))
            return


def ids_in_mailbox(server):
    msgs = pop_messages(server.ports["pop3"], "alice@example.test")
    return [re.search(rb"X-Id: (\S+)", m).group(1).decode() for m in msgs]


def test_kill_9_under_load_loses_nothing(server):
    all_acked = []
    for round_ in range(3):
        stop = threading.Event()
        acked, errors = [], []
        threads = [threading.Thread(target=load, args=(server, stop, acked, errors, f"{round_}.{i}")) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0 + round_ * 0.37)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join(10)
        assert acked, "no message was accepted before the kill"
        all_acked.extend(acked)
        server.start()
    ids = ids_in_mailbox(server)
    assert len(ids) == len(set(ids)), "a message was stored twice"
    missing = set(all_acked) - set(ids)
    assert not missing, f"{len(missing)} acknowledged messages lost"
    assert server.stop() == 0


def test_sigterm_lets_sessions_finish(server):
    # One client is in the middle of DATA, another idles between commands.
    busy = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
    busy.ehlo("c")
    busy.mail("x@remote.test")
    busy.rcpt("alice@example.test")
    busy.putcmd("data")
    assert busy.getreply()[0] == 354
    busy.send(b"Subject: during shutdown\r\n\r\nfirst half\r\n")
    idle = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
    idle.ehlo("c")
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # the idle session was told and closed
    code, _ = idle.getreply()
    assert code == 421
    # new connections are no longer accepted
    try:
        smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=2).noop()
        refused = False
    except (OSError, smtplib.SMTPException):
        refused = True
    assert refused
    busy.send(b"second half\r\n.\r\n")
    assert busy.getreply()[0] == 250
    busy.close()
    assert server.proc.wait(10) == 0
    server.proc = None
    server.start()
    assert len(pop_messages(server.ports["pop3"], "alice@example.test")) == 1
