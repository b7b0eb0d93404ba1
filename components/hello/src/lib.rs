//! `hello`: the smallest useful wasi:http component. It answers every request
//! with a fixed greeting; Wharf's benchmarks use it as the baseline handler.

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Hello;

const GREETING: &[u8] = b"Hello from Wharf!\n";

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[
            ("content-type".to_string(), b"text/plain; charset=utf-8".to_vec()),
            ("content-length".to_string(), GREETING.len().to_string().into_bytes()),
        ])
        .expect("static headers are valid");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = body.write().expect("stream is taken once");
        stream.blocking_write_and_flush(GREETING).expect("client went away");
        drop(stream);
        OutgoingBody::finish(body, None).expect("content-length matches");
    }
}

wasip2::http::proxy::export!(Hello);
