"""The JSON API (R-WEB-4): bearer tokens, the error shape, paging, the
OpenAPI document, and the effect of API calls seen through SMTP and POP3."""

import json
import poplib
import smtplib
import re

import pytest

from api import Api, token
from helpers import tls_ctx

ERROR_KEYS = {"code", "message", "field"}


def is_error(st, j, statuses):
    return st in statuses and isinstance(j, dict) and set(j) == ERROR_KEYS


@pytest.fixture
def op(server):
    server.cli("admin", "add", "ops", "--operator", "--password", "ops-secret-1")
    return Api(server, token(server, "ops"))


def test_health_document_and_headers(server, op):
    st, h, body = Api(server, tls=True).raw("GET", "/healthz")
    assert st == 200 and body == b"ok\n"
    # The plain listener (behind a proxy) serves the same application.
    assert Api(server, tls=False).raw("GET", "/healthz")[0] == 200
    st, h, body = Api(server).raw("GET", "/api/openapi.json")
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.1")
    for path in ["/api/v1/domains", "/api/v1/domains/{domain}/users", "/api/v1/users/{address}/forward",
                 "/api/v1/holds", "/api/v1/evidence", "/api/v1/notices", "/api/v1/domains/{domain}/billing"]:
        assert path in doc["paths"], path
    # Strict headers on every response (issue 12, point 8).
    for st, h, _ in [Api(server).raw("GET", "/healthz"), op.raw("GET", "/api/v1/domains")]:
        assert "default-src 'none'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"


def test_no_or_bad_token_is_401_in_the_error_shape(server, op):
    for t in [None, "mh_" + "0" * 32, "garbage", ""]:
        st, j = Api(server, t).call("GET", "/api/v1/domains")
        assert is_error(st, j, {401}), (t, st, j)
        assert j["code"] == "unauthorized"
    st, h, _ = Api(server).raw("GET", "/api/v1/domains")
    assert h["www-authenticate"].startswith("Bearer")
    # A revoked token stops at once.
    tid = op.ok("GET", "/api/v1/tokens")[0]["id"]
    op.ok("DELETE", f"/api/v1/tokens/{tid}")
    assert op.call("GET", "/api/v1/domains")[0] == 401


def test_operator_manages_mail_through_the_api(server, op):
    d = op.ok("POST", "/api/v1/domains", {"domain": "Api.Example", "contact": "boss@elsewhere.example"})
    assert d["domain"] == "api.example"
    u = op.ok("POST", "/api/v1/domains/api.example/users",
              {"address": "carol@api.example", "password": "carol-pw-1", "quota": "10MB"})
    assert u["quota"] == 10 << 20 and u["quota_used"] == 0 and u["kind"] == "mailbox"
    # POP3 takes the password set through the API (R-ADDR-1 login form).
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=tls_ctx(), timeout=10)
    p.user("carol%api.example")
    p.pass_("carol-pw-1")
    p.quit()
    # Suspended through the API: POP3 refuses (R-ADDR-3).
    u = op.ok("PATCH", "/api/v1/users/carol@api.example", {"suspended": True})
    assert u["suspended"] is True
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=tls_ctx(), timeout=10)
    p.user("carol@api.example")
    with pytest.raises(poplib.error_proto):
        p.pass_("carol-pw-1")
    op.ok("PATCH", "/api/v1/users/carol@api.example", {"suspended": False, "quota": None})
    assert op.ok("GET", "/api/v1/users/carol@api.example")["quota"] == 50 << 20
    # Aliases, forwarding, autoresponder, billing, DNS.
    op.ok("POST", "/api/v1/domains/api.example/aliases", {"alias": "team@api.example", "targets": ["carol@api.example"]})
    f = op.ok("PUT", "/api/v1/users/carol@api.example/forward",
              {"destinations": ["out@elsewhere.example"], "keep_copy": True})
    assert f == {"destinations": ["out@elsewhere.example"], "keep_copy": True}
    assert op.ok("GET", "/api/v1/users/carol@api.example/forward")["keep_copy"] is True
    a = op.ok("PUT", "/api/v1/users/carol@api.example/autoreply",
              {"subject": "<script>away</script>", "body": "Back on Monday.", "until": "2099-01-01"})
    assert a["subject"] == "<script>away</script>" and a["until"].startswith("2099-01-02T00:00:00")
    b = op.ok("GET", "/api/v1/domains/api.example/billing")
    assert b == {"domain": "api.example", "mailboxes": 1, "aliases": 1, "suspended": 0, "billable": 2}
    recs = op.ok("GET", "/api/v1/domains/api.example/dns")
    assert {r["type"] for r in recs} == {"MX", "TXT"}
    assert any(r["name"].startswith("mailhost._domainkey.") and r["value"].startswith("v=DKIM1") for r in recs)
    # The audit log names the API caller and its address.
    log = op.ok("GET", "/api/v1/audit?object=carol@api.example")["items"]
    acts = [r["action"] for r in log]
    assert "user.add" in acts and "user.suspend" in acts and "forward.set" in acts
    assert all(r["actor"] == "ops" and r["ip"] == "127.0.0.1" for r in log)
    # Deleting through the API quarantines the address (R-ADDR-7).
    op.ok("DELETE", "/api/v1/aliases/team@api.example")
    op.ok("DELETE", "/api/v1/users/carol@api.example")
    st, j = op.call("POST", "/api/v1/domains/api.example/users",
                    {"address": "carol@api.example", "password": "x-pw-12345"})
    assert is_error(st, j, {409}) and "R-ADDR-7" in j["message"]


