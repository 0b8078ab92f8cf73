//! The operator's console beyond its front page (R-WEB-3, R-ABUSE-5): the
//! evidence log with search and header export, holds and suspensions,
//! the audit log, admin logins, packages; and, for every role, the notice
//! board's archive. Every list is a page with a cursor.

use super::kit::{frame, refused, CsrfOnly};
use super::signin::Fb;
use super::{page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mailhost_admin::time::parse_date;
use mailhost_admin::views::{AdminLogin, Audit, Evidence, Hold, Notice, Package};
use mailhost_admin::{Error, EvidenceFilter, PageReq};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<St> {
    Router::new()
        .route("/ops/evidence", get(evidence))
        .route("/ops/evidence/{id}/headers", get(evidence_headers))
        .route("/ops/suspended", get(suspended))
        .route("/ops/audit", get(audit))
        .route("/ops/admins", get(admins).post(admin_add))
        .route("/ops/admins/{login}/{action}", post(admin_action))
        .route("/ops/packages", get(packages).post(package_set))
        .route("/holds", get(holds))
        .route("/notices", get(notice_archive))
}

const PAGE: usize = 50;

fn req(after: Option<String>) -> PageReq {
    PageReq {
        cursor: after.filter(|a| !a.is_empty()),
        limit: Some(PAGE),
        ..Default::default()
    }
}

fn operator_only(s: &Signed) -> Option<Response> {
    (!s.caller.is_operator()).then(|| {
        refused(Error::forbidden(
            "the operator's console is for the operator",
        ))
    })
}

// ---- evidence ----

#[derive(Deserialize, Serialize, Default)]
pub struct EvidenceQ {
    #[serde(default)]
    account: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default, skip_serializing)]
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "evidence.html")]
struct EvidencePage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    f: EvidenceQ,
    items: Vec<Evidence>,
    next: Option<String>,
    query: String,
    fb: Fb,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn filter(q: &EvidenceQ) -> Result<EvidenceFilter, Error> {
    let date = |field: &'static str, s: &str, end: bool| {
        some(s)
            .map(|d| parse_date(field, &d, end).map_err(|m| Error::invalid(field, m)))
            .transpose()
    };
    Ok(EvidenceFilter {
        account: some(&q.account),
        ip: some(&q.ip),
        rule: some(&q.rule).map(|r| r.to_ascii_uppercase()),
        since: date("since", &q.since, false)?,
        until: date("until", &q.until, true)?,
    })
}

async fn evidence(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Query(q): Query<EvidenceQ>,
) -> Response {
    if let Some(r) = operator_only(&s) {
        return r;
    }
    let (page_, fb) = match filter(&q) {
        Ok(f) => match w
            .admin
            .evidence_search(&s.caller, &f, &req(q.after.clone()))
            .await
        {
            Ok(p) => (p, Fb::default()),
            Err(e) => (Default::default(), Fb::of(e, t)),
        },
        Err(e) => (Default::default(), Fb::of(e, t)),
    };
    let f = frame(t, &s, "/ops/evidence".into(), false);
    let p = EvidencePage {
        t,
        who: f.who,
        csrf: f.csrf,
        back: f.back,
        ok: None,
        query: serde_urlencoded::to_string(&q).unwrap_or_default(),
        f: q,
        items: page_.items,
        next: page_.next,
        fb,
    };
    let st = if p.fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(st, &p)
}

/// A message's headers as the evidence log kept them, as a download.
async fn evidence_headers(State(w): State<St>, s: Signed, Path(id): Path<i64>) -> Response {
    match w.admin.evidence_export(&s.caller, id).await {
        Ok(h) => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"evidence-{id}-headers.txt\""),
                ),
            ],
            h,
        )
            .into_response(),
        Err(e) => refused(e),
    }
}

