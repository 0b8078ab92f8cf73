//! Who is calling, admin logins and API tokens.

use super::{ApiResult, Auth, Body, Path, St};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mailhost_admin::views::{AdminLogin, AppPassword, NewAppPassword, NewToken, Token};
use mailhost_admin::{Error, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub login: String,
    /// `operator`, `domain` or `user`.
    pub role: String,
    /// The domains a domain admin manages.
    pub domains: Vec<String>,
}

/// The caller's login and role.
#[utoipa::path(get, path = "/api/v1/me", tag = "logins",
    responses((status = 200, body = Me), (status = "4XX", body = Error)))]
pub async fn me(Auth(c): Auth) -> Json<Me> {
    let (role, domains) = match c.role {
        Role::Operator => ("operator", vec![]),
        Role::DomainAdmin(ds) => ("domain", ds),
        Role::User(_) => ("user", vec![]),
    };
    Json(Me {
        login: c.login,
        role: role.into(),
        domains,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// Letters, digits, '.', '_', '-'.
    pub login: String,
    #[serde(default)]
    pub operator: bool,
    /// For a domain admin: the domains it manages.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Without one, a one-time password is returned.
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewAdminOut {
    #[serde(flatten)]
    pub login: AdminLogin,
    /// The one-time password, shown once.
    pub one_time_password: Option<String>,
}

/// Admin logins (operator).
#[utoipa::path(get, path = "/api/v1/admins", tag = "logins",
    responses((status = 200, body = Vec<AdminLogin>), (status = "4XX", body = Error)))]
pub async fn admins(State(w): State<St>, Auth(c): Auth) -> ApiResult<Json<Vec<AdminLogin>>> {
    Ok(Json(w.admin.admin_list(&c).await?))
}

#[utoipa::path(post, path = "/api/v1/admins", tag = "logins", request_body = NewAdmin,
    responses((status = 201, body = NewAdminOut), (status = "4XX", body = Error)))]
pub async fn admin_add(
    State(w): State<St>,
    Auth(c): Auth,
    Body(n): Body<NewAdmin>,
) -> ApiResult<(StatusCode, Json<NewAdminOut>)> {
    let (login, one_time_password) = w
        .admin
        .admin_add(&c, &n.login, n.operator, &n.domains, n.password.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewAdminOut {
            login,
            one_time_password,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/admins/{login}", tag = "logins",
    params(("login" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn admin_remove(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
) -> ApiResult<StatusCode> {
    w.admin.admin_remove(&c, &l).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Whose token (the operator may name any login); default: the
    /// caller's own.
    pub login: Option<String>,
    pub name: Option<String>,
    /// Lifetime such as "90d"; none: until revoked.
    pub expires: Option<String>,
}

/// The caller's tokens (the operator: everyone's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "logins",
    responses((status = 200, body = Vec<Token>), (status = "4XX", body = Error)))]
pub async fn tokens(State(w): State<St>, Auth(c): Auth) -> ApiResult<Json<Vec<Token>>> {
    Ok(Json(w.admin.token_list(&c, None).await?))
}

/// Makes a token; its secret is in the answer, this once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "logins", request_body = NewTokenBody,
    responses((status = 201, body = NewToken), (status = "4XX", body = Error)))]
pub async fn token_create(
    State(w): State<St>,
    Auth(c): Auth,
    Body(t): Body<NewTokenBody>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let ttl = t
        .expires
        .as_deref()
        .map(|d| {
            mailhost_config::Duration::parse(d)
                .map(|d| d.std().as_millis().min(i64::MAX as u128) as i64)
                .map_err(|m| Error::invalid("expires", m))
        })
        .transpose()?;
    let login = t.login.unwrap_or_else(|| c.login.clone());
    let n = w
        .admin
        .token_create(&c, &login, t.name.as_deref(), ttl)
        .await?;
    Ok((StatusCode::CREATED, Json(n)))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "logins",
    params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn token_revoke(
    State(w): State<St>,
    Auth(c): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    w.admin.token_revoke(&c, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppPasswordBody {
    /// What it is for, e.g. "phone".
    pub name: String,
    /// Of `pop3`, `smtp`, `imap`.
    pub protocols: Vec<String>,
}

/// A mailbox's app passwords (at most 50), for mail clients when the
/// mailbox signs in with two steps.
#[utoipa::path(get, path = "/api/v1/users/{address}/app-passwords", tag = "logins",
    params(("address" = String, Path)),
    responses((status = 200, body = Vec<AppPassword>), (status = "4XX", body = Error)))]
pub async fn app_passwords(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<Json<Vec<AppPassword>>> {
    Ok(Json(w.admin.app_password_list(&c, &a).await?))
}

/// Makes an app password; its secret is in the answer, this once.
#[utoipa::path(post, path = "/api/v1/users/{address}/app-passwords", tag = "logins",
    params(("address" = String, Path)), request_body = NewAppPasswordBody,
    responses((status = 201, body = NewAppPassword), (status = "4XX", body = Error)))]
pub async fn app_password_create(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
    Body(b): Body<NewAppPasswordBody>,
) -> ApiResult<(StatusCode, Json<NewAppPassword>)> {
    let n = w
        .admin
        .app_password_create(&c, &a, &b.name, &b.protocols)
        .await?;
    Ok((StatusCode::CREATED, Json(n)))
}

#[utoipa::path(delete, path = "/api/v1/users/{address}/app-passwords/{id}", tag = "logins",
    params(("address" = String, Path), ("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn app_password_revoke(
    State(w): State<St>,
    Auth(c): Auth,
    Path((a, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    w.admin.app_password_revoke(&c, &a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns off a mailbox's two-step sign-in (lost phone and recovery
/// codes): its domain's admin or the operator.
#[utoipa::path(delete, path = "/api/v1/users/{address}/totp", tag = "logins",
    params(("address" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn user_totp_reset(
    State(w): State<St>,
    Auth(c): Auth,
    Path(a): Path<String>,
) -> ApiResult<StatusCode> {
    if !a.contains(['@', '%']) {
        return Err(Error::invalid("address", "give a mail address (name@domain)").into());
    }
    w.admin.totp_reset(&c, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns off an admin login's two-step sign-in (operator).
#[utoipa::path(delete, path = "/api/v1/admins/{login}/totp", tag = "logins",
    params(("login" = String, Path)),
    responses((status = 204), (status = "4XX", body = Error)))]
pub async fn admin_totp_reset(
    State(w): State<St>,
    Auth(c): Auth,
    Path(l): Path<String>,
) -> ApiResult<StatusCode> {
    if l.contains(['@', '%']) {
        return Err(Error::invalid("login", "an admin login has no '@' or '%'").into());
    }
    w.admin.totp_reset(&c, &l).await?;
    Ok(StatusCode::NO_CONTENT)
}
