//! `echo`: answers with the request it received.
//!
//! The response body is the request line (`METHOD PATH`), then the headers one
//! per line, then a blank line, then the request body, streamed through as it
//! arrives, so bodies of any size pass without being held in memory. The method
//! and path are also in `x-echo-method` and `x-echo-path` for scripts.

use std::io::Write;
use wasip2::io::streams::StreamError;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Echo;

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

impl wasip2::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = method_name(&request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".into());

        let mut head = format!("{method} {path}\n");
        for (name, value) in request.headers().entries() {
            head.push_str(&name);
            head.push_str(": ");
            head.push_str(&String::from_utf8_lossy(&value));
            head.push('\n');
        }
        head.push('\n');

        let headers = Fields::from_list(&[
            ("content-type".to_string(), b"text/plain; charset=utf-8".to_vec()),
            ("x-echo-method".to_string(), method.into_bytes()),
            ("x-echo-path".to_string(), path.into_bytes()),
        ])
        .expect("echoed method and path are valid header values");
        let response = OutgoingResponse::new(headers);
        let out_body = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));

        let mut out = out_body.write().expect("stream is taken once");
        out.write_all(head.as_bytes()).expect("client went away");

        let in_body = request.consume().expect("body is consumed once");
        let input = in_body.stream().expect("stream is taken once");
        loop {
            match input.blocking_read(64 * 1024) {
                Ok(chunk) => out.write_all(&chunk).expect("client went away"),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => panic!("request body failed: {}", e.to_debug_string()),
            }
        }
        out.flush().expect("client went away");
        drop(input);
        drop(out);
        OutgoingBody::finish(out_body, None).expect("no trailers to check");
    }
}

wasip2::http::proxy::export!(Echo);
