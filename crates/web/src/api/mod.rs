//! The JSON API (R-WEB-4, SPEC "HTTP API"): bearer tokens only (no
//! cookies, so no CSRF surface), errors as `{"code","message","field"}`,
//! lists as `{"items","next"}` with `limit` ≤ 200 and a cursor. Every
//! input the client controls — body, query, path — is read by the
//! extractors here, so that a malformed one is a 4xx in that shape,
//! never a 500 or axum's plain-text rejection.

mod domains;
mod lists;
mod operator;
mod people;
mod users;

use crate::{Peer, Web};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use mailhost_admin::{Caller, Error, Kind, PageReq};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub type St = Arc<Web>;

/// An operation's error as an HTTP response.
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub fn status(k: Kind) -> StatusCode {
    match k {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let st = status(self.0.kind);
        let mut r = (st, axum::Json(&self.0)).into_response();
        if st == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"mailhost\""),
            );
        }
        r
    }
}

/// An error with a status of its own (413, 415, 405).
fn shaped(st: StatusCode, code: &'static str, message: String) -> Response {
    let mut e = Error::bad_input(message);
    e.code = code;
    (st, axum::Json(e)).into_response()
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The caller behind `Authorization: Bearer TOKEN`.
pub struct Auth(pub Caller);

fn peer_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<Peer>()
        .map_or_else(|| "unknown".into(), |p| p.0.ip().to_string())
}

impl FromRequestParts<St> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &St) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string());
        let Some(token) = token else {
            return Err(ApiError(Error::unauthorized(
                "sign in: send an API token as Authorization: Bearer TOKEN",
            )));
        };
        let ip = peer_ip(parts);
        Ok(Auth(web.admin.authenticate_token(&token, &ip).await?))
    }
}

/// The request body, at most [`crate::MAX_BODY`] bytes. A larger one is
/// read on and dropped (up to four times the limit, for a few seconds)
/// before the 413 goes out: a client still sending would otherwise see
/// the connection closed under it instead of the answer (the "lingering
/// close" of RFC 9112 §9.6).
async fn read_body(req: Request) -> Result<axum::body::Bytes, Response> {
    use futures_util::StreamExt;
    let too_large = |what: String| shaped(StatusCode::PAYLOAD_TOO_LARGE, "too_large", what);
    let mut stream = req.into_body().into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Ok(Some(Ok(chunk))) => {
                seen += chunk.len();
                if seen <= crate::MAX_BODY {
                    buf.extend_from_slice(&chunk);
                } else if seen > 4 * crate::MAX_BODY {
                    break;
                }
            }
            Ok(Some(Err(e))) => return Err(too_large(format!("the body could not be read: {e}"))),
            Ok(None) | Err(_) => break,
        }
    }
    if seen > crate::MAX_BODY {
        return Err(too_large(format!(
            "the body is too large: at most {} KB",
            crate::MAX_BODY >> 10
        )));
    }
    Ok(buf.into())
}

/// A JSON body; unknown fields, wrong types, bad JSON, a wrong content
/// type and oversize bodies are refused in the error shape.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<St> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, web: &St) -> Result<Self, Response> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(shaped(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let _ = web;
        let bytes = read_body(req).await?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            let msg = e.to_string();
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.contains("field"))
                .map(str::to_string);
            let mut err = Error::bad_input(format!("the request body is not valid: {msg}"));
            err.field = field;
            ApiError(err).into_response()
        })
    }
}

/// Query parameters, refused in the error shape when malformed.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<St> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_from(q).map(Query)
    }
}

fn serde_urlencoded_from<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| ApiError(Error::bad_input("the query string is not valid")))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| {
        ApiError(Error::bad_input(format!(
            "the query is not valid: {}",
            e.body_text()
        )))
    })
}

/// Path parameters, refused in the error shape when malformed.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<St> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &St) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, web)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| {
                ApiError(Error::bad_input(format!(
                    "the path is not valid: {}",
                    e.body_text()
                )))
            })
    }
}

/// A text parameter: `?since=` (what an empty form field sends) is absent.
pub fn empty_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// `?limit=&cursor=&prefix=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    #[serde(default, deserialize_with = "empty_none")]
    pub cursor: Option<String>,
    /// Only names starting with this.
    #[serde(default, deserialize_with = "empty_none")]
    pub prefix: Option<String>,
}

impl From<PageParams> for PageReq {
    fn from(p: PageParams) -> Self {
        PageReq {
            cursor: p.cursor,
            limit: p.limit,
            prefix: p.prefix,
        }
    }
}

pub async fn not_found() -> Response {
    ApiError(Error::not_found("no such page")).into_response()
}

pub async fn method_not_allowed() -> Response {
    shaped(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here".into(),
    )
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mailhost",
        description = "Domains, mailboxes, aliases, forwarding, autoresponder, mailing lists, packages, holds, billing, evidence, notices and logins of a mailhost server. Every route needs `Authorization: Bearer TOKEN`; each token acts with its login's role and scope.",
        license(name = "AGPL-3.0-only")
    ),
    security(("bearer" = [])),
    modifiers(&Bearer),
    components(schemas(Error))
)]
struct ApiDoc;

/// Every API route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<St> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(people::me))
        .routes(routes!(domains::list, domains::add))
        .routes(routes!(domains::show, domains::update, domains::remove))
        .routes(routes!(domains::dns))
        .routes(routes!(domains::dns_check))
        .routes(routes!(domains::billing_one))
        .routes(routes!(users::list, users::add))
        .routes(routes!(users::import))
        .routes(routes!(users::show, users::update, users::remove))
        .routes(routes!(users::password))
        .routes(routes!(users::quota))
        .routes(routes!(
            users::forward_show,
            users::forward_set,
            users::forward_clear
        ))
        .routes(routes!(
            users::autoreply_show,
            users::autoreply_set,
            users::autoreply_clear
        ))
        .routes(routes!(users::alias_list, users::alias_add))
        .routes(routes!(users::alias_remove))
        .routes(routes!(lists::list, lists::add))
        .routes(routes!(lists::owned))
        .routes(routes!(lists::show, lists::update, lists::remove))
        .routes(routes!(lists::members, lists::invite))
        .routes(routes!(lists::member_remove))
        .routes(routes!(lists::consent))
        .routes(routes!(lists::held))
        .routes(routes!(lists::approve))
        .routes(routes!(lists::reject))
        .routes(routes!(operator::holds))
        .routes(routes!(operator::hold_release))
        .routes(routes!(operator::evidence))
        .routes(routes!(operator::evidence_headers))
        .routes(routes!(operator::notices, operator::notice_publish))
        .routes(routes!(operator::packages))
        .routes(routes!(operator::package_set))
        .routes(routes!(operator::audit))
        .routes(routes!(people::admins, people::admin_add))
        .routes(routes!(people::admin_remove))
        .routes(routes!(people::tokens, people::token_create))
        .routes(routes!(people::token_revoke))
        .routes(routes!(people::app_passwords, people::app_password_create))
        .routes(routes!(people::app_password_revoke))
        .routes(routes!(people::user_totp_reset))
        .routes(routes!(people::admin_totp_reset))
}
