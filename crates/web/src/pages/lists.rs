//! The public pages of mailing lists (R-LIST-1, R-LIST-3): one-click
//! unsubscribe (RFC 8058), confirmation links, the subscription form.
//!
//! A GET never changes anything (link scanners and previews follow
//! links): it shows a button. The one-click POST needs no cookie and no
//! CSRF token — the keyed token in the URL is the authority — takes
//! either form encoding, acts within the request, and is idempotent.

use super::{page, St, Tr};
use crate::Peer;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use mailhost_lists::{Refusal, Source, Why};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route(
            "/lists/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/lists/confirm", get(confirm_page).post(confirm))
        .route("/lists/{list}", get(subscribe_page).post(subscribe))
}

#[derive(askama::Template)]
#[template(path = "list_page.html")]
struct ListPage {
    t: &'static Tr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    heading: String,
    text: String,
    action: Option<String>,
    button: &'static str,
    ask_address: bool,
}

fn show(
    st: StatusCode,
    heading: &str,
    text: String,
    action: Option<String>,
    button: &'static str,
) -> Response {
    page(
        st,
        &ListPage {
            t: super::i18n::pick(None, Some("en")),
            who: None,
            csrf: None,
            back: "/".into(),
            ok: None,
            heading: heading.to_string(),
            text,
            action,
            button,
            ask_address: false,
        },
    )
}

fn refused(r: &Refusal) -> Response {
    let st = match r.why {
        Why::Invalid => StatusCode::BAD_REQUEST,
        Why::NotFound => StatusCode::NOT_FOUND,
        Why::Forbidden => StatusCode::FORBIDDEN,
        Why::Conflict => StatusCode::CONFLICT,
        Why::Limit => StatusCode::CONFLICT,
        Why::TryLater => StatusCode::TOO_MANY_REQUESTS,
        Why::Internal => StatusCode::SERVICE_UNAVAILABLE,
    };
    show(st, "Not done", r.text(), None, "")
}

/// The list engine, or the page saying the server cannot act now.
async fn engine(w: &St) -> Result<&mailhost_lists::Lists, Response> {
    w.admin.lists().await.map_err(|e| {
        show(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not done",
            e.to_string(),
            None,
            "",
        )
    })
}

#[derive(Deserialize)]
pub struct Tok {
    #[serde(default)]
    t: String,
}

/// The client for the consent ledger: the TCP peer, or the address a
/// trusted proxy (`lists.trusted_proxies`) names in X-Forwarded-For —
/// from anyone else that header is ignored.
fn client_ip(w: &St, peer: Option<Peer>, h: &HeaderMap) -> Option<String> {
    let peer = peer.map(|p| p.0.ip().to_string())?;
    let trusted = &w.admin.config().lists.trusted_proxies;
    if trusted.iter().any(|t| t == &peer) {
        if let Some(fwd) = h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            // The proxy appends the address it saw last.
            if let Some(last) = fwd
                .rsplit(',')
                .next()
                .map(str::trim)
                .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
            {
                return Some(last.to_string());
            }
        }
    }
    Some(peer)
}

fn source(w: &St, req: &Request, method: &'static str) -> Source {
    let h = req.headers();
    Source {
        ip: client_ip(w, req.extensions().get::<Peer>().copied(), h),
        method,
        message_id: None,
        user_agent: h
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect()),
    }
}

/// The page a GET of a token link shows: what the POST would do, and
/// its button (a GET never acts).
async fn ask(
    w: &St,
    purpose: mailhost_lists::token::Purpose,
    tok: &str,
    path: &str,
    heading: &str,
    button: &'static str,
    text: impl Fn(&mailhost_lists::token::Claims) -> String,
) -> Response {
    let lists = match engine(w).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    match lists.peek(purpose, tok).await {
        Ok(c) => show(
            StatusCode::OK,
            heading,
            text(&c),
            Some(format!("{path}?t={tok}")),
            button,
        ),
        Err(r) => refused(&r),
    }
}