def test_lists_page_with_a_cursor_and_a_prefix(server, op):
    for i in range(12):
        server.cli("user", "add", f"p{i:02}@example.test", "--password", "pw-123456")
    seen, cursor = [], None
    while True:
        q = "/api/v1/domains/example.test/users?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = op.ok("GET", q)
        assert len(page["items"]) <= 5
        seen += [u["address"] for u in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == 16 and seen == sorted(seen)  # + alice, bob, postmaster@, all@
    found = op.ok("GET", "/api/v1/domains/example.test/users?prefix=p1")["items"]
    assert [u["address"] for u in found] == ["p10@example.test", "p11@example.test"]
    for bad in ["limit=0", "limit=201", "limit=abc", "nope=1"]:
        st, j = op.call("GET", f"/api/v1/domains/example.test/users?{bad}")
        assert is_error(st, j, {400}), (bad, st, j)


def test_bad_input_gets_a_4xx_in_the_error_shape(server, op):
    cases = [
        (b"{not json", "application/json", {400}),
        (b'{"domain": 5, "contact": "a@b.example"}', "application/json", {400}),
        (b'{"domain": "x.example", "contact": "a@b.example", "evil": 1}', "application/json", {400}),
        (b'{"domain": "x.example"}', "application/json", {400}),
        (b'{"domain": "x.example", "contact": "a@b.example"}', "text/plain", {415}),
        (b'{"domain": "' + b"x" * 400_000 + b'", "contact": "a@b.example"}', "application/json", {413}),
        (b'[]', "application/json", {400}),
        (b'{"domain": "bad domain!", "contact": "a@b.example"}', "application/json", {400}),
    ]
    for body, ctype, want in cases:
        st, j = op.call("POST", "/api/v1/domains", body, {"Content-Type": ctype})
        assert is_error(st, j, want), (body[:60], st, j)
    st, j = op.call("POST", "/api/v1/domains", {"domain": "x.example", "contact": "a@b.example", "evil": 1})
    assert j["field"] == "evil"
    st, j = op.call("POST", "/api/v1/domains", {"domain": "bad domain!", "contact": "a@b.example"})
    assert j["field"] == "domain"
    assert is_error(*op.call("GET", "/api/v1/nothing-here"), {404})
    assert is_error(*op.call("PUT", "/api/v1/domains"), {405})
    assert is_error(*op.call("GET", "/api/v1/evidence/notanumber/headers"), {400})
    assert is_error(*op.call("GET", "/api/v1/evidence?since=yesterday"), {400})


def test_first_serve_makes_a_one_time_operator(make_server):
    s = make_server()
    login, pw = s.first_operator
    assert login == "admin" and len(pw) >= 16
    out = s.cli("admin", "list").stdout
    assert re.search(r"^admin\toperator\t-\t", out, re.M), out
    s.stop()
    s.start()
    assert s.first_operator is None, "made once, on an empty store"


def test_csv_import_dry_run_then_real(server, op):
    csv = 'address,password,quota\ndan,dan-pw-1234,20MB\n"eve@example.test","pw, with comma"\nalice,whatever-pw\nbad address,pw-123456\nx@other.example,pw-123456\n'
    rows = op.ok("POST", "/api/v1/domains/example.test/import", {"csv": csv, "dry_run": True})
    got = [(r["address"], r["action"]) for r in rows]
    assert got == [("dan@example.test", "add"), ("eve@example.test", "add"), ("alice@example.test", "exists"),
                   ("bad address@example.test", "error"), ("x@other.example", "error")], got
    assert "dan@example.test" not in server.cli("user", "list", "example.test").stdout, "a dry run changes nothing"
    rows = op.ok("POST", "/api/v1/domains/example.test/import", {"csv": csv})
    assert [r["action"] for r in rows][:3] == ["add", "add", "exists"]
    assert op.ok("GET", "/api/v1/users/dan@example.test")["quota"] == 20 << 20
    # The imported password works, comma and all.
    import poplib
    from helpers import tls_ctx
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=tls_ctx(), timeout=10)
    p.user("eve@example.test")
    p.pass_("pw, with comma")
    p.quit()
    # More rows than an import takes: refused before any change.
    many = "".join(f"m{i},pw-{i}-import\n" for i in range(5001))
    st, j = op.call("POST", "/api/v1/domains/example.test/import", {"csv": many})
    assert is_error(st, j, {400}) and j["field"] == "csv", (st, j)
    assert "m0@example.test" not in server.cli("user", "list", "example.test").stdout


