//! `/api/v1/domains…`: domains, their DNS records and billing.

use super::{ApiResult, Auth, Body, PageParams, Path, Query, St};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mailhost_admin::views::{Billing, DnsCheck, DnsRecord, Domain, Page};
use mailhost_admin::Error;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    pub domain: String,
    /// The technical contact, where postmaster@ mail goes.
    pub contact: String,
    pub package: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainPatch {
    pub contact: Option<String>,
    pub package: Option<String>,
}

/// Domains the caller manages (the operator: all).
#[utoipa::path(get, path = "/api/v1/domains", tag = "domains", params(PageParams),
    responses((status = 200, body = Page<Domain>), (status = "4XX", body = Error)))]
pub async fn list(
    State(w): State<St>,
    Auth(c): Auth,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<Domain>>> {
    Ok(Json(w.admin.domain_list(&c, &p.into()).await?))
}

/// Adds a domain with its DKIM key, postmaster@ and all@ (operator).
#[utoipa::path(post, path = "/api/v1/domains", tag = "domains", request_body = NewDomain,
    responses((status = 201, body = Domain), (status = "4XX", body = Error)))]
pub async fn add(
    State(w): State<St>,
    Auth(c): Auth,
    Body(d): Body<NewDomain>,
) -> ApiResult<(StatusCode, Json<Domain>)> {
    let d = w
        .admin
        .domain_add(&c, &d.domain, &d.contact, d.package.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[utoipa::path(get, path = "/api/v1/domains/{domain}", tag = "domains",
    params(("domain" = String, Path)),
    responses((status = 200, body = Domain), (status = "4XX", body = Error)))]
pub async fn show(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
) -> ApiResult<Json<Domain>> {
    Ok(Json(w.admin.domain_get(&c, &d).await?))
}

/// Changes the contact or package (operator).
#[utoipa::path(patch, path = "/api/v1/domains/{domain}", tag = "domains",
    params(("domain" = String, Path)), request_body = DomainPatch,
    responses((status = 200, body = Domain), (status = "4XX", body = Error)))]
pub async fn update(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Body(p): Body<DomainPatch>,
) -> ApiResult<Json<Domain>> {
    Ok(Json(
        w.admin
            .domain_set(&c, &d, p.contact.as_deref(), p.package.as_deref())
            .await?,
    ))
}

/// Removes an empty domain (operator).
#[utoipa::path(delete, path = "/api/v1/domains/{domain}", tag = "domains",
    params(("domain" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn remove(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.domain_remove(&c, &d).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The records to publish: MX, SPF, DKIM, DMARC.
#[utoipa::path(get, path = "/api/v1/domains/{domain}/dns", tag = "domains",
    params(("domain" = String, Path)),
    responses((status = 200, body = Vec<DnsRecord>), (status = "4XX", body = Error)))]
pub async fn dns(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
) -> ApiResult<Json<Vec<DnsRecord>>> {
    Ok(Json(w.admin.domain_dns(&c, &d).await?))
}

/// What DNS says now of each record to publish (asked at once, within
/// 3 s): `ok`, `different`, `missing` or `unknown`.
#[utoipa::path(get, path = "/api/v1/domains/{domain}/dns/check", tag = "domains",
    params(("domain" = String, Path)),
    responses((status = 200, body = Vec<DnsCheck>), (status = "4XX", body = Error)))]
pub async fn dns_check(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
) -> ApiResult<Json<Vec<DnsCheck>>> {
    Ok(Json(w.admin.domain_dns_check(&c, &d).await?))
}

/// Billable addresses of a domain (R-ADDR-8).
#[utoipa::path(get, path = "/api/v1/domains/{domain}/billing", tag = "domains",
    params(("domain" = String, Path)),
    responses((status = 200, body = Billing), (status = "4XX", body = Error)))]
pub async fn billing_one(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
) -> ApiResult<Json<Billing>> {
    let rows = w.admin.billing(&c, Some(&d)).await?;
    rows.into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| Error::not_found(format!("no such domain: {d}")).into())
}