async fn unsubscribe_page(State(w): State<St>, Query(q): Query<Tok>) -> Response {
    ask(
        &w,
        mailhost_lists::token::Purpose::Unsubscribe,
        &q.t,
        "/lists/unsubscribe",
        "Unsubscribe",
        "Unsubscribe",
        |c| {
            format!(
                "Stop all mail from {} to {}? This is permanent.",
                c.list, c.member
            )
        },
    )
    .await
}

/// RFC 8058 §3.2: the POST's body is `List-Unsubscribe=One-Click`
/// (form-urlencoded or multipart); the token in the URL says who and
/// from what, so the body is not needed to act.
async fn unsubscribe(State(w): State<St>, Query(q): Query<Tok>, req: Request) -> Response {
    let src = source(&w, &req, "one-click");
    let lists = match engine(&w).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let r = lists.unsubscribe_by_token(&q.t, &src).await;
    acted(r.map(|(l, m, _)| (l, m)), "Unsubscribed", |member, list| {
        format!("{member} will get no more mail from {list}.")
    })
}

/// The page after a token's POST: what was done to whom, or the refusal.
fn acted(
    r: mailhost_lists::Result<(mailhost_store::MailList, String)>,
    heading: &str,
    text: impl Fn(&str, &str) -> String,
) -> Response {
    match r {
        Ok((list, member)) => show(
            StatusCode::OK,
            heading,
            text(&member, &list.address),
            None,
            "",
        ),
        Err(r) => refused(&r),
    }
}

async fn confirm_page(State(w): State<St>, Query(q): Query<Tok>) -> Response {
    ask(
        &w,
        mailhost_lists::token::Purpose::Confirm,
        &q.t,
        "/lists/confirm",
        "Confirm your subscription",
        "Confirm",
        |c| format!("Subscribe {} to {}?", c.member, c.list),
    )
    .await
}

async fn confirm(State(w): State<St>, Query(q): Query<Tok>, req: Request) -> Response {
    let src = source(&w, &req, "web");
    let lists = match engine(&w).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let r = lists.confirm(&q.t, &src).await;
    acted(r.map(|(l, m, _)| (l, m)), "Subscribed", |member, list| {
        format!("{member} is now subscribed to {list}.")
    })
}

async fn subscribe_page(State(w): State<St>, Path(list): Path<String>) -> Response {
    match w.admin.store().list_get(&list).await {
        Ok(Some(l)) => page(
            StatusCode::OK,
            &ListPage {
                t: super::i18n::pick(None, Some("en")),
                who: None,
                csrf: None,
                back: "/".into(),
                ok: None,
                heading: format!("Subscribe to {}", l.name),
                text: format!(
                    "Enter your address: a confirmation goes to it, and you join {} only when you confirm.",
                    l.address
                ),
                action: Some(format!("/lists/{}", l.address)),
                button: "Subscribe",
                ask_address: true,
            },
        ),
        _ => show(StatusCode::NOT_FOUND, "No such list", format!("{list} is not a list here."), None, ""),
    }
}

#[derive(Deserialize)]
struct SubscribeForm {
    address: String,
}

async fn subscribe(State(w): State<St>, Path(list): Path<String>, req: Request) -> Response {
    if !super::same_origin(req.headers()) {
        return show(
            StatusCode::FORBIDDEN,
            "Not done",
            "This form was sent from another site and was refused.".into(),
            None,
            "",
        );
    }
    let src = source(&w, &req, "web");
    let f = match axum::extract::Form::<SubscribeForm>::from_request(req, &w).await {
        Ok(axum::extract::Form(f)) => f,
        Err(e) => return show(StatusCode::BAD_REQUEST, "Not done", e.body_text(), None, ""),
    };
    let lists = match engine(&w).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let l = match w.admin.store().list_get(&list).await {
        Ok(Some(l)) => l,
        _ => {
            return show(
                StatusCode::NOT_FOUND,
                "No such list",
                format!("{list} is not a list here."),
                None,
                "",
            )
        }
    };
    match lists.request(&l, &f.address, &src).await {
        Ok(_) => show(
            StatusCode::OK,
            "Check your mail",
            format!("If {} can receive mail, a confirmation is on its way. You join {} only when you confirm.", f.address, l.address),
            None,
            "",
        ),
        Err(r) => refused(&r),
    }
}
