//! Reads its own `wasi:config/store` values: `GET /get?key=K`, `GET /keys`.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/deps/config",
        world: "wasi:config/imports",
        generate_all,
    });
}

use bindings::wasi::config::store;
use guest_util::{Request, respond};

struct Reader;

impl wasip2::exports::http::incoming_handler::Guest for Reader {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        match request.path.as_str() {
            "/get" => match store::get(request.param("key").unwrap_or("")) {
                Ok(Some(v)) => respond(out, 200, v),
                Ok(None) => respond(out, 404, "no such key\n"),
                Err(e) => respond(out, 500, format!("{e:?}\n")),
            },
            "/keys" => match store::get_all() {
                Ok(all) => {
                    let mut keys: Vec<String> = all.into_iter().map(|(k, _)| k).collect();
                    keys.sort();
                    respond(out, 200, keys.join("\n") + "\n")
                }
                Err(e) => respond(out, 500, format!("{e:?}\n")),
            },
            _ => respond(out, 404, "unknown route\n"),
        }
    }
}

wasip2::http::proxy::export!(Reader);
