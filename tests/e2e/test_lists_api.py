"""Mailing lists through the JSON API (R-LIST-1..6, R-WEB-4): the same
service layer as the CLI and the panels. A domain's admin creates and
deletes; the list's owner (a mailbox user's token) runs it: invitations
that only send confirmations, members by state, moderation of held posts,
removal and erasure requests, the consent ledger a page at a time. Another
mailbox user sees nothing of it."""

import json
import smtplib

import pytest

from api import Api, token
from helpers import pop_messages, wait_for
from test_lists import LIST, confirmation, send

ERROR_KEYS = {"code", "message", "field"}


@pytest.fixture
def api(make_server, sink):
    s = make_server(extra=sink.route + '[lists]\nthrottle = "100ms"\n')
    s.setup_domain(users=("owner", "reader", "other"))
    s.cli("admin", "add", "dom-admin", "--domain", "example.test", "--password", "dom-admin-pw-1")
    return s, Api(s, token(s, "dom-admin")), Api(s, token(s, "owner@example.test")), Api(s, token(s, "other@example.test"))


def test_lists_over_the_api(api, sink):
    s, adm, owner, other = api
    # Created by the domain's admin; the address must be of the path's domain.
    st, j = adm.call("POST", "/api/v1/domains/example.test/lists", {"list": "news@elsewhere.test", "owner": "owner@example.test"})
    assert st == 400 and set(j) == ERROR_KEYS and j["field"] == "list"
    made = adm.ok("POST", "/api/v1/domains/example.test/lists",
                  {"list": LIST, "owner": "owner@example.test", "name": "Example News"})
    assert made["address"] == LIST and made["members"] == 0 and made["posting"] == "members"
    st, j = adm.call("POST", "/api/v1/domains/example.test/lists", {"list": LIST, "owner": "owner@example.test"})
    assert st == 409 and set(j) == ERROR_KEYS
    # A mailbox user cannot create lists.
    st, _ = owner.call("POST", "/api/v1/domains/example.test/lists", {"list": "mine@example.test", "owner": "owner@example.test"})
    assert st == 403
    assert [l["address"] for l in adm.ok("GET", "/api/v1/domains/example.test/lists")["items"]] == [LIST]
    # Pages filtered by prefix in the store (not after the page is cut).
    adm.ok("POST", "/api/v1/domains/example.test/lists", {"list": "zeta@example.test", "owner": "owner@example.test"})
    page = adm.ok("GET", "/api/v1/domains/example.test/lists?prefix=z&limit=1")
    assert [l["address"] for l in page["items"]] == ["zeta@example.test"] and page["next"] is None
    page = adm.ok("GET", "/api/v1/domains/example.test/lists?limit=1")
    assert [l["address"] for l in page["items"]] == [LIST] and page["next"] == LIST
    adm.ok("DELETE", "/api/v1/lists/zeta@example.test")
    # The owner sees its list; another user neither sees nor touches it.
    assert [l["address"] for l in owner.ok("GET", "/api/v1/lists")["items"]] == [LIST]
    assert other.ok("GET", "/api/v1/lists")["items"] == []
    for method, path, body in [("GET", f"/api/v1/lists/{LIST}", None),
                               ("GET", f"/api/v1/lists/{LIST}/members", None),
                               ("GET", f"/api/v1/lists/{LIST}/consent", None),
                               ("POST", f"/api/v1/lists/{LIST}/members", {"addresses": ["x@remote.test"]}),
                               ("DELETE", f"/api/v1/lists/{LIST}/members/reader@example.test", None)]:
        st, j = other.call(method, path, body)
        assert st == 403 and set(j) == ERROR_KEYS, (method, path, st, j)

    # Invitations only send confirmations (R-LIST-2); one outcome each.
    out = owner.ok("POST", f"/api/v1/lists/{LIST}/members",
                   {"addresses": ["reader@example.test", "far@remote.test", "not an address", LIST]})
    assert [o["status"] for o in out] == ["invited", "invited", "refused", "refused"], out
    assert "R-LIST" in out[2]["message"] + out[3]["message"]
    st, j = owner.call("POST", f"/api/v1/lists/{LIST}/members", {"addresses": []})
    assert st == 400 and j["field"] == "addresses"
    page = owner.ok("GET", f"/api/v1/lists/{LIST}/members?state=invited")
    assert {m["address"] for m in page["items"]} == {"reader@example.test", "far@remote.test"}
    assert owner.ok("GET", f"/api/v1/lists/{LIST}")["members"] == 0
    st, j = owner.call("GET", f"/api/v1/lists/{LIST}/members?state=joined")
    assert st == 400 and j["field"] == "state"
    _, tok = confirmation(s, "reader")
    send(s, "reader@example.test", f"news+confirm-{tok}@example.test")
    assert owner.ok("GET", f"/api/v1/lists/{LIST}/members?state=member")["items"][0]["address"] == "reader@example.test"
    # Paging: one member a page, with a cursor.
    p1 = owner.ok("GET", f"/api/v1/lists/{LIST}/members?limit=1")
    p2 = owner.ok("GET", f"/api/v1/lists/{LIST}/members?limit=1&cursor={p1['next']}")
    assert len(p1["items"]) == 1 and len(p2["items"]) == 1 and p1["items"] != p2["items"]

    # Moderation from the API: the owner makes the list moderated; a
    # member's post is held until the owner approves it.
    assert owner.ok("PATCH", f"/api/v1/lists/{LIST}", {"posting": "moderated"})["posting"] == "moderated"
    st, j = owner.call("PATCH", f"/api/v1/lists/{LIST}", {"posting": "anyone"})
    assert st == 400 and j["field"] == "posting"
    for subject in ("first held", "second held"):
        with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
            c.sendmail("reader@example.test", [LIST], f"From: reader@example.test\r\nSubject: {subject}\r\n\r\n{subject} body\r\n")
    held = owner.ok("GET", f"/api/v1/lists/{LIST}/held")
    assert [h["subject"] for h in held] == ["first held", "second held"]
    assert all(h["poster"] == "reader@example.test" for h in held)
    first, second = held[0]["id"], held[1]["id"]
    st, j = other.call("POST", f"/api/v1/lists/{LIST}/held/{first}/approve")
    assert st == 403
    r = owner.ok("POST", f"/api/v1/lists/{LIST}/held/{first}/approve")
    assert r["changed"] is True and "approved" in r["message"]
    again = owner.ok("POST", f"/api/v1/lists/{LIST}/held/{first}/reject")
    assert again["changed"] is False
    assert owner.ok("POST", f"/api/v1/lists/{LIST}/held/{second}/reject")["changed"] is True
    st, j = owner.call("POST", f"/api/v1/lists/{LIST}/held/999999/approve")
    assert st == 404 and set(j) == ERROR_KEYS
    assert owner.ok("GET", f"/api/v1/lists/{LIST}/held") == []
    # The approved post reached the member; the rejected one did not.
    assert wait_for(lambda: any(b"first held body" in m for m in pop_messages(s.ports["pop3"], "reader@example.test")))
    assert not any(b"second held body" in m for m in pop_messages(s.ports["pop3"], "reader@example.test"))

    # An erasure request: recorded, then the address is suppressed.
    r = owner.ok("DELETE", f"/api/v1/lists/{LIST}/members/reader@example.test?erasure=true")
    assert r["changed"] is True
    assert owner.ok("GET", f"/api/v1/lists/{LIST}/members?state=suppressed")["items"][0]["address"] == "reader@example.test"
    # Removal of an address never on the list: not an error, nothing changed.
    assert owner.ok("DELETE", f"/api/v1/lists/{LIST}/members/nobody@example.test")["changed"] is False

    # The ledger a page at a time, oldest first, the same fields as the CLI's export.
    events, cursor = [], None
    while True:
        q = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = owner.ok("GET", f"/api/v1/lists/{LIST}/consent{q}")
        events += page["items"]
        cursor = page["next"]
        if not cursor:
            break
    cli = json.loads(s.cli("list", "consent", LIST, "--format", "json").stdout)
    assert events == cli
    kinds = [e["event"] for e in events if e["address"] == "reader@example.test"]
    assert kinds == ["invited", "confirmed", "erasure-requested", "suppressed"], kinds
    assert events[-1]["method"] == "api"
    st, j = owner.call("GET", f"/api/v1/lists/{LIST}/consent?limit=0")
    assert st == 400 and set(j) == ERROR_KEYS

    # Only the domain's admin deletes; the ledger stays readable.
    st, _ = owner.call("DELETE", f"/api/v1/lists/{LIST}")
    assert st == 403
    adm.ok("DELETE", f"/api/v1/lists/{LIST}")
    st, _ = adm.call("GET", f"/api/v1/lists/{LIST}")
    assert st == 404
    after = adm.ok("GET", f"/api/v1/lists/{LIST}/consent?limit=1000")["items"]
    assert after[-1]["event"] == "list-deleted" and len(after) == len(events) + 1
    # A new list at the same address: its owner does not see the old
    # list's subscribers; the domain's admin still sees everything.
    import time
    time.sleep(0.01)
    adm.ok("POST", "/api/v1/domains/example.test/lists", {"list": LIST, "owner": "other@example.test"})
    assert other.ok("GET", f"/api/v1/lists/{LIST}/consent")["items"] == []
    assert len(adm.ok("GET", f"/api/v1/lists/{LIST}/consent?limit=1000")["items"]) == len(after)


def test_the_openapi_document_describes_the_list_routes(server):
    doc = Api(server, tls=True).call("GET", "/api/openapi.json")[1]
    for path in ["/api/v1/domains/{domain}/lists", "/api/v1/lists", "/api/v1/lists/{list}",
                 "/api/v1/lists/{list}/members", "/api/v1/lists/{list}/members/{address}",
                 "/api/v1/lists/{list}/consent", "/api/v1/lists/{list}/held",
                 "/api/v1/lists/{list}/held/{id}/approve", "/api/v1/lists/{list}/held/{id}/reject"]:
        assert path in doc["paths"], path