def test_nul_characters_and_redirects_are_refused(server, op):
    # PostgreSQL text cannot hold U+0000: a 400, never a 500, on both stores.
    st, j = op.call("PATCH", "/api/v1/domains/example.test", {"package": "a\u0000b"})
    assert is_error(st, j, {400, 404}), (st, j)
    st, j = op.call("POST", "/api/v1/domains/example.test/users", {"address": "n@example.test", "password": "pw\u0000x"})
    assert is_error(st, j, {400}), (st, j)
    # The language switch goes back only to a path of this site.
    for back, want in [("/me", "/me"), ("//evil.example", "/"), ("/%09/evil.example", "/"), ("https://evil.example", "/")]:
        st, h, _ = Api(server).raw("GET", f"/lang/ja?back={back}")
        assert st == 303 and h["location"] == want, (back, h.get("location"))


def test_app_passwords_open_only_their_protocols(server, op):
    op.ok("POST", "/api/v1/domains", {"domain": "apps.example", "contact": "boss@elsewhere.example"})
    op.ok("POST", "/api/v1/domains/apps.example/users", {"address": "dan@apps.example", "password": "dan-pw-123"})
    dan = Api(server, token(server, "dan@apps.example"))
    # Bad input: the error names the field.
    st, j = dan.call("POST", "/api/v1/users/dan@apps.example/app-passwords", {"name": "phone", "protocols": ["ftp"]})
    assert is_error(st, j, {400}) and j["field"] == "protocols", j
    st, j = dan.call("POST", "/api/v1/users/dan@apps.example/app-passwords", {"name": "", "protocols": ["pop3"]})
    assert is_error(st, j, {400}) and j["field"] == "name", j
    n = dan.ok("POST", "/api/v1/users/dan@apps.example/app-passwords", {"name": "phone", "protocols": ["pop3"]})
    assert re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){4}", n["secret"]), n
    assert n["protocols"] == ["pop3"] and n["last_used"] is None
    # POP3 takes it; SMTP AUTH does not (not made for SMTP).
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=tls_ctx(), timeout=10)
    p.user("dan@apps.example")
    p.pass_(n["secret"])
    p.quit()
    s = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls_ctx(), timeout=10)
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login("dan@apps.example", n["secret"])
    assert e.value.smtp_code == 535
    s.close()
    listed = dan.ok("GET", "/api/v1/users/dan@apps.example/app-passwords")
    assert [a["name"] for a in listed] == ["phone"] and listed[0]["last_used"], listed
    assert "secret" not in listed[0]
    # Revoked: POP3 refuses it at once.
    dan.ok("DELETE", f"/api/v1/users/dan@apps.example/app-passwords/{n['id']}")
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=tls_ctx(), timeout=10)
    p.user("dan@apps.example")
    with pytest.raises(poplib.error_proto):
        p.pass_(n["secret"])
    st, j = dan.call("DELETE", f"/api/v1/users/dan@apps.example/app-passwords/{n['id']}")
    assert is_error(st, j, {404}), j
    # Without two-step sign-in there is nothing to reset.
    st, j = op.call("DELETE", "/api/v1/users/dan@apps.example/totp")
    assert is_error(st, j, {404}), j


def test_live_dns_check_says_what_dns_has_now(server, op, dns):
    op.ok("POST", "/api/v1/domains", {"domain": "live.example", "contact": "boss@elsewhere.example"})
    zone = server.cli("domain", "dns", "live.example").stdout
    # Publish all but DMARC, and an SPF record of the domain's own making.
    dns.publish_zone("\n".join(l for l in zone.splitlines() if "_dmarc" not in l and "v=spf1" not in l))
    dns.publish("live.example", "TXT", ["v=spf1 include:elsewhere.example ~all", "site-verification=abc"])
    checks = op.ok("GET", "/api/v1/domains/live.example/dns/check")
    by = {(c["type"], c["value"].split(";")[0].split(" ")[0]): c for c in checks}
    status = {k: c["status"] for k, c in by.items()}
    assert status[("MX", "10")] == "ok", checks
    assert status[("TXT", "v=spf1")] == "different", checks
    assert by[("TXT", "v=spf1")]["found"] == ["v=spf1 include:elsewhere.example ~all"]
    assert status[("TXT", "v=DKIM1")] == "ok", checks
    assert status[("TXT", "v=DMARC1")] == "missing", checks
    # Fixed at the DNS host: the next check says so (nothing cached).
    dns.publish_zone("\n".join(l for l in zone.splitlines() if "_dmarc" in l))
    again = op.ok("GET", "/api/v1/domains/live.example/dns/check")
    assert [c["status"] for c in again if c["value"].startswith("v=DMARC1")] == ["ok"], again
    # A domain not hosted here is not looked up.
    st, j = Api(server, token(server, "ops")).call("GET", "/api/v1/domains/nope.example/dns/check")
    assert is_error(st, j, {404}), j
