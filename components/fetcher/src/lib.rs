//! Makes an outbound request: `GET /fetch?url=http://host:port/path`.
//! Answers `200` with `status N` and the body, or `502` with the error code
//! the host gave (e.g. `HttpRequestDenied`).

use guest_util::{Request, respond};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

struct Fetcher;

fn fetch(url: &str) -> Result<(u16, Vec<u8>), String> {
    let (scheme, rest) = url.split_once("://").ok_or("url needs a scheme")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        }))
        .map_err(|()| "bad scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "bad authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "bad path")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    let response = loop {
        if let Some(result) = future.get() {
            break result.map_err(|()| "response taken twice")?.map_err(|e| format!("{e:?}"))?;
        }
        future.subscribe().block();
    };
    let status = response.status();
    let body = response.consume().map_err(|()| "body taken twice")?;
    let stream = body.stream().map_err(|()| "stream taken twice")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
    }
    Ok((status, bytes))
}

impl wasip2::exports::http::incoming_handler::Guest for Fetcher {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        let url = request.param("url").unwrap_or("").to_string();
        match fetch(&url) {
            Ok((status, body)) => {
                let mut text = format!("status {status}\n").into_bytes();
                text.extend_from_slice(&body);
                respond(out, 200, text)
            }
            Err(e) => respond(out, 502, format!("error {e}\n")),
        }
    }
}

wasip2::http::proxy::export!(Fetcher);
