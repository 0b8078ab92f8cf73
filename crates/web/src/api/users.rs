//! `/api/v1/users…` and aliases: mailboxes, passwords, forwarding, the
//! autoresponder, quota usage.

use super::{ApiResult, Auth, Body, PageParams, Path, Query, St};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mailhost_admin::time::parse_date;
use mailhost_admin::views::{Alias, Autoreply, Forwarding, Page, Quota, User};
use mailhost_admin::{AutoreplyReq, Error, NewUser, UserPatch};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

/// A size: bytes, or text such as "50MB" or "512KB".
#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(untagged)]
pub enum SizeIn {
    Bytes(u64),
    Text(String),
}

impl SizeIn {
    pub fn bytes(&self, field: &'static str) -> Result<u64, Error> {
        match self {
            SizeIn::Bytes(b) => Ok(*b),
            SizeIn::Text(t) => mailhost_config::Size::parse(t)
                .map(|s| s.0)
                .map_err(|m| Error::invalid(field, m)),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// `local@domain` (or `local%domain`).
    pub address: String,
    pub password: String,
    /// Only the operator sets a mailbox's own quota or package.
    pub quota: Option<SizeIn>,
    pub package: Option<String>,
}

/// Absent: unchanged; `null`: back to the default; a value: set.
fn some_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    /// Suspend (true) or resume (false), R-ADDR-3.
    pub suspended: Option<bool>,
    /// The mailbox's own quota; null: its package's or the server's.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<SizeIn>)]
    pub quota: Option<Option<SizeIn>>,
    /// null: its domain's package.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<String>)]
    pub package: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
    /// Required when users change their own.
    pub current: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardBody {
    pub destinations: Vec<String>,
    #[serde(default)]
    pub keep_copy: bool,
    /// More destinations than the package allows (operator only).
    #[serde(default)]
    pub force: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoreplyBody {
    /// None: "Re: " and the original's subject.
    pub subject: Option<String>,
    pub body: String,
    /// A date (2026-12-24, from its start, UTC) or an RFC 3339 time.
    pub from: Option<String>,
    /// A date (through its end, UTC) or an RFC 3339 time.
    pub until: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlias {
    pub alias: String,
    pub targets: Vec<String>,
}

/// A domain's addresses: mailboxes, aliases, postmaster@ and all@.
#[utoipa::path(get, path = "/api/v1/domains/{domain}/users", tag = "users",
    params(("domain" = String, Path), PageParams),
    responses((status = 200, body = Page<User>), (status = "4XX", body = Error)))]
pub async fn list(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<User>>> {
    Ok(Json(w.admin.user_list(&c, &d, &p.into()).await?))
}

/// Adds a mailbox to the domain (the address must be of it).
#[utoipa::path(post, path = "/api/v1/domains/{domain}/users", tag = "users",
    params(("domain" = String, Path)), request_body = NewUserBody,
    responses((status = 201, body = User), (status = "4XX", body = Error)))]
pub async fn add(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Body(u): Body<NewUserBody>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let of_domain = u
        .address
        .rsplit_once(['@', '%'])
        .is_some_and(|(_, ad)| ad.eq_ignore_ascii_case(d.trim_end_matches('.')));
    if !of_domain {
        return Err(Error::invalid("address", format!("the address must be of {d}")).into());
    }
    let quota = u.quota.as_ref().map(|q| q.bytes("quota")).transpose()?;
    let u = w
        .admin
        .user_add(
            &c,
            NewUser {
                address: u.address,
                password: u.password,
                quota,
                package: u.package,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(u)))
}

/// One address, with `quota_used` and `quota`.
#[utoipa::path(get, path = "/api/v1/users/{address}", tag = "users",
    params(("address" = String, Path)),
    responses((status = 200, body = User), (status = "4XX", body = Error)))]
pub async fn show(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(w.admin.user_get(&c, &a).await?))
}

/// Suspends or resumes; sets the quota or package (operator).
#[utoipa::path(patch, path = "/api/v1/users/{address}", tag = "users",
    params(("address" = String, Path)), request_body = UserPatchBody,
    responses((status = 200, body = User), (status = "4XX", body = Error)))]
pub async fn update(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
    Body(p): Body<UserPatchBody>,
) -> ApiResult<Json<User>> {
    let quota = match p.quota {
        None => None,
        Some(None) => Some(None),
        Some(Some(q)) => Some(Some(q.bytes("quota")?)),
    };
    let patch = UserPatch {
        suspended: p.suspended,
        quota,
        package: p.package,
    };
    Ok(Json(w.admin.user_update(&c, &a, patch).await?))
}

