//! What the pages of every role share: the frame, the form outcomes,
//! the notice board's latest entries.

use super::signin::Fb;
use super::{Signed, St, Tr};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mailhost_admin::views::Notice;
use mailhost_admin::{Caller, Error, PageReq};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct PageQ {
    pub ok: Option<String>,
    pub q: Option<String>,
    pub after: Option<String>,
}

/// What every page's frame shows.
pub struct Frame {
    pub t: &'static Tr,
    pub who: Option<String>,
    pub csrf: Option<String>,
    pub back: String,
    pub ok: Option<&'static str>,
}

pub fn frame(t: &'static Tr, s: &Signed, back: String, ok: bool) -> Frame {
    Frame {
        t,
        who: Some(s.caller.login.clone()),
        csrf: Some(s.session.csrf.clone()),
        back,
        ok: ok.then_some(t.saved),
    }
}

pub fn status(fb: &Fb) -> StatusCode {
    if fb.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// An error page for what the caller may not see (no other details).
pub fn refused(e: Error) -> Response {
    let st = crate::api::status(e.kind);
    (st, e.message).into_response()
}

/// After a form that needs no page of its own: back to `to`, or the
/// refusal.
pub fn done<T>(r: Result<T, Error>, to: &str) -> Response {
    match r {
        Ok(_) => Redirect::to(&format!("{to}?ok=1")).into_response(),
        Err(e) => refused(e),
    }
}

pub fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ',', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn notices(w: &St, c: &Caller) -> Vec<Notice> {
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

#[derive(Deserialize)]
pub struct CsrfOnly {
    pub csrf: String,
}
