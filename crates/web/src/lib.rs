//! The HTTP side of `serve` (`listen.http`, `listen.https`): the JSON API
//! under `/api/v1` with its OpenAPI 3.1 document at `/api/openapi.json`
//! (R-WEB-4), and `/healthz` for load balancers. Every handler calls the
//! service layer (`mailhost-admin`); nothing here decides policy.
//!
//! Each connection is served by hyper (HTTP/1.1) on the stream the
//! shared listener accepted, so the connection caps and the TLS
//! handshake are those of the mail protocols.

pub mod api;
mod headers;
pub mod pages;
mod qr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use mailhost_admin::Admin;
use mailhost_net::Conn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What every request handler shares.
#[derive(Clone)]
pub struct Web {
    pub admin: Admin,
}

/// The peer of the connection a request came on (for the audit log and
/// the brute-force limits).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 256 << 10;

/// The whole application: API, OpenAPI document, health check.
pub fn app(web: Arc<Web>) -> Router {
    let (api, doc) = api::router().split_for_parts();
    let doc = Arc::new(
        doc.to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
    );
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/healthz", get(healthz))
        .merge(pages::router())
        .fallback(pages::not_found)
        .method_not_allowed_fallback(pages::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(headers::secure))
        .with_state(web)
}

/// 200 when the store answers.
async fn healthz(State(web): State<Arc<Web>>) -> impl IntoResponse {
    match web.admin.store().query("SELECT 1", vec![]).await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!("health check: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
        }
    }
}

/// Serves one accepted connection until it closes, idles out, or the
/// server shuts down (then in-flight requests finish).
pub async fn connection(conn: Conn, app: Router, shutdown: CancellationToken) {
    let peer = conn.peer;
    let io = hyper_util::rt::TokioIo::new(conn.into_stream());
    let svc = hyper_util::service::TowerToHyperService::new(app.layer(Extension(Peer(peer))));
    let http = hyper::server::conn::http1::Builder::new()
        // A slow client gets this long to send its request headers.
        .header_read_timeout(Duration::from_secs(30))
        .timer(hyper_util::rt::TokioTimer::new())
        .max_buf_size(64 << 10)
        .serve_connection(io, svc);
    tokio::pin!(http);
    tokio::select! {
        r = http.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, "http: {e}");
            }
        }
        _ = shutdown.cancelled() => {
            http.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(10), http).await;
        }
    }
}
