"""A JSON API client over the standard library's HTTP client (http.client),
talking HTTPS to the test server's self-signed certificate."""

import http.client
import json

from helpers import tls_ctx


class Api:
    def __init__(self, server, token=None, tls=True):
        self.server = server
        self.token = token
        self.tls = tls

    def conn(self):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.server.ports["https"], context=tls_ctx(), timeout=30)
        return http.client.HTTPConnection("127.0.0.1", self.server.ports["http"], timeout=30)

    def raw(self, method, path, body=None, headers=None):
        """(status, headers dict with lower-case names, body bytes)."""
        h = {}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def call(self, method, path, body=None, headers=None):
        """(status, decoded JSON or None)."""
        st, _, data = self.raw(method, path, body, headers)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, data.decode(errors="replace")

    def ok(self, method, path, body=None, want=(200, 201, 204)):
        st, j = self.call(method, path, body)
        assert st in want, f"{method} {path}: {st} {j}"
        return j


def token(server, login, name="test"):
    """A token made with `mailhost token create` (the secret is on stdout)."""
    return server.cli("token", "create", login, "--name", name).stdout.strip()
