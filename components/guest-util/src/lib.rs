//! Helpers for the wasi:http guests in this workspace: read the request,
//! answer with a status and a body. Plain `wasip2` underneath, nothing a
//! component written for `wasmtime serve` would not do.

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

/// The parts of a request the fixtures look at.
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// `(key, value)` pairs of the query string, undecoded.
    pub query: Vec<(String, String)>,
    inner: IncomingRequest,
}

impl Request {
    /// Reads the method, path and query of `request`.
    pub fn new(request: IncomingRequest) -> Self {
        let method = match request.method() {
            Method::Get => "GET".into(),
            Method::Head => "HEAD".into(),
            Method::Post => "POST".into(),
            Method::Put => "PUT".into(),
            Method::Delete => "DELETE".into(),
            Method::Patch => "PATCH".into(),
            Method::Options => "OPTIONS".into(),
            Method::Connect => "CONNECT".into(),
            Method::Trace => "TRACE".into(),
            Method::Other(m) => m,
        };
        let full = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = full.split_once('?').unwrap_or((&full, ""));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        Self {
            method,
            path: path.to_string(),
            query,
            inner: request,
        }
    }

    /// The first query value of `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A query value parsed as a number, or `default`.
    pub fn number(&self, key: &str, default: u64) -> u64 {
        self.param(key).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// The whole request body.
    pub fn body(&self) -> Vec<u8> {
        let body = self.inner.consume().expect("body is consumed once");
        let stream = body.stream().expect("stream is taken once");
        let mut out = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => panic!("request body failed: {}", e.to_debug_string()),
            }
        }
        out
    }
}

/// Answers with `status` and a text body.
pub fn respond(out: ResponseOutparam, status: u16, body: impl AsRef<[u8]>) {
    respond_with(out, status, "text/plain; charset=utf-8", body.as_ref());
}

/// Answers with `status`, a content type and a body.
pub fn respond_with(out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers = Fields::from_list(&[
        ("content-type".to_string(), content_type.as_bytes().to_vec()),
        ("content-length".to_string(), body.len().to_string().into_bytes()),
    ])
    .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("valid status");
    let outgoing = response.body().expect("body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("stream is taken once");
    for chunk in body.chunks(4096) {
        stream.blocking_write_and_flush(chunk).expect("client went away");
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("content-length matches");
}

/// Sleeps without burning CPU.
pub fn sleep_ms(ms: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
}

/// Milliseconds on the monotonic clock.
pub fn now_ms() -> u64 {
    wasip2::clocks::monotonic_clock::now() / 1_000_000
}
