//! The admin API: JSON over HTTP on its own listener (loopback by default).
//! Every endpoint is documented in `docs/admin-api.md`.

use crate::auth::{Actor, Teams};
use crate::gateway;
use crate::platform::{ApiError, Platform, UploadOptions};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use wharf_spec::{DeploymentSpec, Name};

/// Shared state of the admin handlers.
pub(crate) struct AdminState {
    pub(crate) platform: Arc<Platform>,
    pub(crate) teams: Arc<Teams>,
    /// Flips on shutdown; ends `--follow` streams so shutdown never waits
    /// on a follower.
    pub(crate) shutdown: tokio::sync::watch::Receiver<bool>,
}

type AppState = Arc<AdminState>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(json!({ "error": self }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

/// An authenticated team, extracted from `Authorization: Bearer`.
struct Authed(Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        state
            .teams
            .authenticate(header, peer)
            .map(Authed)
            .map_err(|e| ApiError::new(401, "unauthorized", e.to_string()))
    }
}

fn name(raw: &str) -> Result<Name, ApiError> {
    Name::new(raw).map_err(|e| ApiError::new(400, "invalid_name", e.to_string()))
}

/// The admin router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/whoami", get(whoami))
        .route("/v1/deployments", get(list))
        .route(
            "/v1/deployments/{name}",
            get(show).put(put_spec).delete(remove),
        )
        .route(
            "/v1/deployments/{name}/versions",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/deployments/{name}/activate", post(activate))
        .route("/v1/deployments/{name}/rollback", post(rollback))
        .route("/v1/deployments/{name}/traffic", post(traffic))
        .route("/v1/deployments/{name}/promote", post(promote))
        .route("/v1/deployments/{name}/abort", post(abort))
        .route("/v1/deployments/{name}/logs", get(logs))
        .route("/v1/deployments/{name}/wit", get(wit))
        .route("/v1/deployments/{name}/rpc", get(describe))
        .route("/v1/deployments/{name}/rpc/{*call}", post(rpc))
        .fallback(|| async {
            ApiError::new(
                404,
                "not_found",
                "no such admin endpoint; see docs/admin-api.md",
            )
        })
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&state.platform),
    )
}

async fn whoami(Authed(actor): Authed) -> axum::Json<Value> {
    axum::Json(json!({ "team": actor.team, "dev": actor.dev }))
}

async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(
        json!({ "deployments": state.platform.list(&actor)? }),
    ))
}

