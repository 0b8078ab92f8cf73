"""Tenant isolation (SPEC "Roles", issue 12 point 8), generated from the
server's own route list: every route of /api/openapi.json (which
utoipa-axum builds from the router itself, so a new route is covered the
day it is added) is called with every method it has, by each role, with
the objects of a domain that role does not manage. Nothing may succeed,
and afterwards the other domain is exactly as it was."""

import json

import pytest

from api import Api, token

# Another tenant's objects, by path parameter.
THEIRS = {
    "domain": "b.example",
    "address": "bob@b.example",
    "alias": "team@b.example",
    "login": "badmin",
    "name": "gold",
    "list": "news@b.example",
    "id": None,  # b's admin's token id, filled in below
}

# A body that is valid for each route, so that refusals come from scope
# and not from validation.
BODIES = {
    ("post", "/api/v1/domains"): {"domain": "c.example", "contact": "x@c.example"},
    ("patch", "/api/v1/domains/{domain}"): {"contact": "evil@a.example"},
    ("post", "/api/v1/domains/{domain}/users"): {"address": "evil@b.example", "password": "pw-123456"},
    ("patch", "/api/v1/users/{address}"): {"suspended": True},
    ("put", "/api/v1/users/{address}/password"): {"password": "stolen-pw-1", "current": "x"},
    ("put", "/api/v1/users/{address}/forward"): {"destinations": ["evil@a.example"], "keep_copy": False},
    ("put", "/api/v1/users/{address}/autoreply"): {"body": "pwned"},
    ("post", "/api/v1/domains/{domain}/aliases"): {"alias": "evil@b.example", "targets": ["bob@b.example"]},
    ("post", "/api/v1/domains/{domain}/import"): {"csv": "evil,pw-123456"},
    ("post", "/api/v1/notices"): {"title": "Fake notice", "body": "pwned"},
    ("put", "/api/v1/packages/{name}"): {"hourly_limit": 99999},
    ("post", "/api/v1/admins"): {"login": "evil", "operator": True, "password": "pw-123456"},
    ("post", "/api/v1/tokens"): {"login": "badmin", "name": "stolen"},
    ("post", "/api/v1/users/{address}/app-passwords"): {"name": "stolen", "protocols": ["pop3"]},
    ("post", "/api/v1/domains/{domain}/lists"): {"list": "evil@b.example", "owner": "bob@b.example"},
    ("patch", "/api/v1/lists/{list}"): {"posting": "owner"},
    ("post", "/api/v1/lists/{list}/members"): {"addresses": ["evil@a.example"]},
}

# What of b.example an answer must never show.
SECRETS = ("b.example", "badmin")


def snapshot(s):
    return (s.cli("user", "list", "b.example").stdout, s.cli("forward", "show", "bob@b.example").stdout,
            s.cli("autoreply", "show", "bob@b.example").stdout, s.cli("domain", "list").stdout,
            s.cli("admin", "list").stdout, s.cli("package", "list").stdout, s.cli("notice", "list").stdout,
            s.cli("list", "show", "news@b.example").stdout, s.cli("list", "consent", "news@b.example").stdout)


@pytest.fixture
def tenants(server):
    s = server
    for d in ["a.example", "b.example"]:
        s.cli("domain", "add", d, "--contact", f"boss@{d}")
    for u in ["alice@a.example", "bob@b.example"]:
        s.cli("user", "add", u, "--password", "pw-123456")
    s.cli("alias", "add", "team@b.example", "bob@b.example")
    s.cli("list", "create", "news@b.example", "--owner", "bob@b.example")
    s.cli("list", "invite", "news@b.example", "carol@remote.test")
    s.cli("package", "set", "gold", "--hourly-limit", "10")
    s.cli("admin", "add", "aadmin", "--domain", "a.example", "--password", "pw-123456")
    s.cli("admin", "add", "badmin", "--domain", "b.example", "--password", "pw-123456")
    token(s, "badmin")
    THEIRS["id"] = s.cli("token", "list", "badmin").stdout.split("\t")[0].strip()
    return s


def routes(s):
    doc = json.loads(Api(s).raw("GET", "/api/openapi.json")[2])
    for path, ops in doc["paths"].items():
        for method in ops:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path


def fill(path):
    for k, v in THEIRS.items():
        path = path.replace("{" + k + "}", v)
    assert "{" not in path, f"a path parameter this test does not know: {path}"
    return path


def test_every_route_refuses_other_tenants(tenants):
    s = tenants
    before = snapshot(s)
    callers = {
        "domain admin of a.example": Api(s, token(s, "aadmin")),
        "mailbox user of a.example": Api(s, token(s, "alice@a.example")),
    }
    all_routes = list(routes(s))
    assert len(all_routes) >= 30, all_routes
    checked = 0
    for who, api in callers.items():
        for method, path in all_routes:
            st, j = api.call(method.upper(), fill(path), BODIES.get((method, path)))
            if st == 200 and method == "get" and "{" not in path:
                # A list of the caller's own scope (its domains, its
                # tokens, the notice board): none of b.example's things.
                assert not any(x in json.dumps(j) for x in SECRETS), f"{who}: {path} -> {j}"
                continue
            assert st in (401, 403, 404), f"{who}: {method.upper()} {fill(path)} -> {st} {j}"
            assert set(j) == {"code", "message", "field"}, j
            checked += 1
    # Unauthenticated: every route is 401.
    for method, path in all_routes:
        st, j = Api(s).call(method.upper(), fill(path), BODIES.get((method, path)))
        assert st == 401, f"{method.upper()} {path} -> {st}"
    assert snapshot(s) == before, "another tenant's state changed"
    assert checked > 50


def test_own_routes_show_only_own_things(tenants):
    s = tenants
    a = Api(s, token(s, "aadmin"))
    assert [d["domain"] for d in a.ok("GET", "/api/v1/domains")["items"]] == ["a.example"]
    assert a.ok("GET", "/api/v1/me") == {"login": "aadmin", "role": "domain", "domains": ["a.example"]}
    assert {t["login"] for t in a.ok("GET", "/api/v1/tokens")} == {"aadmin"}
    u = Api(s, token(s, "alice@a.example"))
    assert u.ok("GET", "/api/v1/me")["role"] == "user"
    assert u.ok("GET", "/api/v1/users/alice@a.example")["address"] == "alice@a.example"
    st, j = u.call("GET", "/api/v1/holds")
    assert st == 403
    # A user cannot make a token for someone else, nor an admin for another admin.
    assert u.call("POST", "/api/v1/tokens", {"login": "aadmin"})[0] == 403
    assert a.call("POST", "/api/v1/tokens", {"login": "badmin"})[0] == 403
    # Stored text comes back as data, never markup.
    u.ok("PUT", "/api/v1/users/alice@a.example/autoreply", {"subject": "<script>x</script>", "body": "b"})
    assert u.ok("GET", "/api/v1/users/alice@a.example/autoreply")["subject"] == "<script>x</script>"