/// Deletes a mailbox with its mail; the address is quarantined (R-ADDR-7).
#[utoipa::path(delete, path = "/api/v1/users/{address}", tag = "users",
    params(("address" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn remove(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.user_delete(&c, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/users/{address}/password", tag = "users",
    params(("address" = String, Path)), request_body = PasswordBody,
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn password(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
    Body(p): Body<PasswordBody>,
) -> ApiResult<StatusCode> {
    w.admin
        .user_passwd(&c, &a, &p.password, p.current.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Usage and quota (R-IN-3).
#[utoipa::path(get, path = "/api/v1/users/{address}/quota", tag = "users",
    params(("address" = String, Path)),
    responses((status = 200, body = Quota), (status = "4XX", body = Error)))]
pub async fn quota(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<Json<Quota>> {
    Ok(Json(w.admin.user_quota(&c, &a).await?))
}

/// Forwarding (R-IN-4); no forwarding: destinations empty.
#[utoipa::path(get, path = "/api/v1/users/{address}/forward", tag = "users",
    params(("address" = String, Path)),
    responses((status = 200, body = Forwarding), (status = "4XX", body = Error)))]
pub async fn forward_show(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<Json<Forwarding>> {
    Ok(Json(w.admin.forward_get(&c, &a).await?.unwrap_or(
        Forwarding {
            destinations: vec![],
            keep_copy: false,
            warning: None,
        },
    )))
}

#[utoipa::path(put, path = "/api/v1/users/{address}/forward", tag = "users",
    params(("address" = String, Path)), request_body = ForwardBody,
    responses((status = 200, body = Forwarding), (status = "4XX", body = Error)))]
pub async fn forward_set(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
    Body(f): Body<ForwardBody>,
) -> ApiResult<Json<Forwarding>> {
    Ok(Json(
        w.admin
            .forward_set(&c, &a, &f.destinations, f.keep_copy, f.force)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/users/{address}/forward", tag = "users",
    params(("address" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn forward_clear(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.forward_clear(&c, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The autoresponder (R-IN-5); none: 404.
#[utoipa::path(get, path = "/api/v1/users/{address}/autoreply", tag = "users",
    params(("address" = String, Path)),
    responses((status = 200, body = Autoreply), (status = "4XX", body = Error)))]
pub async fn autoreply_show(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<Json<Autoreply>> {
    w.admin
        .autoreply_get(&c, &a)
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found(format!("no autoreply for {a}")).into())
}

#[utoipa::path(put, path = "/api/v1/users/{address}/autoreply", tag = "users",
    params(("address" = String, Path)), request_body = AutoreplyBody,
    responses((status = 200, body = Autoreply), (status = "4XX", body = Error)))]
pub async fn autoreply_set(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
    Body(b): Body<AutoreplyBody>,
) -> ApiResult<Json<Autoreply>> {
    let time = |field: &'static str, v: &Option<String>, end: bool| {
        v.as_deref()
            .map(|s| parse_date(field, s, end).map_err(|m| Error::invalid(field, m)))
            .transpose()
    };
    let req = AutoreplyReq {
        from: time("from", &b.from, false)?,
        until: time("until", &b.until, true)?,
        subject: b.subject,
        body: b.body,
    };
    Ok(Json(w.admin.autoreply_set(&c, &a, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/users/{address}/autoreply", tag = "users",
    params(("address" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn autoreply_clear(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.autoreply_clear(&c, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The domain's aliases (R-ADDR-2).
#[utoipa::path(get, path = "/api/v1/domains/{domain}/aliases", tag = "aliases",
    params(("domain" = String, Path), PageParams),
    responses((status = 200, body = Page<Alias>), (status = "4XX", body = Error)))]
pub async fn alias_list(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<Alias>>> {
    Ok(Json(w.admin.alias_list(&c, &d, &p.into()).await?))
}

#[utoipa::path(post, path = "/api/v1/domains/{domain}/aliases", tag = "aliases",
    params(("domain" = String, Path)), request_body = NewAlias,
    responses((status = 201, body = Alias), (status = "4XX", body = Error)))]
pub async fn alias_add(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Body(n): Body<NewAlias>,
) -> ApiResult<(StatusCode, Json<Alias>)> {
    let of_domain = n
        .alias
        .rsplit_once('@')
        .is_some_and(|(_, ad)| ad.eq_ignore_ascii_case(d.trim_end_matches('.')));
    if !of_domain {
        return Err(Error::invalid("alias", format!("the alias must be of {d}")).into());
    }
    let a = w.admin.alias_add(&c, &n.alias, &n.targets).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

#[utoipa::path(delete, path = "/api/v1/aliases/{alias}", tag = "aliases",
    params(("alias" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn alias_remove(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.alias_remove(&c, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// `address,password[,quota]` per line (RFC 4180; header optional).
    pub csv: String,
    /// Only say what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// Imports mailboxes from CSV, or with `dry_run` shows what would change.
#[utoipa::path(post, path = "/api/v1/domains/{domain}/import", tag = "users",
    params(("domain" = String, Path)), request_body = ImportBody,
    responses((status = 200, body = Vec<mailhost_admin::ImportRow>), (status = "4XX", body = Error)))]
pub async fn import(
    State(w): State<St>,
    Auth(c): Auth,
    Path(d): Path<String>,
    Body(b): Body<ImportBody>,
) -> ApiResult<Json<Vec<mailhost_admin::ImportRow>>> {
    Ok(Json(w.admin.import_users(&c, &d, &b.csv, b.dry_run).await?))
}
