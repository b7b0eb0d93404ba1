//! The checkout team's component. It owns no items and no carts: it asks the
//! catalog and the cart for them, through their WIT interfaces, and the host
//! routes each call to whatever version of them is serving.
//!
//! Over HTTP (for shoppers, under `/checkout`):
//!
//! - `GET /items` — the catalog, with prices;
//! - `POST /cart/USER/ITEM?qty=N` — add to a cart (the item must exist);
//! - `GET /cart/USER` — the cart, priced;
//! - `POST /order/USER` — place the order: a JSON receipt.
//!
//! And `example:checkout/orders#place` for other deployments and the JSON
//! gateway.

mod bindings {
    wit_bindgen::generate!({
        path: [
            "../../../wit/deps/keyvalue",
            "../wit/catalog",
            "../wit/cart",
            "../wit/checkout",
        ],
        world: "example:checkout/checkout-service",
        generate_all,
    });
}

use bindings::example::{cart::cart, catalog::items};
use bindings::exports::example::checkout::orders::{Guest, PricedLine, Receipt};
use bindings::wasi::keyvalue::{atomics, store};
use serde_json::json;
use wasip2::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Checkout;

fn priced(user: &str) -> Result<Vec<PricedLine>, String> {
    cart::lines(user)
        .into_iter()
        .map(|line| {
            let item = items::get(&line.item_id).ok_or_else(|| format!("item `{}` is no longer sold", line.item_id))?;
            Ok(PricedLine {
                line_cents: u64::from(item.price_cents) * u64::from(line.quantity),
                item_id: line.item_id,
                name: item.name,
                quantity: line.quantity,
                unit_cents: item.price_cents,
            })
        })
        .collect()
}

fn place(user: &str) -> Result<Receipt, String> {
    let lines = priced(user)?;
    if lines.is_empty() {
        return Err(format!("the cart of `{user}` is empty"));
    }
    let orders = store::open("orders").map_err(|e| format!("orders store unavailable: {e:?}"))?;
    let order = atomics::increment(&orders, "next", 1).map_err(|e| format!("could not number the order: {e:?}"))?;
    cart::clear(user);
    Ok(Receipt {
        order,
        user: user.to_string(),
        total_cents: lines.iter().map(|l| l.line_cents).sum(),
        lines,
    })
}

impl Guest for Checkout {
    fn place(user: String) -> Result<Receipt, String> {
        place(&user)
    }
}

fn line_json(l: &PricedLine) -> serde_json::Value {
    json!({ "item": l.item_id, "name": l.name, "quantity": l.quantity, "unit_cents": l.unit_cents, "line_cents": l.line_cents })
}

fn respond(out: ResponseOutparam, status: u16, body: serde_json::Value) {
    let bytes = (body.to_string() + "\n").into_bytes();
    let headers = Fields::from_list(&[
        ("content-type".to_string(), b"application/json".to_vec()),
        ("content-length".to_string(), bytes.len().to_string().into_bytes()),
    ])
    .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("valid status");
    let body = response.body().expect("body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("stream is taken once");
    for chunk in bytes.chunks(4096) {
        stream.blocking_write_and_flush(chunk).expect("client went away");
    }
    drop(stream);
    OutgoingBody::finish(body, None).expect("content-length matches");
}

impl wasip2::exports::http::incoming_handler::Guest for Checkout {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let post = matches!(request.method(), Method::Post);
        let full = request.path_with_query().unwrap_or_default();
        let (path, query) = full.split_once('?').unwrap_or((&full, ""));
        let qty: u32 = query
            .split('&')
            .find_map(|p| p.strip_prefix("qty="))
            .and_then(|q| q.parse().ok())
            .unwrap_or(1);
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match (post, parts.as_slice()) {
            (false, ["items"]) => {
                let items: Vec<_> = items::all()
                    .into_iter()
                    .map(|i| json!({ "id": i.id, "name": i.name, "price_cents": i.price_cents }))
                    .collect();
                respond(out, 200, json!(items))
            }
            (true, ["cart", user, item]) => match items::get(item) {
                None => respond(out, 404, json!({ "error": format!("the catalog has no item `{item}`") })),
                Some(_) => match cart::add(user, item, qty) {
                    Ok(()) => respond(out, 200, json!({ "added": item, "quantity": qty })),
                    Err(e) => respond(out, 502, json!({ "error": e })),
                },
            },
            (false, ["cart", user]) => match priced(user) {
                Ok(lines) => {
                    let total: u64 = lines.iter().map(|l| l.line_cents).sum();
                    let lines: Vec<_> = lines.iter().map(line_json).collect();
                    respond(out, 200, json!({ "user": user, "lines": lines, "total_cents": total }))
                }
                Err(e) => respond(out, 409, json!({ "error": e })),
            },
            (true, ["order", user]) => match place(user) {
                Ok(r) => {
                    let lines: Vec<_> = r.lines.iter().map(line_json).collect();
                    respond(out, 200, json!({ "order": r.order, "user": r.user, "lines": lines, "total_cents": r.total_cents }))
                }
                Err(e) => respond(out, 409, json!({ "error": e })),
            },
            _ => respond(
                out,
                404,
                json!({ "routes": ["GET /items", "POST /cart/USER/ITEM?qty=N", "GET /cart/USER", "POST /order/USER"] }),
            ),
        }
    }
}

wasip2::http::proxy::export!(Checkout);
bindings::export!(Checkout with_types_in bindings);
