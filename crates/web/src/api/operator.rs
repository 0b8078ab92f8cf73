//! Holds, evidence, notices, packages and the audit log.

use super::{ApiResult, Auth, Body, PageParams, Path, Query, St};
use crate::api::users::SizeIn;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use mailhost_admin::time::parse_time;
use mailhost_admin::views::{Audit, Evidence, Hold, Notice, Package, Page};
use mailhost_admin::{Error, EvidenceFilter, PageReq};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Holds in force on the accounts the caller manages (R-ABUSE-1).
#[utoipa::path(get, path = "/api/v1/holds", tag = "holds", params(PageParams),
    responses((status = 200, body = Page<Hold>), (status = "4XX", body = Error)))]
pub async fn holds(
    State(w): State<St>,
    Auth(c): Auth,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<Hold>>> {
    Ok(Json(w.admin.hold_list(&c, &p.into()).await?))
}

#[derive(serde::Serialize, ToSchema)]
pub struct Released {
    pub released: u64,
}

/// Lifts the holds on an account.
#[utoipa::path(post, path = "/api/v1/holds/{address}/release", tag = "holds",
    params(("address" = String, Path)),
    responses((status = 200, body = Released), (status = "4XX", body = Error)))]
pub async fn hold_release(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<Json<Released>> {
    Ok(Json(Released {
        released: w.admin.hold_release(&c, &a).await?,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvidenceParams {
    #[serde(default, deserialize_with = "super::empty_none")]
    pub account: Option<String>,
    #[serde(default, deserialize_with = "super::empty_none")]
    pub ip: Option<String>,
    #[serde(default, deserialize_with = "super::empty_none")]
    pub rule: Option<String>,
    /// An RFC 3339 time or an age ("2h").
    #[serde(default, deserialize_with = "super::empty_none")]
    pub since: Option<String>,
    #[serde(default, deserialize_with = "super::empty_none")]
    pub until: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    #[serde(default, deserialize_with = "super::empty_none")]
    pub cursor: Option<String>,
}

/// The evidence log, newest first (R-ABUSE-3; operator).
#[utoipa::path(get, path = "/api/v1/evidence", tag = "evidence", params(EvidenceParams),
    responses((status = 200, body = Page<Evidence>), (status = "4XX", body = Error)))]
pub async fn evidence(
    State(w): State<St>,
    Auth(c): Auth,
    Query(q): Query<EvidenceParams>,
) -> ApiResult<Json<Page<Evidence>>> {
    let time = |field: &'static str, v: &Option<String>| {
        v.as_deref()
            .map(|s| parse_time(field, s).map_err(|m| Error::invalid(field, m)))
            .transpose()
    };
    let f = EvidenceFilter {
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        account: q.account,
        ip: q.ip,
        rule: q.rule,
    };
    let p = PageReq {
        cursor: q.cursor,
        limit: q.limit,
        prefix: None,
    };
    Ok(Json(w.admin.evidence_search(&c, &f, &p).await?))
}

/// The full header section of the message behind a decision.
#[utoipa::path(get, path = "/api/v1/evidence/{id}/headers", tag = "evidence",
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/plain", body = String),
               (status = "4XX", body = Error)))]
pub async fn evidence_headers(
    State(w): State<St>,
    Auth(c): Auth,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let h = w.admin.evidence_export(&c, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment"),
        ],
        h,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeBody {
    pub title: String,
    pub body: String,
}

/// The notice board, newest first.
#[utoipa::path(get, path = "/api/v1/notices", tag = "notices", params(PageParams),
    responses((status = 200, body = Page<Notice>), (status = "4XX", body = Error)))]
pub async fn notices(
    State(w): State<St>,
    Auth(c): Auth,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<Notice>>> {
    Ok(Json(w.admin.notice_list(&c, &p.into()).await?))
}

/// Publishes a policy amendment, mailed to every postmaster@ (operator,
/// R-ABUSE-5).
#[utoipa::path(post, path = "/api/v1/notices", tag = "notices", request_body = NoticeBody,
    responses((status = 201, body = Notice), (status = "4XX", body = Error)))]
pub async fn notice_publish(
    State(w): State<St>,
    Auth(c): Auth,
    Body(n): Body<NoticeBody>,
) -> ApiResult<(StatusCode, Json<Notice>)> {
    let n = w.admin.notice_publish(&c, &n.title, &n.body).await?;
    Ok((StatusCode::CREATED, Json(n)))
}

/// Hosting packages (operator).
#[utoipa::path(get, path = "/api/v1/packages", tag = "packages",
    responses((status = 200, body = Vec<Package>), (status = "4XX", body = Error)))]
pub async fn packages(State(w): State<St>, Auth(c): Auth) -> ApiResult<Json<Vec<Package>>> {
    Ok(Json(w.admin.package_list(&c).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageBody {
    /// R-OUT-6 Max Hourly Emails per account.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub hourly_limit: Option<u32>,
    /// R-IN-3 mailbox quota.
    pub quota: Option<SizeIn>,
    /// R-IN-4 forwarding destinations per mailbox.
    #[schema(minimum = 0, maximum = 1000)]
    pub max_forwards: Option<u32>,
}

/// Creates a package or changes the limits given (operator).
#[utoipa::path(put, path = "/api/v1/packages/{name}", tag = "packages",
    params(("name" = String, Path)), request_body = PackageBody,
    responses((status = 200, body = Package), (status = "4XX", body = Error)))]
pub async fn package_set(
    State(w): State<St>,
    Auth(c): Auth,
    Path(name): Path<String>,
    Body(b): Body<PackageBody>,
) -> ApiResult<Json<Package>> {
    let quota = b.quota.as_ref().map(|q| q.bytes("quota")).transpose()?;
    let (p, _over) = w
        .admin
        .package_set(&c, &name, b.hourly_limit, quota, b.max_forwards)
        .await?;
    Ok(Json(p))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    #[serde(default, deserialize_with = "super::empty_none")]
    pub actor: Option<String>,
    #[serde(default, deserialize_with = "super::empty_none")]
    pub object: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    #[serde(default, deserialize_with = "super::empty_none")]
    pub cursor: Option<String>,
}

/// Every admin action, newest first (operator).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<Audit>), (status = "4XX", body = Error)))]
pub async fn audit(
    State(w): State<St>,
    Auth(c): Auth,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<Page<Audit>>> {
    let p = PageReq {
        cursor: q.cursor,
        limit: q.limit,
        prefix: None,
    };
    Ok(Json(
        w.admin
            .audit_list(&c, q.actor.as_deref(), q.object.as_deref(), &p)
            .await?,
    ))
}
