//! `/api/v1/…lists…`: mailing lists (R-LIST-1..6) — the lists of a
//! domain, members, invitations, the consent ledger, held posts. A
//! domain's admin manages its lists; a list's owner (a mailbox user)
//! sees and runs its own. Members only ever join by confirming
//! (R-LIST-2): "invite" sends confirmations.

use super::{empty_none, ApiResult, Auth, Body, PageParams, Path, Query, St};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mailhost_admin::views::{ConsentRecord, HeldPost, ListInvite, ListMember, MailingList, Page};
use mailhost_admin::{Error, PageReq};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    /// `name@domain`, of the domain in the path.
    pub list: String,
    /// A mailbox of the same domain.
    pub owner: String,
    /// What members see (default: the local part).
    #[serde(default)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPatch {
    /// Who may post: `members`, `owner` or `moderated`.
    pub posting: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    /// 1 to 1,000 addresses; each is sent a confirmation request.
    pub addresses: Vec<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberParams {
    /// Only members in this state.
    #[serde(default, deserialize_with = "empty_none")]
    pub state: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[serde(default, deserialize_with = "empty_none")]
    pub cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveParams {
    /// The member asked to be forgotten: the request is recorded in the
    /// ledger (which is append-only proof) and the address suppressed.
    #[serde(default)]
    pub erasure: bool,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsentParams {
    /// 1 to 1,000 events (default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    #[serde(default, deserialize_with = "empty_none")]
    pub cursor: Option<String>,
}

/// What a removal or a moderation decision did.
#[derive(Serialize, ToSchema)]
pub struct Outcome {
    pub changed: bool,
    pub message: String,
}

/// A domain's lists (its admin), by address.
#[utoipa::path(get, path = "/api/v1/domains/{domain}/lists", tag = "lists",
    params(("domain" = String, Path), PageParams),
    responses((status = 200, body = Page<MailingList>), (status = "4XX", body = Error)))]
pub async fn list(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<MailingList>>> {
    Ok(Json(w.admin.list_list(&c, Some(&d), &p.into()).await?))
}

/// The lists the caller owns (a mailbox user).
#[utoipa::path(get, path = "/api/v1/lists", tag = "lists", params(PageParams),
    responses((status = 200, body = Page<MailingList>), (status = "4XX", body = Error)))]
pub async fn owned(
    State(w): State<St>,
    Auth(c): Auth,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<MailingList>>> {
    Ok(Json(w.admin.list_list(&c, None, &p.into()).await?))
}

/// Creates a list owned by a mailbox of the domain (its admin).
#[utoipa::path(post, path = "/api/v1/domains/{domain}/lists", tag = "lists",
    params(("domain" = String, Path)), request_body = NewList,
    responses((status = 201, body = MailingList), (status = "4XX", body = Error)))]
pub async fn add(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Body(l): Body<NewList>,
) -> ApiResult<(StatusCode, Json<MailingList>)> {
    let of_domain = l
        .list
        .rsplit_once('@')
        .is_some_and(|(_, ld)| ld.eq_ignore_ascii_case(d.trim_end_matches('.')));
    if !of_domain {
        return Err(Error::invalid("list", format!("the list must be of {d}")).into());
    }
    let l = w.admin.list_create(&c, &l.list, &l.owner, &l.name).await?;
    Ok((StatusCode::CREATED, Json(l)))
}

#[utoipa::path(get, path = "/api/v1/lists/{list}", tag = "lists",
    params(("list" = String, Path)),
    responses((status = 200, body = MailingList), (status = "4XX", body = Error)))]
pub async fn show(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
) -> ApiResult<Json<MailingList>> {
    Ok(Json(w.admin.list_info(&c, &l).await?))
}

/// Changes who may post (the domain's admin or the owner).
#[utoipa::path(patch, path = "/api/v1/lists/{list}", tag = "lists",
    params(("list" = String, Path)), request_body = ListPatch,
    responses((status = 200, body = MailingList), (status = "4XX", body = Error)))]
pub async fn update(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
    Body(p): Body<ListPatch>,
) -> ApiResult<Json<MailingList>> {
    Ok(Json(w.admin.list_set_posting(&c, &l, &p.posting).await?))
}

