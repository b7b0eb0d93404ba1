//! Imports `shout`, which no host provides.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "wharf-test:odd/odd" });
}

struct Odd;

impl bindings::Guest for Odd {
    fn run() -> String {
        bindings::shout("hello");
        "shouted".into()
    }
}

bindings::export!(Odd with_types_in bindings);
