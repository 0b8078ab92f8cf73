//! A mailing list's page in the panels (`/l/LIST`, R-LIST-1..6): who may
//! post, held posts to approve or reject, members by state, invitations
//! (confirmations only: R-LIST-2), removals and erasure requests, the
//! consent ledger as CSV. For the domain's admin and the list's owner;
//! every action goes through the service layer like the API's.

use super::i18n_lists::{self, ListTr};
use super::kit::{frame, lines, refused, status, CsrfOnly};
use super::signin::Fb;
use super::{page, Form, Lang, Signed, St, Tr};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mailhost_admin::views::{ConsentRecord, HeldPost, ListInvite, ListMember, MailingList};
use mailhost_admin::{Error, PageReq};
use serde::Deserialize;

pub fn router() -> Router<St> {
    Router::new()
        .route("/l/{list}", get(list))
        .route("/l/{list}/consent.csv", get(consent_csv))
        .route("/l/{list}/posting", post(posting))
        .route("/l/{list}/invite", post(invite))
        .route("/l/{list}/remove", post(remove))
        .route("/l/{list}/held/{id}/{decision}", post(decide))
        .route("/l/{list}/delete", post(delete))
        .route("/d/{domain}/lists", post(create))
}

#[derive(Template)]
#[template(path = "list_admin.html")]
struct ListAdminPage {
    t: &'static Tr,
    lt: &'static ListTr,
    who: Option<String>,
    csrf: Option<String>,
    back: String,
    ok: Option<&'static str>,
    csrf_token: String,
    /// Back: the domain's page for its admin, the panel for the owner.
    home: String,
    /// Only the domain's admin deletes a list.
    can_delete: bool,
    list: MailingList,
    held: Vec<HeldPost>,
    members: Vec<ListMember>,
    next: Option<String>,
    state: String,
    states: [&'static str; 6],
    invited: Vec<ListInvite>,
    /// What a moderation decision or removal said.
    said: Option<String>,
    fb: Fb,
}

#[derive(Deserialize, Default)]
pub struct ListQ {
    ok: Option<String>,
    state: Option<String>,
    after: Option<String>,
    said: Option<String>,
}

/// What a form sent back to the page shows.
#[derive(Default)]
struct Sent {
    fb: Fb,
    invited: Vec<ListInvite>,
}

async fn list_page(w: &St, t: &'static Tr, s: &Signed, l: &str, q: ListQ, sent: Sent) -> Response {
    let c = &s.caller;
    let list = match w.admin.list_info(c, l).await {
        Ok(x) => x,
        Err(e) => return refused(e),
    };
    let state = q.state.clone().filter(|x| !x.is_empty());
    let p = PageReq {
        cursor: q.after.clone().filter(|x| !x.is_empty()),
        limit: Some(50),
        prefix: None,
    };
    let (members, held) = tokio::join!(
        w.admin.list_members(c, l, state.as_deref(), &p),
        w.admin.list_held(c, l),
    );
    let members = match members {
        Ok(m) => m,
        Err(e) => return refused(e),
    };
    let f = frame(t, s, format!("/l/{}", list.address), q.ok.is_some());
    let p = ListAdminPage {
        t: f.t,
        lt: i18n_lists::of(t),
        who: f.who,
        csrf: f.csrf,
        back: f.back,
        ok: f.ok,
        csrf_token: s.session.csrf.clone(),
        home: match list.address.rsplit_once('@') {
            Some((_, d)) if c.manages(d) => format!("/d/{d}"),
            _ => super::home_of(c),
        },
        can_delete: list
            .address
            .rsplit_once('@')
            .is_some_and(|(_, d)| c.manages(d)),
        list,
        held: held.unwrap_or_default(),
        members: members.items,
        next: members.next,
        state: state.unwrap_or_default(),
        states: mailhost_admin::Admin::list_states(),
        invited: sent.invited,
        said: q.said.filter(|x| !x.is_empty()),
        fb: sent.fb,
    };
    page(status(&p.fb), &p)
}

async fn list(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(l): Path<String>,
    Query(q): Query<ListQ>,
) -> Response {
    list_page(&w, t, &s, &l, q, Sent::default()).await
}

/// After an action: the page again, or the error next to its field.
async fn outcome<T>(
    w: &St,
    t: &'static Tr,
    s: &Signed,
    l: &str,
    r: Result<T, Error>,
    said: impl FnOnce(T) -> Option<String>,
) -> Response {
    match r {
        Ok(v) => {
            let said = said(v).map_or(String::new(), |m| format!("&said={}", urlencode(&m)));
            Redirect::to(&format!("/l/{}?ok=1{said}", urlencode(l))).into_response()
        }
        Err(e) if e.kind == mailhost_admin::Kind::Invalid => {
            let sent = Sent {
                fb: Fb::of(e, t),
                ..Default::default()
            };
            list_page(w, t, s, l, ListQ::default(), sent).await
        }
        Err(e) => refused(e),
    }
}

/// `s` percent-encoded for a query value or a path segment; `@` and
/// the other characters of addresses stay as they are, as in the links
/// the pages write.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"@.-_+~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
pub struct PostingForm {
    csrf: String,
    posting: String,
}

async fn posting(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(l): Path<String>,
    Form(f): Form<PostingForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let r = w.admin.list_set_posting(&s.caller, &l, &f.posting).await;
    outcome(&w, t, &s, &l, r, |_| None).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    addresses: String,
}

async fn invite(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(l): Path<String>,
    Form(f): Form<InviteForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let sent = match w
        .admin
        .list_invite(&s.caller, &l, &lines(&f.addresses))
        .await
    {
        Ok(invited) => Sent {
            invited,
            ..Default::default()
        },
        Err(e) if e.kind == mailhost_admin::Kind::Invalid => Sent {
            fb: Fb::of(e, t),
            ..Default::default()
        },
        Err(e) => return refused(e),
    };
    list_page(&w, t, &s, &l, ListQ::default(), sent).await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: String,
    address: String,
    erasure: Option<String>,
}

async fn remove(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(l): Path<String>,
    Form(f): Form<RemoveForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let r = if f.erasure.is_some() {
        w.admin.list_erase(&s.caller, &l, &f.address).await
    } else {
        w.admin.list_remove(&s.caller, &l, &f.address).await
    };
    outcome(&w, t, &s, &l, r, |_| None).await
}

async fn decide(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path((l, id, decision)): Path<(String, i64, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return refused(Error::not_found("no such decision")),
    };
    let r = w.admin.list_moderate(&s.caller, &l, id, approve).await;
    outcome(&w, t, &s, &l, r, |(_, m)| Some(m)).await
}

async fn delete(
    State(w): State<St>,
    s: Signed,
    Path(l): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let domain = l.rsplit_once('@').map_or("", |x| x.1).to_string();
    match w.admin.list_delete(&s.caller, &l).await {
        Ok(()) => Redirect::to(&format!("/d/{domain}?ok=1")).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: String,
    list: String,
    owner: String,
    #[serde(default)]
    name: String,
}

/// From the domain's page: a bare local part is of that domain.
async fn create(
    State(w): State<St>,
    Lang(t): Lang,
    s: Signed,
    Path(d): Path<String>,
    Form(f): Form<CreateForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let of_domain = |a: &str| {
        let a = a.trim();
        if a.contains('@') {
            a.to_string()
        } else {
            format!("{a}@{d}")
        }
    };
    let (list, owner) = (of_domain(&f.list), of_domain(&f.owner));
    match w.admin.list_create(&s.caller, &list, &owner, &f.name).await {
        Ok(l) => Redirect::to(&format!("/l/{}?ok=1", urlencode(&l.address))).into_response(),
        Err(e)
            if matches!(
                e.kind,
                mailhost_admin::Kind::Invalid | mailhost_admin::Kind::Conflict
            ) =>
        {
            super::domain::with_error(&w, t, &s, &d, Fb::of(e, t)).await
        }
        Err(e) => refused(e),
    }
}

/// The consent ledger as CSV, written page by page as it is read (a
/// ledger of any size streams in bounded memory).
async fn consent_csv(State(w): State<St>, s: Signed, Path(l): Path<String>) -> Response {
    // The first page now: a refusal is a proper error, not a broken download.
    let first = match w.admin.list_consent(&s.caller, &l, 0, PAGE).await {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let caller = s.caller.clone();
    let list = l.clone();
    let stream = futures_util::stream::unfold(
        (Some(first), 0i64, true, false),
        move |(page, after, header, done)| {
            let (w, caller, list) = (w.clone(), caller.clone(), list.clone());
            async move {
                if done {
                    return None;
                }
                let page = match page {
                    Some(p) => p,
                    None => match w.admin.list_consent(&caller, &list, after, PAGE).await {
                        Ok(p) => p,
                        Err(e) => {
                            return Some((
                                Err(std::io::Error::other(e.message)),
                                (None, after, false, true),
                            ))
                        }
                    },
                };
                let last = page.last().map(|r| r.id);
                let chunk = csv_chunk(&page, header);
                match last {
                    Some(id) => Some((Ok(chunk), (None, id, false, false))),
                    None if header => Some((Ok(chunk), (None, after, false, true))),
                    None => None,
                }
            }
        },
    );
    let name = format!("consent-{}.csv", l.replace(['"', '/', '\\'], "_"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// How many ledger events one read brings.
const PAGE: i64 = 1000;

fn csv_chunk(page: &[ConsentRecord], header: bool) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        let _ = w.write_record(ConsentRecord::CSV_HEADER);
    }
    for r in page {
        let _ = w.write_record(r.csv_row());
    }
    w.into_inner().unwrap_or_default()
}
