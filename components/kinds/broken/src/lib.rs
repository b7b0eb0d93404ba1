//! Exports `wharf-test:kinds/values@0.1.0` with an incompatible `add`.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "wharf-test:kinds/provider" });
}

struct Broken;

impl bindings::exports::wharf_test::kinds::values::Guest for Broken {
    fn add(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

bindings::export!(Broken with_types_in bindings);
