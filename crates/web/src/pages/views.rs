//! The pages of each role: the user panel (`/me`, R-WEB-2), the domain
//! admin's (`/d/DOMAIN`, `/u/ADDRESS`, R-WEB-1) and the operator's
//! console (`/ops`, R-WEB-3). A form that succeeds redirects (303) back
//! to its page with `?ok=1`; one that fails shows the page again with the
//! error next to its field.

use super::signin::Fb;
use super::{page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mailhost_admin::time::parse_date;
use mailhost_admin::views::{Audit, Billing, DnsRecord, Domain, Hold, Notice, Quota, User};
use mailhost_admin::{AutoreplyReq, Caller, Error, ImportRow, NewUser, PageReq, Role, UserPatch};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route("/me", get(me))
        .route("/me/forward", post(me_forward))
        .route("/me/forward/clear", post(me_forward_clear))
        .route("/me/autoreply", post(me_autoreply))
        .route("/me/autoreply/clear", post(me_autoreply_clear))
        .route("/d/{domain}", get(domain))
        .route("/d/{domain}/users", post(domain_add_user))
        .route("/d/{domain}/aliases", post(domain_add_alias))
        .route("/d/{domain}/import", post(domain_import))
        .route("/u/{address}", get(mailbox))
        .route("/u/{address}/{action}", post(mailbox_action))
        .route("/holds/{address}/release", post(hold_release))
        .route("/ops", get(ops))
        .route("/ops/domains", post(ops_add_domain))
        .route("/ops/notices", post(ops_notice))
}

#[derive(Deserialize, Default)]
pub struct PageQ {
    ok: Option<String>,
    q: Option<String>,
    after: Option<String>,
}

/// What every page's frame shows.
struct Frame {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
}

fn frame(t: &'static Tr, s: &Signed, back: String, ok: bool) -> Frame {
    Frame {
        t,
        who: Some(s.caller.login.clone()),
        csrf: Some(s.session.csrf.clone()),
        back,
        ok: ok.then_some(t.saved),
    }
}

fn status(fb: &Fb) -> StatusCode {
    if fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// An error page for what the caller may not see (no other details).
fn refused(e: Error) -> Response {
    let st = crate::api::status(e.kind);
    (st, e.message).into_response()
}

/// After a form that needs no page of its own: back to `to`, or the
/// refusal.
fn done<T>(r: Result<T, Error>, to: &str) -> Response {
    match r {
        Ok(_) => Redirect::to(&format!("{to}?ok=1")).into_response(),
        Err(e) => refused(e),
    }
}

fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ',', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

async fn notices(w: &St, c: &Caller) -> Vec<Notice> {
    let p = PageReq {
        limit: Some(5),
        ..Default::default()
    };
    w.admin
        .notice_list(c, &p)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

// ---- the user panel ----

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    quota: Quota,
    destinations: String,
    keep_copy: bool,
    ar_set: bool,
    ar_subject: String,
    ar_body: String,
    ar_from: String,
    ar_until: String,
    logins: Vec<(String, String, String)>,
    notices: Vec<Notice>,
    fb: Fb,
}

async fn me_page(w: &St, t: &'static Tr, s: &Signed, ok: bool, fb: Fb) -> Response {
    let Role::User(addr) = &s.caller.role else {
        return Redirect::to(&super::home_of(&s.caller)).into_response();
    };
    let c = &s.caller;
    let (quota, fwd, ar) = match (
        w.admin.user_quota(c, addr).await,
        w.admin.forward_get(c, addr).await,
        w.admin.autoreply_get(c, addr).await,
    ) {
        (Ok(q), Ok(f), Ok(a)) => (q, f, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return refused(e),
    };
    let day = |v: &Option<String>| v.as_deref().map_or(String::new(), |d| d[..10].to_string());
    let f = frame(t, s, "/me".into(), ok);
    let p = MePage {
        t: f.t,
        who: f.who,
        csrf: f.csrf,
        back: f.back,
        ok: f.ok,
        csrf_token: s.session.csrf.clone(),
        quota,
        destinations: fwd
            .as_ref()
            .map_or(String::new(), |f| f.destinations.join("\n")),
        keep_copy: fwd.as_ref().is_some_and(|f| f.keep_copy),
        ar_set: ar.is_some(),
        ar_subject: ar
            .as_ref()
            .and_then(|a| a.subject.clone())
            .unwrap_or_default(),
        ar_body: ar.as_ref().map_or(String::new(), |a| a.body.clone()),
        ar_from: ar.as_ref().map_or(String::new(), |a| day(&a.from)),
        // The end is stored as the start of the next day.
        ar_until: ar.as_ref().map_or(String::new(), |a| {
            a.until
                .as_deref()
                .and_then(|u| parse_date("until", &u[..10], false).ok())
                .map(|ms| mailhost_store::rfc3339(ms - 86_400_000)[..10].to_string())
                .unwrap_or_default()
        }),
        logins: w.admin.my_logins(c).await.unwrap_or_default(),
        notices: notices(w, c).await,
        fb,
    };
    page(status(&p.fb), &p)
}

async fn me(State(w): State<St>, Lang(t): Lang, s: Signed, Query(q): Query<PageQ>) -> Response {
    me_page(&w, t, &s, q.ok.is_some(), Fb::default()).await
}

#[derive(Deserialize)]
pub struct ForwardForm {
    csrf: String,
    #[serde(default)]
    destinations: String,
    keep_copy: Option<String>,
}

fn own(s: &Signed) -> String {
    match &s.caller.role {
        Role::User(a) => a.clone(),
        _ => String::new(),
    }
}

async fn me_forward(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<ForwardForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let dests = lines(&f.destinations);
    let r = if dests.is_empty() {
        w.admin.forward_clear(&s.caller, &own(&s)).await
    } else {
        w.admin
            .forward_set(&s.caller, &own(&s), &dests, f.keep_copy.is_some(), false)
            .await
            .map(|_| ())
    };
    match r {
        Ok(()) => Redirect::to("/me?ok=1").into_response(),
        Err(e) => me_page(&w, t, &s, false, Fb::of(e, t)).await,
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

async fn me_forward_clear(State(w): State<St>, s: Signed, Form(f): Form<CsrfOnly>) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    done(w.admin.forward_clear(&s.caller, &own(&s)).await, "/me")
}

#[derive(Deserialize)]
pub struct AutoreplyForm {
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
}

async fn me_autoreply(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<AutoreplyForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let date = |field: &'static str, v: &str, end: bool| -> Result<Option<i64>, Error> {
        if v.trim().is_empty() {
            return Ok(None);
        }
        parse_date(field, v.trim(), end)
            .map(Some)
            .map_err(|m| Error::invalid(field, m))
    };
    let r = async {
        let req = AutoreplyReq {
            subject: Some(f.subject.trim().to_string()).filter(|s| !s.is_empty()),
            body: f.body.clone(),
            from: date("from", &f.from, false)?,
            until: date("until", &f.until, true)?,
        };
        w.admin.autoreply_set(&s.caller, &own(&s), req).await
    }
    .await;
    match r {
        Ok(_) => Redirect::to("/me?ok=1").into_response(),
        Err(e) => me_page(&w, t, &s, false, Fb::of(e, t)).await,
    }
}

async fn me_autoreply_clear(State(w): State<St>, s: Signed, Form(f): Form<CsrfOnly>) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    done(w.admin.autoreply_clear(&s.caller, &own(&s)).await, "/me")
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
    let users = match w.admin.user_list(c, d, &p).await {
        Ok(u) => u,
        Err(e) => return refused(e),
    };
    let billing = match w.admin.billing(c, Some(d)).await {
        Ok(mut b) if !b.is_empty() => b.remove(0),
        Ok(_) => return refused(Error::not_found(format!("no such domain: {d}"))),
        Err(e) => return refused(e),
    };
    let holds = w
        .admin
        .hold_list(
            c,
            &PageReq {
                prefix: None,
                ..Default::default()
            },
        )
        .await
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
        dns: w.admin.domain_dns(c, d).await.unwrap_or_default(),
        notices: notices(w, c).await,
        fb: sent.fb,
    };
    page(status(&page_.fb), &page_)
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

// ---- the operator's console ----

#[derive(Template)]
#[template(path = "ops.html")]
struct OpsPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    q: String,
    domains: Vec<Domain>,
    next: Option<String>,
    holds: Vec<Hold>,
    audit: Vec<Audit>,
    notices: Vec<Notice>,
    fb: Fb,
}

