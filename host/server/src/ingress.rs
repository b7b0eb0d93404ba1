//! The ingress: HTTP/1.1 and HTTP/2 for the components.
//!
//! Per request: route by path prefix (lock-free table lookup), pick a version
//! by weight, strip the prefix (it travels in `x-forwarded-prefix`), and run
//! the request in a fresh instance. `/rpc/...` is the JSON gateway.

use crate::gateway;
use crate::platform::Platform;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use wharf_runtime::Failure;

/// The body type of every ingress response.
pub type Body = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// The header carrying the stripped route prefix.
pub const FORWARDED_PREFIX: &str = "x-forwarded-prefix";

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A plain-text response.
pub fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut message = message.into();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let mut response = Response::new(full(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The response for a failed request: the failure's status, a `Retry-After`
/// when retrying makes sense, and a one-line reason naming the deployment.
pub fn failure_response(name: &str, failure: &Failure) -> Response<Body> {
    let status =
        StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = text(status, format!("{name}: {failure}"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

pub(crate) struct Ingress {
    pub(crate) platform: Arc<Platform>,
    pub(crate) teams: Arc<crate::auth::Teams>,
}

impl Ingress {
    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let path = request.uri().path();
        if path == "/rpc" || path.starts_with("/rpc/") {
            return gateway::handle_ingress(self, request, peer).await;
        }
        if path == "/_wharf/health" {
            return text(StatusCode::OK, "ok");
        }
        let Some((deployment, prefix)) = self.platform.live.route(path) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("no deployment serves {path}"),
            );
        };
        let Some(version) = deployment.pick().cloned() else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{}: no version is active", deployment.name),
            );
        };
        let request = strip_prefix(request, prefix, deployment.route.as_str());
        let started = Instant::now();
        let outcome = version.handle_http(request).await;
        version.metrics().request(started.elapsed());
        match outcome {
            Ok(response) => response,
            Err(failure) => failure_response(deployment.name.as_str(), &failure),
        }
    }
}

/// Removes the first `prefix` bytes of the path (the route), so the
/// component sees the path it would see under `wasmtime serve`, and records
/// the route in `x-forwarded-prefix`. A client-sent `x-forwarded-prefix` is
/// never passed through.
fn strip_prefix<B>(request: Request<B>, prefix: usize, route: &str) -> Request<B> {
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(FORWARDED_PREFIX);
    if prefix > 0 {
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let rest = path_and_query.get(prefix..).unwrap_or("");
        let rewritten = if rest.starts_with('/') {
            rest.to_string()
        } else {
            format!("/{rest}")
        };
        let mut builder = Uri::builder();
        if let Some(scheme) = parts.uri.scheme() {
            builder = builder.scheme(scheme.clone());
        }
        if let Some(authority) = parts.uri.authority() {
            builder = builder.authority(authority.clone());
        }
        if let Ok(uri) = builder.path_and_query(rewritten).build() {
            parts.uri = uri;
        }
        if let Ok(value) = HeaderValue::from_str(route) {
            parts.headers.insert(FORWARDED_PREFIX, value);
        }
    }
    Request::from_parts(parts, body)
}

/// Serves the ingress on `listener` until `shutdown` flips, then stops
/// accepting and lets open connections finish (at most `grace`).
pub(crate) async fn serve(
    listener: TcpListener,
    ingress: Arc<Ingress>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let ingress = ingress.clone();
                let service = hyper::service::service_fn(move |request| {
                    let ingress = ingress.clone();
                    async move { Ok::<_, Infallible>(ingress.handle(request, peer).await) }
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within {grace:?}; closing anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(uri: &str, prefix: usize, route: &str) -> (String, Option<String>) {
        let req = Request::get(uri)
            .header(FORWARDED_PREFIX, "/spoofed")
            .body(())
            .unwrap();
        let req = strip_prefix(req, prefix, route);
        (
            req.uri().to_string(),
            req.headers()
                .get(FORWARDED_PREFIX)
                .map(|v| v.to_str().unwrap().to_string()),
        )
    }

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(
            strip("/hello", 6, "/hello"),
            ("/".into(), Some("/hello".into()))
        );
        assert_eq!(
            strip("/hello/a/b?x=1", 6, "/hello"),
            ("/a/b?x=1".into(), Some("/hello".into()))
        );
        assert_eq!(
            strip("/hello?x=1", 6, "/hello"),
            ("/?x=1".into(), Some("/hello".into()))
        );
        assert_eq!(strip("/x/y", 0, "/"), ("/x/y".into(), None));
        assert_eq!(
            strip("http://h:1/api/v2/items", 7, "/api/v2"),
            ("http://h:1/items".into(), Some("/api/v2".into()))
        );
    }
}
