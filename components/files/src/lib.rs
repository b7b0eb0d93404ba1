//! Files through WASI preopens, and attempts to leave them.
//!
//! `GET /read?path=P`, `PUT /write?path=P` (body), `GET /list?path=P`,
//! `POST /symlink?target=T&link=L`. Errors answer `403` with the error text,
//! so tests can tell "refused" from "crashed".

use guest_util::{Request, respond};

struct Files;

/// Creates a symlink with the raw WASI call (std's is unstable on WASI):
/// `link` is relative to the preopened `/`, `target` is stored as given.
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    let dirs = wasip2::filesystem::preopens::get_directories();
    let (dir, _) = dirs
        .into_iter()
        .find(|(_, p)| p == "/")
        .ok_or_else(|| std::io::Error::other("no directory is preopened"))?;
    dir.symlink_at(target, link.trim_start_matches('/'))
        .map_err(|e| std::io::Error::other(format!("{e:?}")))
}

impl wasip2::exports::http::incoming_handler::Guest for Files {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = Request::new(request);
        let path = request.param("path").unwrap_or("/").to_string();
        let result: std::io::Result<Vec<u8>> = match request.path.as_str() {
            "/read" => std::fs::read(&path),
            "/write" => std::fs::write(&path, request.body()).map(|()| b"written\n".to_vec()),
            "/list" => std::fs::read_dir(&path).and_then(|entries| {
                let mut names = Vec::new();
                for entry in entries {
                    names.push(entry?.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok((names.join("\n") + "\n").into_bytes())
            }),
            "/symlink" => symlink(request.param("target").unwrap_or(""), request.param("link").unwrap_or(""))
                .map(|()| b"linked\n".to_vec()),
            _ => Ok(b"unknown route\n".to_vec()),
        };
        match result {
            Ok(body) => respond(out, 200, body),
            Err(e) => respond(out, 403, format!("error: {e}\n")),
        }
    }
}

wasip2::http::proxy::export!(Files);
