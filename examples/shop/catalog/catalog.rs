// The catalog component; `catalog` and `catalog-sale` differ only in
// `DISCOUNT_PERCENT`. Items live in the catalog's own key-value store, one
// key per item: `name|price-cents`.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../../wit/deps/keyvalue", "../wit/catalog"],
        world: "example:catalog/catalog-service",
        generate_all,
    });
}

use bindings::exports::example::catalog::items::{Guest, Item};
use bindings::wasi::keyvalue::store;

struct Catalog;

fn bucket() -> Result<store::Bucket, String> {
    store::open("items").map_err(|e| format!("catalog store unavailable: {e:?}"))
}

fn decode(id: &str, value: &[u8]) -> Option<Item> {
    let text = std::str::from_utf8(value).ok()?;
    let (name, price) = text.rsplit_once('|')?;
    let price: u32 = price.parse().ok()?;
    Some(Item {
        id: id.to_string(),
        name: name.to_string(),
        price_cents: price * (100 - DISCOUNT_PERCENT) / 100,
    })
}

impl Guest for Catalog {
    fn get(id: String) -> Option<Item> {
        let value = bucket().ok()?.get(&id).ok()??;
        decode(&id, &value)
    }

    fn all() -> Vec<Item> {
        let Ok(bucket) = bucket() else { return Vec::new() };
        let mut items = Vec::new();
        let mut cursor = None;
        loop {
            let Ok(page) = bucket.list_keys(cursor) else { break };
            for id in page.keys {
                if let Ok(Some(value)) = bucket.get(&id) {
                    items.extend(decode(&id, &value));
                }
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        items.sort_by(|a, b| a.id.cmp(&b.id));
        items
    }

    fn put(item: Item) -> Result<(), String> {
        if item.id.is_empty() || item.name.contains('|') {
            return Err("an item needs an id, and a name without `|`".into());
        }
        bucket()?
            .set(&item.id, format!("{}|{}", item.name, item.price_cents).as_bytes())
            .map_err(|e| format!("could not store the item: {e:?}"))
    }
}

bindings::export!(Catalog with_types_in bindings);