async fn ops_page(w: &St, t: &'static Tr, s: &Signed, q: PageQ, fb: Fb) -> Response {
    let c = &s.caller;
    if !c.is_operator() {
        return refused(Error::forbidden(
            "the operator's console is for the operator",
        ));
    }
    let search = q.q.clone().unwrap_or_default();
    let p = PageReq {
        cursor: q.after.clone(),
        limit: Some(50),
        prefix: Some(search.to_ascii_lowercase()).filter(|x| !x.is_empty()),
    };
    let domains = match w.admin.domain_list(c, &p).await {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    let first = PageReq {
        limit: Some(20),
        ..Default::default()
    };
    let f = frame(t, s, "/ops".into(), q.ok.is_some());
    let p = OpsPage {
        t: f.t,
        who: f.who,
        csrf: f.csrf,
        back: f.back,
        ok: f.ok,
        csrf_token: s.session.csrf.clone(),
        q: search,
        domains: domains.items,
        next: domains.next,
        holds: w
            .admin
            .hold_list(c, &first)
            .await
            .map(|p| p.items)
            .unwrap_or_default(),
        audit: w
            .admin
            .audit_list(c, None, None, &first)
            .await
            .map(|p| p.items)
            .unwrap_or_default(),
        notices: notices(w, c).await,
        fb,
    };
    page(status(&p.fb), &p)
}

async fn ops(State(w): State<St>, Lang(t): Lang, s: Signed, Query(q): Query<PageQ>) -> Response {
    ops_page(&w, t, &s, q, Fb::default()).await
}

#[derive(Deserialize)]
pub struct NewDomainForm {
    csrf: String,
    domain: String,
    contact: String,
}

async fn ops_add_domain(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<NewDomainForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    match w
        .admin
        .domain_add(&s.caller, &f.domain, &f.contact, None)
        .await
    {
        Ok(_) => Redirect::to("/ops?ok=1").into_response(),
        Err(e) => ops_page(&w, t, &s, PageQ::default(), Fb::of(e, t)).await,
    }
}

#[derive(Deserialize)]
pub struct NoticeForm {
    csrf: String,
    title: String,
    body: String,
}

async fn ops_notice(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<NoticeForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    match w.admin.notice_publish(&s.caller, &f.title, &f.body).await {
        Ok(_) => Redirect::to("/ops?ok=1").into_response(),
        Err(e) => ops_page(&w, t, &s, PageQ::default(), Fb::of(e, t)).await,
    }
}
