//! The operator's console (`/ops`, R-WEB-3, R-ABUSE-5).

use super::kit::{frame, notices, refused, status, PageQ};
use super::signin::Fb;
use super::{page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mailhost_admin::views::{Audit, Domain, Hold, Notice};
use mailhost_admin::{Error, PageReq};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route("/ops", get(ops))
        .route("/ops/domains", post(ops_add_domain))
        .route("/ops/notices", post(ops_notice))
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