// ---- lists: holds, suspensions, audit, notices ----

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    title: &'static str,
    kind: &'static str,
    operator: bool,
    path: &'static str,
    query: String,
    next: Option<String>,
    holds: Vec<Hold>,
    suspended: Vec<String>,
    notices: Vec<Notice>,
    audit: Vec<Audit>,
    actor: String,
    object: String,
}

impl ListPage {
    fn new(t: &'static Tr, s: &Signed, kind: &'static str, path: &'static str) -> Self {
        let f = frame(t, s, path.into(), false);
        ListPage {
            t,
            who: f.who,
            csrf: f.csrf,
            back: f.back,
            ok: None,
            csrf_token: s.session.csrf.clone(),
            title: match kind {
                "holds" => t.holds,
                "suspended" => t.suspensions,
                "audit" => t.audit,
                _ => t.all_notices,
            },
            kind,
            operator: s.caller.is_operator(),
            path,
            query: String::new(),
            next: None,
            holds: vec![],
            suspended: vec![],
            notices: vec![],
            audit: vec![],
            actor: String::new(),
            object: String::new(),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct AfterQ {
    after: Option<String>,
    ok: Option<String>,
}

/// Holds on the accounts the caller manages (the operator: all).
async fn holds(State(w): State<St>, Lang(t): Lang, s: Signed, Query(q): Query<AfterQ>) -> Response {
    let mut p = ListPage::new(t, &s, "holds", "/holds");
    p.ok = q.ok.map(|_| t.saved);
    match w.admin.hold_list(&s.caller, &req(q.after)).await {
        Ok(h) => {
            p.holds = h.items;
            p.next = h.next;
            page(StatusCode::OK, &p)
        }
        Err(e) => refused(e),
    }
}

async fn suspended(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Query(q): Query<AfterQ>,
) -> Response {
    let mut p = ListPage::new(t, &s, "suspended", "/ops/suspended");
    match w.admin.suspended_list(&s.caller, &req(q.after)).await {
        Ok(l) => {
            p.suspended = l.items;
            p.next = l.next;
            page(StatusCode::OK, &p)
        }
        Err(e) => refused(e),
    }
}

/// Every notice, newest first, with its date (R-ABUSE-5's archive).
async fn notice_archive(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Query(q): Query<AfterQ>,
) -> Response {
    let mut p = ListPage::new(t, &s, "notices", "/notices");
    match w.admin.notice_list(&s.caller, &req(q.after)).await {
        Ok(l) => {
            p.notices = l.items;
            p.next = l.next;
            page(StatusCode::OK, &p)
        }
        Err(e) => refused(e),
    }
}

#[derive(Deserialize, Serialize, Default)]
pub struct AuditQ {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    object: String,
    #[serde(default, skip_serializing)]
    after: Option<String>,
}

async fn audit(State(w): State<St>, Lang(t): Lang, s: Signed, Query(q): Query<AuditQ>) -> Response {
    let mut p = ListPage::new(t, &s, "audit", "/ops/audit");
    let r = w
        .admin
        .audit_list(
            &s.caller,
            some(&q.actor).as_deref(),
            some(&q.object).as_deref(),
            &req(q.after.clone()),
        )
        .await;
    match r {
        Ok(l) => {
            p.query = serde_urlencoded::to_string(&q).unwrap_or_default();
            p.audit = l.items;
            p.next = l.next;
            p.actor = q.actor;
            p.object = q.object;
            page(StatusCode::OK, &p)
        }
        Err(e) => refused(e),
    }
}

// ---- admin logins ----

#[derive(Template)]
#[template(path = "admins.html")]
struct AdminsPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    me: String,
    admins: Vec<AdminLogin>,
    one_time: Option<String>,
    fb: Fb,
}

async fn admins_page(
    w: &St,
    t: &'static Tr,
    s: &Signed,
    ok: bool,
    one_time: Option<String>,
    fb: Fb,
) -> Response {
    let admins = match w.admin.admin_list(&s.caller).await {
        Ok(a) => a,
        Err(e) => return refused(e),
    };
    let f = frame(t, s, "/ops/admins".into(), ok);
    let st = if fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        st,
        &AdminsPage {
            t,
            who: f.who,
            csrf: f.csrf,
            back: f.back,
            ok: f.ok,
            csrf_token: s.session.csrf.clone(),
            me: s.caller.login.clone(),
            admins,
            one_time,
            fb,
        },
    )
}

async fn admins(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Query(q): Query<AfterQ>,
) -> Response {
    admins_page(&w, t, &s, q.ok.is_some(), None, Fb::default()).await
}

#[derive(Deserialize)]
pub struct AdminForm {
    csrf: String,
    login: String,
    #[serde(default)]
    domains: String,
}

/// A new admin login gets a one-time password, shown here once.
async fn admin_add(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<AdminForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let domains: Vec<String> = f
        .domains
        .split(['\n', ',', ' '])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let r = w
        .admin
        .admin_add(&s.caller, &f.login, domains.is_empty(), &domains, None)
        .await;
    match r {
        Ok((_, pw)) => admins_page(&w, t, &s, true, pw, Fb::default()).await,
        Err(e) => admins_page(&w, t, &s, false, None, Fb::of(e, t)).await,
    }
}

async fn admin_action(
    State(w): State<St>,
    s: Signed,
    Path((login, action)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let r = match action.as_str() {
        "remove" => w.admin.admin_remove(&s.caller, &login).await,
        "totp-off" => w.admin.totp_reset(&s.caller, &login).await,
        _ => return (StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    match r {
        Ok(()) => Redirect::to("/ops/admins?ok=1").into_response(),
        Err(e) => refused(e),
    }
}

// ---- packages ----

#[derive(Template)]
#[template(path = "packages.html")]
struct PackagesPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    packages: Vec<Package>,
    /// What the form sent, shown again with its error.
    form: PackageForm,
    fb: Fb,
}

async fn packages_page(
    w: &St,
    t: &'static Tr,
    s: &Signed,
    ok: bool,
    form: PackageForm,
    fb: Fb,
) -> Response {
    let packages = match w.admin.package_list(&s.caller).await {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let f = frame(t, s, "/ops/packages".into(), ok);
    let st = if fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        st,
        &PackagesPage {
            t,
            who: f.who,
            csrf: f.csrf,
            back: f.back,
            ok: f.ok,
            csrf_token: s.session.csrf.clone(),
            packages,
            form,
            fb,
        },
    )
}

async fn packages(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Query(q): Query<AfterQ>,
) -> Response {
    packages_page(
        &w,
        t,
        &s,
        q.ok.is_some(),
        PackageForm::default(),
        Fb::default(),
    )
    .await
}

#[derive(Deserialize, Default)]
pub struct PackageForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    hourly_limit: String,
    #[serde(default)]
    quota: String,
    #[serde(default)]
    max_forwards: String,
}

fn number(field: &'static str, s: &str) -> Result<Option<u32>, Error> {
    some(s)
        .map(|v| {
            v.parse()
                .map_err(|_| Error::invalid(field, "give a whole number, or leave it empty"))
        })
        .transpose()
}

async fn package_set(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<PackageForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let parsed = (|| {
        let quota = some(&f.quota)
            .map(|q| {
                mailhost_config::Size::parse(&q)
                    .map(|s| s.0)
                    .map_err(|m| Error::invalid("quota", m))
            })
            .transpose()?;
        Ok::<_, Error>((
            number("hourly_limit", &f.hourly_limit)?,
            quota,
            number("max_forwards", &f.max_forwards)?,
        ))
    })();
    let r = match parsed {
        Ok((h, q, m)) => w
            .admin
            .package_set(&s.caller, &f.name, h, q, m)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Redirect::to("/ops/packages?ok=1").into_response(),
        Err(e) => packages_page(&w, t, &s, false, f, Fb::of(e, t)).await,
    }
}
