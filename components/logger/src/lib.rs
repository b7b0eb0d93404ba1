//! Writes `msg` to stdout, stderr and `wasi:logging`: `GET /log?msg=M&lines=N`.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/deps/logging",
        world: "wasi:logging/imports",
        generate_all,
    });
}

use bindings::wasi::logging::logging::{Level, log};
use guest_util::{Request, respond};

struct Logger;

impl wasip2::exports::http::incoming_handler::Guest for Logger {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        let msg = request.param("msg").unwrap_or("hello").to_string();
        for i in 0..request.number("lines", 1) {
            println!("stdout {msg} {i}");
            eprintln!("stderr {msg} {i}");
            log(Level::Info, "logger", &format!("logging {msg} {i}"));
        }
        respond(out, 200, "logged\n");
    }
}

wasip2::http::proxy::export!(Logger);