async fn show(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let view = state.platform.view(&actor, &raw)?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

async fn put_spec(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let name = name(&raw)?;
    let spec: DeploymentSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(400, "invalid_spec", format!("the spec is not valid: {e}")))?;
    let view = state.platform.update_spec(&actor, &name, spec).await?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

async fn remove(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.platform.remove(&actor, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    #[serde(default)]
    activate: Option<bool>,
    #[serde(default)]
    canary: Option<u32>,
    #[serde(default)]
    sha256: Option<String>,
}

/// The header carrying a JSON [`DeploymentSpec`] with an upload.
pub const SPEC_HEADER: &str = "wharf-spec";

async fn upload(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let name = name(&raw)?;
    let spec = match headers.get(SPEC_HEADER) {
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                ApiError::new(
                    400,
                    "invalid_spec",
                    "the wharf-spec header must be ASCII JSON",
                )
            })?;
            Some(serde_json::from_str::<DeploymentSpec>(text).map_err(|e| {
                ApiError::new(
                    400,
                    "invalid_spec",
                    format!("the wharf-spec header is not a valid spec: {e}"),
                )
            })?)
        }
        None => None,
    };
    let max = state.platform.settings.max_upload;
    let too_large = || {
        ApiError::new(
            413,
            "too_large",
            format!(
                "the component is over {max} bytes; this server accepts at most {max} bytes (`wharf serve --max-upload`)"
            ),
        )
    };
    if let Some(length) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > max
    {
        return Err(too_large());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            too_large()
        } else {
            ApiError::new(
                400,
                "upload_failed",
                format!("the upload was cut short: {e}"),
            )
        }
    })?;
    let outcome = state
        .platform
        .upload(
            &actor,
            &name,
            bytes.to_bytes(),
            UploadOptions {
                sha256: query.sha256,
                activate: query.activate.unwrap_or(true),
                canary: query.canary,
                spec,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::to_value(outcome).unwrap_or(Value::Null)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    version: String,
}

async fn activate(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let body: ActivateBody = parse(&body)?;
    let view = state.platform.activate(&actor, &raw, &body.version).await?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    #[serde(default)]
    to: Option<String>,
}

async fn rollback(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let body: RollbackBody = if body.is_empty() {
        RollbackBody::default()
    } else {
        parse(&body)?
    };
    let view = state
        .platform
        .rollback(&actor, &raw, body.to.as_deref())
        .await?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficBody {
    split: Vec<TrafficItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficItem {
    version: String,
    weight: u32,
}

async fn traffic(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let body: TrafficBody = parse(&body)?;
    let split = body
        .split
        .into_iter()
        .map(|t| (t.version, t.weight))
        .collect();
    let view = state
        .platform
        .set_traffic(&actor, &raw, split, "traffic")
        .await?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

async fn promote(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let view = state.platform.promote(&actor, &raw).await?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

async fn abort(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let view = state.platform.abort(&actor, &raw).await?;
    Ok(axum::Json(
        serde_json::to_value(view).unwrap_or(Value::Null),
    ))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "invalid_request",
            format!("the request body is not valid: {e}"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    follow: bool,
}

/// Log lines as NDJSON; with `follow=true` the response stays open and new
/// lines are sent as they are written.
async fn logs(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let buffer = state.platform.logs_for(&actor, &raw)?;
    // Subscribe before reading the backlog so no line falls in between.
    let receiver = buffer.subscribe();
    let backlog = buffer.since(query.after, query.limit.unwrap_or(1000).min(100_000));
    let last = backlog.last().map(|l| l.seq).unwrap_or(query.after);
    let line = |l: &wharf_capabilities::logging::LogLine| {
        let mut bytes = serde_json::to_vec(l).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(bytes))
    };
    let head = futures::stream::iter(backlog.iter().map(line).collect::<Vec<_>>());
    let body = if query.follow {
        let tail = futures::stream::unfold((receiver, last), move |(mut rx, last)| async move {
            loop {
                match rx.recv().await {
                    Ok(l) if l.seq > last => {
                        let seq = l.seq;
                        let mut bytes = serde_json::to_vec(&l).unwrap_or_default();
                        bytes.push(b'\n');
                        return Some((
                            Ok::<_, std::convert::Infallible>(Bytes::from(bytes)),
                            (rx, seq),
                        ));
                    }
                    Ok(_) => continue,
                    // A slow follower misses lines rather than holding memory.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let mut shutdown = state.shutdown.clone();
        let stop = async move {
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        };
        Body::from_stream(head.chain(tail).take_until(Box::pin(stop)))
    } else {
        Body::from_stream(head)
    };
    Ok(([(http::header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

async fn wit(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    state.platform.view(&actor, &raw)?;
    let live = state
        .platform
        .live()
        .get(&raw)
        .ok_or_else(|| ApiError::not_serving(404, "not_serving", &raw))?;
    let primary = live
        .primary()
        .cloned()
        .ok_or_else(|| ApiError::not_serving(404, "not_serving", &raw))?;
    let text = state.platform.exported_wit(&primary).await?;
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}

async fn describe(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(raw): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    state.platform.view(&actor, &raw)?;
    let live = state
        .platform
        .live()
        .get(&raw)
        .ok_or_else(|| ApiError::not_serving(404, "not_serving", &raw))?;
    Ok(axum::Json(gateway::describe(&state.platform, &live).await?))
}

async fn rpc(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((raw, call)): Path<(String, String)>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    state.platform.view(&actor, &raw)?;
    let live = state
        .platform
        .live()
        .get(&raw)
        .ok_or_else(|| ApiError::not_serving(404, "not_serving", &raw))?;
    Ok(axum::Json(gateway::call(&live, &call, &body).await?))
}
