//! The domain admin's panel (`/d/DOMAIN`, `/u/ADDRESS`, R-WEB-1).

use super::kit::{done, frame, lines, notices, refused, status, CsrfOnly, PageQ};
use super::signin::Fb;
use super::{page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mailhost_admin::views::{Billing, DnsCheck, DnsRecord, Hold, MailingList, Notice, User};
use mailhost_admin::{Error, ImportRow, NewUser, PageReq, Role, UserPatch};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route("/d/{domain}", get(domain))
        .route("/d/{domain}/users", post(domain_add_user))
        .route("/d/{domain}/aliases", post(domain_add_alias))
        .route("/d/{domain}/import", post(domain_import))
        .route("/d/{domain}/dns", get(domain_dns))
        .route("/u/{address}", get(mailbox))
        .route("/u/{address}/{action}", post(mailbox_action))
        .route("/holds/{address}/release", post(hold_release))
}

// ---- the domain admin's panel ----

#[derive(Template)]
#[template(path = "domain.html")]
struct DomainPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    domain: String,
    domains: Vec<String>,
    billing: Billing,
    q: String,
    users: Vec<User>,
    next: Option<String>,
    new_address: String,
    imported: Vec<ImportRow>,
    dry_run: bool,
    holds: Vec<Hold>,
    dns: Vec<DnsRecord>,
    notices: Vec<Notice>,
    lt: &'static super::i18n_lists::ListTr,
    lists: Vec<MailingList>,
    fb: Fb,
}

/// What a form sent back to the domain page shows.
#[derive(Default)]
struct Sent {
    fb: Fb,
    new_address: String,
    imported: Vec<ImportRow>,
    dry_run: bool,
}

async fn domain_page(
    w: &St,
    t: &'static Tr,
    s: &Signed,
    d: &str,
    q: PageQ,
    sent: Sent,
) -> Response {
    let c = &s.caller;
    let search = q.q.clone().unwrap_or_default();
    let p = PageReq {
        cursor: q.after.clone(),
        limit: Some(50),
        prefix: Some(search.clone()).filter(|x| !x.is_empty()),
    };
    // The list first: it checks the caller's scope (one refusal, one
    // audit record). The rest are independent reads, asked at once, so
    // the page takes as long as the slowest, not their sum.
    let users = match w.admin.user_list(c, d, &p).await {
        Ok(u) => u,
        Err(e) => return refused(e),
    };
    let all_holds = PageReq::default();
    let all_lists = PageReq {
        limit: Some(mailhost_admin::MAX_PAGE),
        ..Default::default()
    };
    let (billing, holds, dns, notices, lists) = tokio::join!(
        w.admin.billing(c, Some(d)),
        w.admin.hold_list(c, &all_holds),
        w.admin.domain_dns(c, d),
        notices(w, c),
        w.admin.list_list(c, Some(d), &all_lists),
    );
    let billing = match billing {
        Ok(mut b) if !b.is_empty() => b.remove(0),
        Ok(_) => return refused(Error::not_found(format!("no such domain: {d}"))),
        Err(e) => return refused(e),
    };
    let holds = holds
        .map(|p| p.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.account.ends_with(&format!("@{d}")))
        .collect();
    let domains = match &c.role {
        Role::DomainAdmin(ds) => ds.clone(),
        _ => vec![],
    };
    let f = frame(t, s, format!("/d/{d}"), q.ok.is_some());
    let page_ = DomainPage {
        t: f.t,
        who: f.who,
        csrf: f.csrf,
        back: f.back,
        ok: f.ok,
        csrf_token: s.session.csrf.clone(),
        domain: billing.domain.clone(),
        domains,
        billing,
        q: search,
        users: users.items,
        next: users.next,
        new_address: sent.new_address,
        imported: sent.imported,
        dry_run: sent.dry_run,
        holds,
        dns: dns.unwrap_or_default(),
        notices,
        lt: super::i18n_lists::of(t),
        lists: lists.map(|p| p.items).unwrap_or_default(),
        fb: sent.fb,
    };
    page(status(&page_.fb), &page_)
}

/// The domain's page with a form's error (from another module's form).
pub(super) async fn with_error(w: &St, t: &'static Tr, s: &Signed, d: &str, fb: Fb) -> Response {
    let sent = Sent {
        fb,
        ..Default::default()
    };
    domain_page(w, t, s, d, PageQ::default(), sent).await
}

async fn domain(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(d): Path<String>,
    Query(q): Query<PageQ>,
) -> Response {
    domain_page(&w, t, &s, &d, q, Sent::default()).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    address: String,
    password: String,
}

async fn domain_add_user(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(d): Path<String>,
    Form(f): Form<NewUserForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    // A bare local part is of this domain.
    let address = if f.address.contains(['@', '%']) {
        f.address.trim().to_string()
    } else {
        format!("{}@{d}", f.address.trim())
    };
    let r = w
        .admin
        .user_add(
            &s.caller,
            NewUser {
                address: address.clone(),
                password: f.password,
                ..Default::default()
            },
        )
        .await;
    match r {
        Ok(_) => Redirect::to(&format!("/d/{d}?ok=1")).into_response(),
        Err(e) => {
            let sent = Sent {
                fb: Fb::of(e, t),
                new_address: f.address,
                ..Default::default()
            };
            domain_page(&w, t, &s, &d, PageQ::default(), sent).await
        }
    }
}

#[derive(Deserialize)]
pub struct NewAliasForm {
    csrf: String,
    alias: String,
    targets: String,
}

