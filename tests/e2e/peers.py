"""Real network peers for delivery tests, on 127.0.0.1 ephemeral ports:

- `Sink`: an SMTP server (aiosmtpd) that records every message it accepts
  and can be told to refuse recipients (4xx/5xx) or to stall.
- `Dns`: an authoritative DNS server (dnslib) answering MX/A/TXT from a
  table, for the MX path of outbound delivery and SPF/DKIM/DMARC checks.
"""

import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer


def free_port(host="127.0.0.1"):
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.sink.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.data_reply:
            return self.sink.data_reply
        with self.sink.lock:
            self.sink.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.sink.arrived.append(time.time())
            self.sink.peers.append(session.peer)
        return "250 2.0.0 stored"


class Sink:
    """idle_timeout: seconds without a command after which the sink says
    421 and closes the connection (aiosmtpd's own timeout)."""

    def __init__(self, host="127.0.0.1", idle_timeout=None):
        self.received = []
        self.arrived = []  # time.time() at the end of DATA, one per message received
        self.peers = []  # the client's (address, port) for each message: its connection
        self.lock = threading.Lock()
        self.refuse = {}  # address -> reply
        self.data_reply = None
        # aiosmtpd's Controller cannot bind port 0 (it connects to its own
        # port to check readiness): take a free port first, retry on a race.
        for _ in range(5):
            self.port = free_port(host)
            self.controller = Controller(_Handler(self), hostname=host, port=self.port, ready_timeout=10,
                                         server_kwargs={"data_size_limit": 50 * 1024 * 1024,
                                                        **({"timeout": idle_timeout} if idle_timeout else {})})
            try:
                self.controller.start()
                break
            except OSError:
                continue

    @property
    def route(self):
        """The [delivery] section that sends remote.test here."""
        return f'[delivery]\nroutes = {{ "remote.test" = "127.0.0.1:{self.port}" }}\n'

    def rcpt_reply(self, address):
        return self.refuse.get(address.lower())

    def messages(self):
        with self.lock:
            return list(self.received)

    def clear(self):
        with self.lock:
            self.received.clear()
            self.arrived.clear()

    def timed(self):
        """(arrival time, message) of each message received so far."""
        with self.lock:
            return [(t, r[2]) for t, r in zip(self.arrived, self.received)]

    def wait(self, n, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.messages()) >= n:
                return self.messages()
            time.sleep(0.05)
        return self.messages()

    def stop(self):
        self.controller.stop()


class Dns:
    """records: {(name, type): [values]} with type in MX, A, TXT; MX values
    are (preference, host)."""

    def __init__(self, records, port=0):
        from dnslib import server as dserver

        self.records = {(n.lower().rstrip("."), t): v for (n, t), v in records.items()}
        self.asked = []  # (name, type) of every query answered
        resolver = _Resolver(self)
        quiet = dserver.DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        # UDP takes an ephemeral port and TCP the same number, which another
        # socket may already hold: then try another port.
        for attempt in range(20):
            udp = dserver.DNSServer(resolver, port=port, address="127.0.0.1", tcp=False, logger=quiet)
            try:
                tcp = dserver.DNSServer(resolver, port=udp.server.server_address[1], address="127.0.0.1",
                                        tcp=True, logger=quiet)
                break
            except OSError:
                udp.server.server_close()
                if port or attempt == 19:
                    raise
        self.server, self.tcp = udp, tcp
        self.server.start_thread()
        self.port = self.server.server.server_address[1]
        self.tcp.start_thread()

    def publish(self, name, rtype, values):
        self.records[(name.lower().rstrip("."), rtype)] = list(values)

    def publish_zone(self, text):
        """Publishes zone-file lines as `mailhost domain dns` prints them:
        NAME TTL IN TYPE VALUE (TXT as one or more quoted strings)."""
        import shlex

        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith(";"):
                continue
            parts = shlex.split(line)
            name, rtype, rest = parts[0], parts[3], parts[4:]
            if rtype == "TXT":
                self.records.setdefault((name.lower().rstrip("."), "TXT"), []).append("".join(rest))
            elif rtype == "MX":
                self.records.setdefault((name.lower().rstrip("."), "MX"), []).append((int(rest[0]), rest[1]))
            else:
                self.records.setdefault((name.lower().rstrip("."), rtype), []).append(rest[0])

    def stop(self):
        self.server.stop()
        self.tcp.stop()


class _Resolver:
    def __init__(self, dns):
        self.dns = dns

    def resolve(self, request, handler):
        from dnslib import A, MX, QTYPE, RCODE, RR, SOA, TXT

        reply = request.reply()
        q = request.q
        name = str(q.qname).lower().rstrip(".")
        qtype = QTYPE[q.qtype]
        self.dns.asked.append((name, qtype))
        known = any(n == name for (n, _) in self.dns.records)
        for value in self.dns.records.get((name, qtype), []):
            if qtype == "MX":
                rdata = MX(value[1], value[0])
            elif qtype == "A":
                rdata = A(value)
            elif qtype == "TXT":
                chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
                rdata = TXT(chunks)
            else:
                continue
            reply.add_answer(RR(q.qname, q.qtype, rdata=rdata, ttl=60))
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        if not reply.rr:
            # A negative answer carries the zone's SOA, whose minimum is how
            # long it may be cached (RFC 2308 §3); 2 s keeps tests that
            # publish records later from seeing an old NXDOMAIN.
            reply.add_auth(RR("test.", QTYPE.SOA, ttl=2, rdata=SOA("ns.test.", "hostmaster.test.", (1, 3600, 600, 86400, 2))))
        return reply
