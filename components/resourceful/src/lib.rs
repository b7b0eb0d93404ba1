//! Exports a resource type; deploying it must fail with `resource_in_interface`.

use std::cell::Cell;

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "wharf-test:res/resourceful" });
}

use bindings::exports::wharf_test::res::counters::{Guest, GuestCounter};

struct Component;

struct Counter(Cell<u32>);

impl Guest for Component {
    type Counter = Counter;
}

impl GuestCounter for Counter {
    fn new() -> Self {
        Counter(Cell::new(0))
    }

    fn inc(&self) -> u32 {
        self.0.set(self.0.get() + 1);
        self.0.get()
    }
}

bindings::export!(Component with_types_in bindings);
