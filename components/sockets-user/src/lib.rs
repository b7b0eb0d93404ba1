//! Uses `std::net`, which on WASI 0.2 imports `wasi:sockets`. Wharf links
//! those interfaces (CPython imports them unconditionally) but gives no
//! network: the connection must fail.

struct SocketsUser;

impl wasip2::exports::http::incoming_handler::Guest for SocketsUser {
    fn handle(_request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let connected = std::net::TcpStream::connect("127.0.0.1:9").is_ok();
        guest_util::respond(out, 200, format!("connected: {connected}\n"));
    }
}

wasip2::http::proxy::export!(SocketsUser);
