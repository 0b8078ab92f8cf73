"""End-to-end test harness: runs the real mailhost binary on 127.0.0.1
ephemeral ports and drives it with real clients (smtplib, poplib, swaks,
curl).

Every server fixture runs once on SQLite and once on PostgreSQL
(MAILHOST_TEST_PG, a superuser URL; each server gets a fresh database).
Under CI the PostgreSQL URL is required.
"""

import os
import re
import signal
import subprocess
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MAILHOST_BIN", os.path.join(ROOT, "target", "release", "mailhost"))
PG = os.environ.get("MAILHOST_TEST_PG")


def backends():
    if PG:
        return ["sqlite", "postgres"]
    if os.environ.get("CI"):
        raise RuntimeError("MAILHOST_TEST_PG must be set under CI")
    return ["sqlite"]


def pg_database_url():
    """Creates a fresh database and returns its URL."""
    name = "mh_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", PG, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    base, _, _ = PG.rpartition("/")
    return f"{base}/{name}"


class Server:
    def __init__(self, tmp_path, backend, extra="", dns_port=None):
        self.dir = tmp_path
        self.data = tmp_path / "data"
        self.backend = backend
        store = f"sqlite://{self.data}/mailhost.db" if backend == "sqlite" else pg_database_url()
        self.store_url = store
        self.config = tmp_path / "mailhost.toml"
        text = f"""
[server]
hostname = "mx.test.example"
data_dir = "{self.data}"
shutdown_grace = "5s"

[store]
url = "{store}"

[listen]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
pop3s = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
http = "127.0.0.1:0"
https = "127.0.0.1:0"

[delivery]
dns_server = "127.0.0.1:{dns_port}"

[dkim]
rsa_bits = 1024
"""
        self.config.write_text(merge(text, extra))
        self.proc = None
        self.ports = {}
        self.first_operator = None

    def start(self, env=None, args=()):
        self.first_operator = None
        e = dict(os.environ)
        e.setdefault("RUST_LOG", "info")
        e.update(env or {})
        self.log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [BIN, "--config", str(self.config), "serve", *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=e,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.match(r"mailhost: (\w+) listening on (\S+):(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(3))
            m = re.match(r'mailhost: first operator login "(\S+)", one-time password "(\S+)"', line)
            if m:
                self.first_operator = (m.group(1), m.group(2))
            if line.startswith("mailhost: ready"):
                return self
        raise RuntimeError(f"server did not start: {self.read_log()}")

    def read_log(self):
        try:
            return (self.dir / "server.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def cli(self, *args, input=None, check=True):
        r = subprocess.run(
            [BIN, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=60,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"mailhost {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def setup_domain(self, domain="example.test", users=("alice", "bob"), password="secret-pw"):
        self.cli("domain", "add", domain, "--contact", f"admin@{domain}")
        for u in users:
            self.cli("user", "add", f"{u}@{domain}", "--password", password)


def merge(base, extra):
    """Adds `extra` TOML to `base`, merging keys into existing sections."""
    if not extra.strip():
        return base
    sections = {}
    order = []
    cur = None
    for line in (base + "\n" + extra).splitlines():
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            cur = s
            if cur not in sections:
                sections[cur] = {}
                order.append(cur)
            continue
        if "=" in s and cur:
            k, v = s.split("=", 1)
            sections[cur][k.strip()] = v.strip()
    out = []
    for sec in order:
        out.append(sec)
        out.extend(f"{k} = {v}" for k, v in sections[sec].items())
    return "\n".join(out) + "\n"


@pytest.fixture(params=backends())
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def dns_server():
    """One DNS server on loopback for every test server: lookups get a fast
    answer (NXDOMAIN unless a test publishes records) instead of waiting
    for a resolver that is not there."""
    from peers import Dns

    d = Dns({})
    yield d
    d.stop()


@pytest.fixture
def dns(dns_server):
    """The shared DNS server, with the records a test adds removed after it
    and its log of questions starting empty."""
    dns_server.asked.clear()
    yield dns_server
    dns_server.records.clear()


@pytest.fixture
def sink():
    """A real SMTP server on loopback that records what it is sent."""
    from peers import Sink

    s = Sink()
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path, backend, dns):
    servers = []

    def make(extra="", start=True, env=None, args=()):
        d = tmp_path / f"s{len(servers)}"
        d.mkdir()
        s = Server(d, backend, extra, dns_port=dns.port)
        servers.append(s)
        if start:
            s.start(env, args)
        return s

    yield make
    for s in servers:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        if s.backend == "postgres":
            # Each server had a database of its own: without this they pile
            # up (thousands after a few runs), and every CREATE DATABASE
            # gets slower and writes more.
            name = s.store_url.rpartition("/")[2]
            subprocess.run(["psql", PG, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


@pytest.fixture
def server(make_server):
    s = make_server()
    s.setup_domain()
    return s
