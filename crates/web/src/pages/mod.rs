//! The control panels (R-WEB-1..3, R-WEB-5): server-rendered HTML
//! (askama) that needs no script, in English and Japanese, over the same
//! service layer as the API.
//!
//! Sessions: a 128-bit token in a `__Host-` cookie (Secure, HttpOnly,
//! SameSite=Strict) naming a session kept in the store. Every form
//! carries the session's CSRF token, and a POST that comes from another
//! site (`Sec-Fetch-Site`, `Origin`) is refused before anything else.

mod console;
mod domain;
mod i18n;
mod i18n_lists;
mod kit;
mod list_admin;
mod lists;
mod ops;
mod security;
mod signin;
mod user;

use crate::{Peer, Web};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
pub use i18n::Tr;
use mailhost_admin::Caller;
use mailhost_store::Session;
use serde::de::DeserializeOwned;
use std::sync::Arc;

type St = Arc<Web>;

pub const SESSION_COOKIE: &str = "__Host-mh_session";
pub const LANG_COOKIE: &str = "__Host-mh_lang";

pub fn router() -> Router<St> {
    Router::new()
        .route("/", get(signin::home))
        .route("/login", get(signin::login_page).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/lang/{lang}", get(signin::lang))
        .route(
            "/password",
            get(signin::password_page_get).post(signin::password),
        )
        .route("/static/style.css", get(style))
        .merge(user::router())
        .merge(domain::router())
        .merge(ops::router())
        .merge(security::router())
        .merge(console::router())
        .merge(lists::router())
        .merge(list_admin::router())
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn peer_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<Peer>()
        .map_or_else(|| "unknown".into(), |p| p.0.ip().to_string())
}

/// The page language.
pub struct Lang(pub &'static Tr);

impl FromRequestParts<St> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(Lang(i18n::pick(
            cookie(&parts.headers, LANG_COOKIE),
            accept,
        )))
    }
}

/// A signed-in visitor: its caller and session. Without one, pages
/// redirect to the sign-in page; a session whose one-time password is
/// not yet changed reaches only the password page.
pub struct Signed {
    pub caller: Caller,
    pub session: Session,
    pub token: String,
}

impl FromRequestParts<St> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, w: &St) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(to_login());
        };
        let ip = peer_ip(parts);
        let Ok(Some((caller, session))) = w.admin.session(&token, &ip).await else {
            return Err(to_login());
        };
        let path = parts.uri.path();
        let half_way = [
            mailhost_admin::STAGE_TOTP,
            mailhost_admin::STAGE_TOTP_CHANGE,
        ]
        .contains(&session.stage.as_str());
        // Half-way through a sign-in: only the second step, or leaving.
        if half_way && path != "/login/code" && path != "/logout" {
            return Err(Redirect::to("/login/code").into_response());
        }
        if session.stage == mailhost_admin::STAGE_CHANGE && path != "/password" && path != "/logout"
        {
            return Err(Redirect::to("/password").into_response());
        }
        Ok(Signed {
            caller,
            session,
            token,
        })
    }
}

/// A form POST from this site: refused when the browser says it comes
/// from another one, when the form's CSRF token is not the session's
/// (checked by [`Signed::csrf_refusal`]), or when it does not parse.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest<St> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, w: &St) -> Result<Self, Response> {
        if !same_origin(req.headers()) {
            return Err(plain(
                StatusCode::FORBIDDEN,
                "This form was sent from another site and was refused.",
            ));
        }
        let axum::extract::Form(v) = axum::extract::Form::<T>::from_request(req, w)
            .await
            .map_err(|e| plain(StatusCode::BAD_REQUEST, &e.body_text()))?;
        Ok(Form(v))
    }
}

/// `Sec-Fetch-Site` (sent by every current browser) must say the same
/// origin, or the user typing; an `Origin` must be this host.
pub(crate) fn same_origin(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match (
        h.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        h.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (None, _) | (Some("null"), None) => true,
        (Some(o), Some(host)) => o
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

impl Signed {
    /// Whether the password was right and the second factor is still due.
    pub fn half_way(&self) -> bool {
        [
            mailhost_admin::STAGE_TOTP,
            mailhost_admin::STAGE_TOTP_CHANGE,
        ]
        .contains(&self.session.stage.as_str())
    }

    /// The refusal of a form whose CSRF token is not this session's
    /// (compared in constant time); None when it is.
    pub fn csrf_refusal(&self, csrf: &str) -> Option<Response> {
        let a = self.session.csrf.as_bytes();
        let b = csrf.as_bytes();
        let same =
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        (!same).then(|| {
            plain(
                StatusCode::FORBIDDEN,
                "This form has expired. Go back, reload the page and send it again.",
            )
        })
    }
}

fn plain(st: StatusCode, msg: &str) -> Response {
    (
        st,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.to_string(),
    )
        .into_response()
}

/// A rendered page, or a plain 500 if a template failed.
pub fn page<T: askama::Template>(st: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (st, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("template: {e}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page could not be shown.",
            )
        }
    }
}

/// Where a signed-in caller starts.
pub fn home_of(c: &Caller) -> String {
    match &c.role {
        mailhost_admin::Role::Operator => "/ops".into(),
        mailhost_admin::Role::DomainAdmin(ds) => format!("/d/{}", ds.first().map_or("", |d| d)),
        mailhost_admin::Role::User(_) => "/me".into(),
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    heading: &'static str,
    text: &'static str,
}

fn error_page(
    t: &'static Tr,
    st: StatusCode,
    heading: &'static str,
    text: &'static str,
) -> Response {
    page(
        st,
        &ErrorPage {
            t,
            who: None,
            csrf: None,
            back: "/".into(),
            ok: None,
            heading,
            text,
        },
    )
}

/// No such route: the API's error shape under `/api/`, a page elsewhere.
pub async fn not_found(Lang(t): Lang, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::not_found().await;
    }
    error_page(t, StatusCode::NOT_FOUND, t.not_found, t.not_found_text)
}

pub async fn method_not_allowed(Lang(t): Lang, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::method_not_allowed().await;
    }
    error_page(
        t,
        StatusCode::METHOD_NOT_ALLOWED,
        t.not_allowed,
        t.not_allowed_text,
    )
}
