"""Small helpers shared by the end-to-end tests."""

import poplib
import smtplib
import socket
import ssl
import time


def tls_ctx():
    """A client TLS context for the test server's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def submit(server, user, password="secret-pw", timeout=30):
    """An authenticated submission session (STARTTLS on 587, AUTH)."""
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=timeout)
    s.starttls(context=tls_ctx())
    s.login(user, password)
    return s


def raw(port, host="127.0.0.1", timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_reply(sock, timeout=10):
    """Reads one complete SMTP reply (possibly multi-line)."""
    sock.settimeout(timeout)
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return buf.decode(errors="replace")
        buf += chunk
        lines = buf.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) >= 4 and line[3:4] == b" ":
                return buf.decode(errors="replace")


def recv_until_closed(sock, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return buf.decode(errors="replace")


def pop_messages(port, user, password="secret-pw"):
    """Returns all messages of a mailbox as bytes, without deleting."""
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user(user)
    p.pass_(password)
    count, _ = p.stat()
    msgs = [b"\r\n".join(p.retr(i + 1)[1]) + b"\r\n" for i in range(count)]
    p.quit()
    return msgs


def wait_for(pred, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return False


def recv_lines(sock, n, timeout=10):
    """Reads until `n` CRLF-terminated lines have arrived; returns them."""
    sock.settimeout(timeout)
    buf = b""
    while buf.count(b"\r\n") < n:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").split("\r\n")[:n]
