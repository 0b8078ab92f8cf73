//! Two-step sign-in and app passwords (R-WEB-5), for every role: the
//! second step of a sign-in (`/login/code`), and `/account`, where a
//! login turns TOTP on or off and a mailbox makes app passwords for its
//! mail clients.

use super::kit::{refused, CsrfOnly};
use super::signin::{session_cookie, Fb};
use super::{home_of, page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use mailhost_admin::views::AppPassword;
use mailhost_admin::{Role, TotpStatus, STAGE_CHANGE};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route("/login/code", get(code_page_get).post(code))
        .route("/account", get(account))
        .route("/account/totp/begin", post(totp_begin))
        .route("/account/totp/confirm", post(totp_confirm))
        .route("/account/totp/off", post(totp_off))
        .route("/account/app-passwords", post(app_create))
        .route("/account/app-passwords/{id}/revoke", post(app_revoke))
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    fb: Fb,
}

fn code_page(t: &'static Tr, s: &Signed, fb: Fb) -> Response {
    let st = if fb.any() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(
        st,
        &CodePage {
            t,
            who: None,
            csrf: Some(s.session.csrf.clone()),
            back: "/login/code".into(),
            ok: None,
            csrf_token: s.session.csrf.clone(),
            fb,
        },
    )
}

async fn code_page_get(Lang(t): Lang, s: Signed) -> Response {
    if !s.half_way() {
        return Redirect::to(&home_of(&s.caller)).into_response();
    }
    code_page(t, &s, Fb::default())
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

async fn code(
    State(w): State<St>,
    Lang(t): Lang,
    Extension(p): Extension<crate::Peer>,
    s: Signed,
    Form(f): Form<CodeForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    if !s.half_way() {
        return Redirect::to(&home_of(&s.caller)).into_response();
    }
    match w
        .admin
        .second_factor(&s.token, &f.code, &p.0.ip().to_string())
        .await
    {
        Ok(n) => {
            let max = w.admin.config().web.session_lifetime.as_secs();
            let to = if n.session.stage == STAGE_CHANGE {
                "/password".to_string()
            } else {
                home_of(&n.caller)
            };
            (
                [(header::SET_COOKIE, session_cookie(&n.token, max))],
                Redirect::to(&to),
            )
                .into_response()
        }
        Err(e) if e.kind == mailhost_admin::Kind::Unauthorized => {
            Redirect::to("/login").into_response()
        }
        Err(e) => code_page(t, &s, Fb::of(e, t)),
    }
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    on: bool,
    recovery_left: i64,
    /// The key and the QR code (SVG) of a set-up to confirm.
    pending: Option<(String, String)>,
    new_codes: Option<Vec<String>>,
    mailbox: bool,
    apps: Vec<AppPassword>,
    new_secret: Option<String>,
    fb: Fb,
}

/// What a form just did, for the page it shows.
#[derive(Default)]
struct Outcome {
    fb: Fb,
    new_codes: Option<Vec<String>>,
    new_secret: Option<String>,
    ok: bool,
}

async fn security_page(w: &St, t: &'static Tr, s: &Signed, o: Outcome) -> Response {
    let status = match w.admin.totp_status(&s.caller).await {
        Ok(st) => st,
        Err(e) => return refused(e),
    };
    let (on, recovery_left, pending) = match status {
        TotpStatus::Off => (false, 0, None),
        TotpStatus::Pending(p) => {
            let Some(svg) = crate::qr::svg(&p.uri) else {
                return refused(mailhost_admin::Error::internal("the QR code did not fit"));
            };
            (false, 0, Some((p.secret, svg)))
        }
        TotpStatus::On { recovery_left } => (true, recovery_left, None),
    };
    let (mailbox, apps) = match &s.caller.role {
        Role::User(a) => (
            true,
            w.admin
                .app_password_list(&s.caller, a)
                .await
                .unwrap_or_default(),
        ),
        _ => (false, vec![]),
    };
    let st = if o.fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        st,
        &SecurityPage {
            t,
            who: Some(s.caller.login.clone()),
            csrf: Some(s.session.csrf.clone()),
            back: "/account".into(),
            ok: o.ok.then_some(t.saved),
            csrf_token: s.session.csrf.clone(),
            on,
            recovery_left,
            pending,
            new_codes: o.new_codes,
            mailbox,
            apps,
            new_secret: o.new_secret,
            fb: o.fb,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct OkQ {
    ok: Option<String>,
}

async fn account(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    axum::extract::Query(q): axum::extract::Query<OkQ>,
) -> Response {
    let o = Outcome {
        ok: q.ok.is_some(),
        ..Default::default()
    };
    security_page(&w, t, &s, o).await
}

fn fail(e: mailhost_admin::Error, t: &'static Tr) -> Outcome {
    Outcome {
        fb: Fb::of(e, t),
        ..Default::default()
    }
}

async fn totp_begin(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    match w.admin.totp_begin(&s.caller).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => security_page(&w, t, &s, fail(e, t)).await,
    }
}

async fn totp_confirm(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<CodeForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let o = match w.admin.totp_confirm(&s.caller, &f.code).await {
        Ok(codes) => Outcome {
            new_codes: Some(codes),
            ..Default::default()
        },
        Err(e) => fail(e, t),
    };
    security_page(&w, t, &s, o).await
}

#[derive(Deserialize)]
pub struct OffForm {
    csrf: String,
    password: String,
}

async fn totp_off(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<OffForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    match w.admin.totp_off(&s.caller, &f.password).await {
        Ok(()) => Redirect::to("/account?ok=1").into_response(),
        Err(e) => security_page(&w, t, &s, fail(e, t)).await,
    }
}

#[derive(Deserialize)]
pub struct AppForm {
    csrf: String,
    name: String,
    pop3: Option<String>,
    smtp: Option<String>,
    imap: Option<String>,
}

async fn app_create(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<AppForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let protocols: Vec<String> = [("pop3", &f.pop3), ("smtp", &f.smtp), ("imap", &f.imap)]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(p, _)| p.to_string())
        .collect();
    let o = match w
        .admin
        .app_password_create(&s.caller, &s.caller.login, &f.name, &protocols)
        .await
    {
        Ok(n) => Outcome {
            new_secret: Some(n.secret),
            ..Default::default()
        },
        Err(e) => fail(e, t),
    };
    security_page(&w, t, &s, o).await
}

async fn app_revoke(
    State(w): State<St>,
    s: Signed,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    match w
        .admin
        .app_password_revoke(&s.caller, &s.caller.login, id)
        .await
    {
        Ok(()) => Redirect::to("/account?ok=1").into_response(),
        Err(e) => refused(e),
    }
}
