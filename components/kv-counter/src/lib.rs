//! Key-value over HTTP, for Wharf's isolation tests.
//!
//! `GET /get?key=K`, `PUT /set?key=K` (body is the value), `POST /incr?key=K&by=N`,
//! `DELETE /del?key=K`, `GET /keys`; `bucket=B` picks a bucket (default `""`).
//! Whatever keys it uses, it only ever sees its own deployment's data.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        generate_all,
    });
}

use bindings::wasi::keyvalue::{atomics, store};
use guest_util::{Request, respond};

struct Counter;

fn error(e: store::Error) -> String {
    match e {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => "access denied".into(),
        store::Error::Other(m) => m,
    }
}

impl wasip2::exports::http::incoming_handler::Guest for Counter {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        let bucket = match store::open(request.param("bucket").unwrap_or("")) {
            Ok(b) => b,
            Err(e) => return respond(out, 500, format!("open failed: {}\n", error(e))),
        };
        let key = request.param("key").unwrap_or("").to_string();
        let result = match request.path.as_str() {
            "/get" => bucket.get(&key).map(|v| match v {
                Some(v) => (200, v),
                None => (404, b"no such key\n".to_vec()),
            }),
            "/set" => bucket.set(&key, &request.body()).map(|()| (200, b"stored\n".to_vec())),
            "/del" => bucket.delete(&key).map(|()| (200, b"deleted\n".to_vec())),
            "/incr" => atomics::increment(&bucket, &key, request.number("by", 1))
                .map(|n| (200, format!("{n}\n").into_bytes())),
            "/keys" => {
                let mut all = Vec::new();
                let mut cursor = None;
                loop {
                    match bucket.list_keys(cursor) {
                        Ok(page) => {
                            all.extend(page.keys);
                            match page.cursor {
                                Some(c) => cursor = Some(c),
                                None => break Ok((200, (all.join("\n") + "\n").into_bytes())),
                            }
                        }
                        Err(e) => break Err(e),
                    }
                }
            }
            _ => Ok((404, b"unknown route\n".to_vec())),
        };
        match result {
            Ok((status, body)) => respond(out, status, body),
            Err(e) => respond(out, 500, format!("{}\n", error(e))),
        }
    }
}

wasip2::http::proxy::export!(Counter);