/// Deletes the list, its members and held posts (the domain's admin);
/// its consent ledger stays.
#[utoipa::path(delete, path = "/api/v1/lists/{list}", tag = "lists",
    params(("list" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn remove(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.list_delete(&c, &l).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The list's addresses in every state, by address.
#[utoipa::path(get, path = "/api/v1/lists/{list}/members", tag = "lists",
    params(("list" = String, Path), MemberParams),
    responses((status = 200, body = Page<ListMember>), (status = "4XX", body = Error)))]
pub async fn members(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
    Query(q): Query<MemberParams>,
) -> ApiResult<Json<Page<ListMember>>> {
    let p = PageReq {
        cursor: q.cursor,
        limit: q.limit,
        prefix: None,
    };
    Ok(Json(
        w.admin.list_members(&c, &l, q.state.as_deref(), &p).await?,
    ))
}

/// Invites addresses: each is sent a confirmation and joins only by
/// confirming (R-LIST-2). One outcome per address.
#[utoipa::path(post, path = "/api/v1/lists/{list}/members", tag = "lists",
    params(("list" = String, Path)), request_body = Invitation,
    responses((status = 200, body = Vec<ListInvite>), (status = "4XX", body = Error)))]
pub async fn invite(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
    Body(i): Body<Invitation>,
) -> ApiResult<Json<Vec<ListInvite>>> {
    Ok(Json(w.admin.list_invite(&c, &l, &i.addresses).await?))
}

/// Unsubscribes and suppresses a member at once; with `erasure=true`
/// the member's erasure request is recorded first.
#[utoipa::path(delete, path = "/api/v1/lists/{list}/members/{address}", tag = "lists",
    params(("list" = String, Path), ("address" = String, Path), RemoveParams),
    responses((status = 200, body = Outcome), (status = "4XX", body = Error)))]
pub async fn member_remove(
    State(w): State<St>,
    Auth(c): Auth,
    Path((l, a)): Path<(String, String)>,
    Query(q): Query<RemoveParams>,
) -> ApiResult<Json<Outcome>> {
    let changed = if q.erasure {
        w.admin.list_erase(&c, &l, &a).await?
    } else {
        w.admin.list_remove(&c, &l, &a).await?
    };
    let message = match (changed, q.erasure) {
        (true, true) => "erasure request recorded; the address is suppressed",
        (false, true) => "erasure request recorded; the address was suppressed already",
        (true, false) => "unsubscribed and suppressed",
        (false, false) => "the address was not on the list",
    };
    Ok(Json(Outcome {
        changed,
        message: message.into(),
    }))
}

/// The consent ledger, oldest first (R-LIST-1), a page at a time. It
/// outlives its list.
#[utoipa::path(get, path = "/api/v1/lists/{list}/consent", tag = "lists",
    params(("list" = String, Path), ConsentParams),
    responses((status = 200, body = Page<ConsentRecord>), (status = "4XX", body = Error)))]
pub async fn consent(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
    Query(q): Query<ConsentParams>,
) -> ApiResult<Json<Page<ConsentRecord>>> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "a page holds 1 to 1000 events").into());
    }
    let after = match q.cursor.as_deref() {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| Error::invalid("cursor", "not a cursor of this list"))?,
    };
    let items = w.admin.list_consent(&c, &l, after, limit + 1).await?;
    Ok(Json(Page::of(items, limit as usize, |r| r.id.to_string())))
}

/// Posts waiting for the owner's decision (posting `moderated`).
#[utoipa::path(get, path = "/api/v1/lists/{list}/held", tag = "lists",
    params(("list" = String, Path)),
    responses((status = 200, body = Vec<HeldPost>), (status = "4XX", body = Error)))]
pub async fn held(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
) -> ApiResult<Json<Vec<HeldPost>>> {
    Ok(Json(w.admin.list_held(&c, &l).await?))
}

async fn decide(
    w: &St,
    c: &mailhost_admin::Caller,
    l: &str,
    id: i64,
    approve: bool,
) -> ApiResult<Json<Outcome>> {
    let (changed, message) = w.admin.list_moderate(c, l, id, approve).await?;
    Ok(Json(Outcome { changed, message }))
}

/// Approves a held post: it goes at the list's next slot (off-peak
/// rules apply, R-LIST-4). A second decision changes nothing.
#[utoipa::path(post, path = "/api/v1/lists/{list}/held/{id}/approve", tag = "lists",
    params(("list" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Outcome), (status = "4XX", body = Error)))]
pub async fn approve(
    State(w): State<St>,
    Auth(c): Auth,
    Path((l, id)): Path<(String, i64)>,
) -> ApiResult<Json<Outcome>> {
    decide(&w, &c, &l, id, true).await
}

/// Rejects a held post: it is dropped.
#[utoipa::path(post, path = "/api/v1/lists/{list}/held/{id}/reject", tag = "lists",
    params(("list" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Outcome), (status = "4XX", body = Error)))]
pub async fn reject(
    State(w): State<St>,
    Auth(c): Auth,
    Path((l, id)): Path<(String, i64)>,
) -> ApiResult<Json<Outcome>> {
    decide(&w, &c, &l, id, false).await
}
