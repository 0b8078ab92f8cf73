"""A full disk (server.min_free_space): new mail gets 452 4.3.1 before
the disk is full, while POP3 login, RETR and DELE keep working, and mail
is accepted again once there is room. data_dir is a 16 MB tmpfs (root)."""

import os
import poplib
import smtplib
import subprocess
import time

import pytest

from helpers import pop_messages


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def small_server(make_server, backend, mnt):
    data = mnt / "data"
    # The headroom must hold what SQLite writes at a checkpoint (the WAL,
    # 4 MB by default, copied into the database): the default, twice a
    # 25MB max_message_size, does; this small disk sets it.
    extra = f'[server]\ndata_dir = "{data}"\nmax_message_size = "1MB"\nmin_free_space = "6MB"\n'
    if backend == "sqlite":
        extra += f'[store]\nurl = "sqlite://{data}/mailhost.db"\n'
    server = make_server(extra)
    server.setup_domain()
    return server


def message(n, size=300_000):
    line = b"x" * 76 + b"\r\n"
    return b"Subject: m%d\r\n\r\n" % n + line * (size // len(line))


def send(server, n, size=300_000):
    """(code, text) of one delivery's first refusal, or (250, '').
    smtplib declares the size (RFC 1870), which must fit too."""
    try:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
            s.sendmail("x@remote.test", ["alice@example.test"], message(n, size))
        return 250, ""
    except smtplib.SMTPSenderRefused as e:
        return e.smtp_code, e.smtp_error.decode()
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode()


def refused_452(server, size=300_000):
    code, text = send(server, 0, size)
    return code == 452 and text.startswith("4.3.1") and "mail system full" in text


def pop_delete_all(server):
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=30)
    p.user("alice@example.test")
    p.pass_("secret-pw")
    count, _ = p.stat()
    if count:
        assert p.retr(1)[0].startswith(b"+OK")
    for i in range(count):
        p.dele(i + 1)
    p.quit()
    return count


def fill(mnt, leave):
    """Another program fills the disk until `leave` bytes are free."""
    st = os.statvfs(mnt)
    filler = mnt / "filler"
    filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - leave))
    time.sleep(1.1)  # the server's reading is kept for a second
    return filler


def accepted_again(server, size=300_000):
    deadline = time.time() + 10
    while time.time() < deadline:
        if send(server, 99, size)[0] == 250:
            return True
        time.sleep(0.3)
    return False


def test_full_disk_refuses_mail_but_not_users(make_server, backend, small_disk):
    server = small_server(make_server, backend, small_disk)
    log = lambda: (server.dir / "server.log").read_text()  # noqa: E731
    for n in range(3):
        assert send(server, n, 10_000)[0] == 250
    # Another program fills the disk (on PostgreSQL the bodies are the
    # database's; the node writes data_dir): below the headroom, new mail
    # is refused and the log says so once.
    filler = fill(small_disk, 1_000_000)
    for _ in range(2):
        code, text = send(server, 0, 1000)
        assert (code, text[:22]) == (452, "4.3.1 mail system full"), (code, text)
        assert "too little free space" in text
    assert log().count("free space below server.min_free_space") == 1
    # A declared size over max_message_size still gets its permanent 552,
    # not a 452 to retry for days.
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo()
        code, text = s.mail("x@remote.test", ["SIZE=2000000"])
        assert (code, text[:5]) == (552, b"5.3.4"), (code, text)
    # Users still log in, read and delete, and the operator's commands
    # work: their writes have room.
    assert pop_delete_all(server) == 3
    assert pop_delete_all(server) == 0
    server.cli("user", "add", "carol@example.test", "--password", "secret-pw")
    server.cli("user", "suspend", "bob@example.test")
    # Room again: accepted, and the log says so.
    filler.unlink()
    assert accepted_again(server, 1000)
    assert "new mail is accepted" in log()
    pop_delete_all(server)
    if backend != "sqlite":
        return
    # Mail fills the disk itself: each message is accepted whole or refused
    # with 452 4.3.1 at MAIL, never a 451 from a disk that is full.
    accepted, refusal = 0, None
    for n in range(1, 80):
        code, text = send(server, n)
        if code != 250:
            refusal = (code, text)
            break
        accepted += 1
    assert refusal and refusal[0] == 452 and refusal[1].startswith("4.3.1 mail system full"), refusal
    assert accepted >= 3
    msgs = pop_messages(server.ports["pop3"], "alice@example.test")
    assert len(msgs) == accepted
    assert all(len(m) > 250_000 and m.endswith(b"x" * 76 + b"\r\n") for m in msgs)
    # Deleting makes room: the database reuses the freed pages.
    assert pop_delete_all(server) == accepted
    assert accepted_again(server)
