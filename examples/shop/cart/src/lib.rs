//! The cart team's component: each shopper's cart, in the cart's own store.
//! A cart is one key per shopper: `item=quantity,item=quantity`.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../../wit/deps/keyvalue", "../wit/cart"],
        world: "example:cart/cart-service",
        generate_all,
    });
}

use bindings::exports::example::cart::cart::{Guest, Line};
use bindings::wasi::keyvalue::store;

struct Cart;

fn bucket() -> Result<store::Bucket, String> {
    store::open("carts").map_err(|e| format!("cart store unavailable: {e:?}"))
}

fn read(user: &str) -> Vec<Line> {
    let Ok(Ok(Some(value))) = bucket().map(|b| b.get(user)) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&value)
        .split(',')
        .filter_map(|entry| {
            let (id, qty) = entry.split_once('=')?;
            Some(Line { item_id: id.to_string(), quantity: qty.parse().ok()? })
        })
        .collect()
}

impl Guest for Cart {
    fn add(user: String, item_id: String, quantity: u32) -> Result<(), String> {
        if quantity == 0 || item_id.contains([',', '=']) {
            return Err("add at least one of an item whose id has no `,` or `=`".into());
        }
        let mut lines = read(&user);
        match lines.iter_mut().find(|l| l.item_id == item_id) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None => lines.push(Line { item_id, quantity }),
        }
        let text: Vec<String> = lines.iter().map(|l| format!("{}={}", l.item_id, l.quantity)).collect();
        bucket()?
            .set(&user, text.join(",").as_bytes())
            .map_err(|e| format!("could not store the cart: {e:?}"))
    }

    fn lines(user: String) -> Vec<Line> {
        read(&user)
    }

    fn clear(user: String) {
        if let Ok(bucket) = bucket() {
            let _ = bucket.delete(&user);
        }
    }
}

bindings::export!(Cart with_types_in bindings);
