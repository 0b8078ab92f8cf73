//! The user panel (`/me`, R-WEB-2): a mailbox user's own settings.

use super::kit::{done, frame, lines, notices, refused, status, CsrfOnly, PageQ};
use super::signin::Fb;
use super::{page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mailhost_admin::time::parse_date;
use mailhost_admin::views::{MailingList, Notice, Quota};
use mailhost_admin::{AutoreplyReq, Error, Role};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route("/me", get(me))
        .route("/me/forward", post(me_forward))
        .route("/me/forward/clear", post(me_forward_clear))
        .route("/me/autoreply", post(me_autoreply))
        .route("/me/autoreply/clear", post(me_autoreply_clear))
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
    lt: &'static super::i18n_lists::ListTr,
    /// The lists this mailbox owns.
    lists: Vec<MailingList>,
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
        lt: super::i18n_lists::of(t),
        lists: w
            .admin
            .list_list(c, None, &mailhost_admin::PageReq::all())
            .await
            .map(|p| p.items)
            .unwrap_or_default(),
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