async fn domain_add_alias(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(d): Path<String>,
    Form(f): Form<NewAliasForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let alias = if f.alias.contains('@') {
        f.alias.trim().to_string()
    } else {
        format!("{}@{d}", f.alias.trim())
    };
    match w
        .admin
        .alias_add(&s.caller, &alias, &lines(&f.targets))
        .await
    {
        Ok(_) => Redirect::to(&format!("/d/{d}?ok=1")).into_response(),
        Err(e) => {
            let sent = Sent {
                fb: Fb::of(e, t),
                ..Default::default()
            };
            domain_page(&w, t, &s, &d, PageQ::default(), sent).await
        }
    }
}

#[derive(Deserialize)]
pub struct ImportForm {
    csrf: String,
    csv: String,
    dry_run: Option<String>,
}

/// CSV import: a dry run shows what would change; a real one adds.
async fn domain_import(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(d): Path<String>,
    Form(f): Form<ImportForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let dry_run = f.dry_run.is_some();
    let sent = match w.admin.import_users(&s.caller, &d, &f.csv, dry_run).await {
        Ok(rows) => Sent {
            imported: rows,
            dry_run,
            ..Default::default()
        },
        Err(e) => Sent {
            fb: Fb::of(e, t),
            ..Default::default()
        },
    };
    domain_page(&w, t, &s, &d, PageQ::default(), sent).await
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    domain: String,
    user: User,
    destinations: String,
    keep_copy: bool,
    fb: Fb,
}

async fn mailbox_page(w: &St, t: &'static Tr, s: &Signed, a: &str, ok: bool, fb: Fb) -> Response {
    let c = &s.caller;
    let user = match w.admin.user_get(c, a).await {
        Ok(u) => u,
        Err(e) => return refused(e),
    };
    let fwd = if user.kind == "mailbox" {
        w.admin.forward_get(c, a).await.ok().flatten()
    } else {
        None
    };
    let f = frame(t, s, format!("/u/{}", user.address), ok);
    let p = MailboxPage {
        t: f.t,
        who: f.who,
        csrf: f.csrf,
        back: f.back,
        ok: f.ok,
        csrf_token: s.session.csrf.clone(),
        domain: user
            .address
            .rsplit_once('@')
            .map_or("", |x| x.1)
            .to_string(),
        destinations: fwd
            .as_ref()
            .map_or(String::new(), |f| f.destinations.join("\n")),
        keep_copy: fwd.as_ref().is_some_and(|f| f.keep_copy),
        user,
        fb,
    };
    page(status(&p.fb), &p)
}

async fn mailbox(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(a): Path<String>,
    Query(q): Query<PageQ>,
) -> Response {
    mailbox_page(&w, t, &s, &a, q.ok.is_some(), Fb::default()).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    password: Option<String>,
    destinations: Option<String>,
    keep_copy: Option<String>,
}

async fn mailbox_action(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path((a, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let c = &s.caller;
    let suspend = |v| UserPatch {
        suspended: Some(v),
        ..Default::default()
    };
    let r = match action.as_str() {
        "suspend" => w.admin.user_update(c, &a, suspend(true)).await.map(|_| ()),
        "resume" => w.admin.user_update(c, &a, suspend(false)).await.map(|_| ()),
        "password" => {
            w.admin
                .user_passwd(c, &a, f.password.as_deref().unwrap_or(""), None)
                .await
        }
        "forward" => {
            let dests = lines(f.destinations.as_deref().unwrap_or(""));
            if dests.is_empty() {
                w.admin.forward_clear(c, &a).await
            } else {
                w.admin
                    .forward_set(c, &a, &dests, f.keep_copy.is_some(), false)
                    .await
                    .map(|_| ())
            }
        }
        "delete" => {
            let domain = a.rsplit_once(['@', '%']).map_or("", |x| x.1).to_string();
            return match w.admin.user_delete(c, &a).await {
                Ok(()) => Redirect::to(&format!("/d/{domain}?ok=1")).into_response(),
                Err(e) if e.kind == mailhost_admin::Kind::Invalid => {
                    mailbox_page(&w, t, &s, &a, false, Fb::of(e, t)).await
                }
                Err(e) => refused(e),
            };
        }
        _ => return refused(Error::not_found("no such action")),
    };
    match r {
        Ok(()) => Redirect::to(&format!("/u/{a}?ok=1")).into_response(),
        Err(e) if e.kind == mailhost_admin::Kind::Invalid => {
            mailbox_page(&w, t, &s, &a, false, Fb::of(e, t)).await
        }
        Err(e) => refused(e),
    }
}

async fn hold_release(
    State(w): State<St>,
    s: Signed,
    Path(a): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    done(
        w.admin.hold_release(&s.caller, &a).await,
        &super::home_of(&s.caller),
    )
}

#[derive(Template)]
#[template(path = "dns.html")]
struct DnsPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    domain: String,
    checks: Vec<DnsCheck>,
}

/// The live DNS check: what DNS says now of each record to publish.
async fn domain_dns(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(d): Path<String>,
) -> Response {
    match w.admin.domain_dns_check(&s.caller, &d).await {
        Ok(checks) => {
            let f = frame(t, &s, format!("/d/{d}/dns"), false);
            page(
                StatusCode::OK,
                &DnsPage {
                    t,
                    who: f.who,
                    csrf: f.csrf,
                    back: f.back,
                    ok: None,
                    domain: d,
                    checks,
                },
            )
        }
        Err(e) => refused(e),
    }
}
