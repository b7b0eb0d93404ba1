//! `hop(n)` calls `hop(n + 1)` through the host. Deployed alone, it calls
//! itself until the host's call depth limit returns an error.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "wharf-test:relay/relay" });
}

struct Relay;

impl bindings::exports::wharf_test::relay::hop::Guest for Relay {
    fn hop(n: u32) -> Result<u32, String> {
        bindings::wharf_test::relay::hop::hop(n + 1).map_err(|e| format!("hop {n}: {e}"))
    }
}

bindings::export!(Relay with_types_in bindings);
