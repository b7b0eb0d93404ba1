// Shared by `swap-v1` and `swap-v2`, which differ only in `VERSION`.
//
// `GET /` answers with the version 64 times, one per line, so a response
// mixed from two versions would show. `GET /slow?ms=N` waits first, so a
// test can hold a request open across a swap.

struct Swap;

impl wasip2::exports::http::incoming_handler::Guest for Swap {
    fn handle(request: wasip2::http::types::IncomingRequest, out: wasip2::http::types::ResponseOutparam) {
        let request = guest_util::Request::new(request);
        if request.path == "/slow" {
            guest_util::sleep_ms(request.number("ms", 500));
        }
        guest_util::respond(out, 200, format!("{VERSION}\n").repeat(64));
    }
}

wasip2::http::proxy::export!(Swap);
