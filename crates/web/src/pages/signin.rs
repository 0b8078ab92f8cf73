//! Sign-in, sign-out, the language switch, and changing an admin's own
//! password (a one-time password must be changed before anything else).

use super::{cookie, home_of, page, Form, Lang, Signed, St, Tr, LANG_COOKIE, SESSION_COOKIE};
use crate::Peer;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use mailhost_admin::{Error, Role};
use serde::Deserialize;

/// An error shown next to its field (or above the form).
#[derive(Default)]
pub struct Fb {
    pub field: Option<String>,
    pub message: String,
}

impl Fb {
    pub fn is(&self, field: &str) -> bool {
        !self.message.is_empty() && self.field.as_deref().unwrap_or("") == field
    }
    pub fn any(&self) -> bool {
        !self.message.is_empty()
    }
}

impl Fb {
    /// The error in the page's language, next to its field.
    pub fn of(e: Error, t: &Tr) -> Fb {
        Fb {
            message: t.field_error(e.field.as_deref(), &e.message),
            field: e.field,
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'a str>,
    login: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'a str>,
    csrf_token: String,
    must_change: bool,
    fb: Fb,
}

pub async fn home(State(w): State<St>, h: HeaderMap, Extension(p): Extension<Peer>) -> Response {
    if let Some(tok) = cookie(&h, SESSION_COOKIE) {
        if let Ok(Some((c, _))) = w.admin.session(tok, &p.0.ip().to_string()).await {
            return Redirect::to(&home_of(&c)).into_response();
        }
    }
    Redirect::to("/login").into_response()
}

pub async fn login_page(Lang(t): Lang) -> Response {
    page(
        StatusCode::OK,
        &LoginPage {
            t,
            who: None,
            csrf: None,
            back: "/login".into(),
            ok: None,
            login: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
}

pub(super) fn session_cookie(token: &str, max_age: u64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    )
}

pub async fn login(
    State(w): State<St>,
    Lang(t): Lang,
    Extension(p): Extension<Peer>,
    Form(f): Form<LoginForm>,
) -> Response {
    match w
        .admin
        .sign_in(&f.login, &f.password, &p.0.ip().to_string())
        .await
    {
        Ok(s) => {
            let max = w.admin.config().web.session_lifetime.as_secs();
            let to = match s.session.stage.as_str() {
                mailhost_admin::STAGE_CHANGE => "/password".to_string(),
                mailhost_admin::STAGE_TOTP | mailhost_admin::STAGE_TOTP_CHANGE => {
                    "/login/code".to_string()
                }
                _ => home_of(&s.caller),
            };
            (
                [(header::SET_COOKIE, session_cookie(&s.token, max))],
                Redirect::to(&to),
            )
                .into_response()
        }
        Err(e) => page(
            if e.kind == mailhost_admin::Kind::Forbidden {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            },
            &LoginPage {
                t,
                who: None,
                csrf: None,
                back: "/login".into(),
                ok: None,
                login: f.login,
                error: Some(e.message),
            },
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(State(w): State<St>, s: Signed, Form(f): Form<CsrfForm>) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    if let Err(e) = w.admin.sign_out(&s.token).await {
        tracing::error!("sign-out: {e}");
    }
    (
        [(header::SET_COOKIE, session_cookie("", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// Switches the language and remembers it for a year.
pub async fn lang(Path(l): Path<String>, Query(b): Query<Back>) -> Response {
    let l = if l == "ja" { "ja" } else { "en" };
    // Only a path of this site, never another site (no open redirect).
    let back = b
        .back
        .filter(|p| {
            p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                // Browsers drop tabs and newlines: "/\t/x" would be "//x".
                && !p.chars().any(char::is_control)
        })
        .unwrap_or_else(|| "/".into());
    (
        [(
            header::SET_COOKIE,
            format!("{LANG_COOKIE}={l}; Path=/; Secure; SameSite=Lax; Max-Age=31536000"),
        )],
        Redirect::to(&back),
    )
        .into_response()
}

fn password_page(t: &'static Tr, s: &Signed, fb: Fb, ok: Option<&str>) -> Response {
    let st = if fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        st,
        &PasswordPage {
            t,
            who: Some(s.caller.login.clone()),
            csrf: Some(s.session.csrf.clone()),
            back: "/password".into(),
            ok,
            csrf_token: s.session.csrf.clone(),
            must_change: s.session.stage == mailhost_admin::STAGE_CHANGE,
            fb,
        },
    )
}

pub async fn password_page_get(Lang(t): Lang, s: Signed) -> Response {
    password_page(t, &s, Fb::default(), None)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
}

/// An admin's own password (a mailbox user changes its own on /me).
/// Every session of the login ends, so the browser signs in again.
pub async fn password(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let r = match &s.caller.role {
        Role::User(a) => {
            w.admin
                .user_passwd(&s.caller, a, &f.password, Some(&f.current))
                .await
        }
        _ => {
            w.admin
                .admin_passwd(&s.caller, &s.caller.login, &f.password, Some(&f.current))
                .await
        }
    };
    match r {
        Ok(()) => (
            [(header::SET_COOKIE, session_cookie("", 0))],
            Redirect::to("/login"),
        )
            .into_response(),
        Err(e) => password_page(t, &s, Fb::of(e, t), None),
    }
}
