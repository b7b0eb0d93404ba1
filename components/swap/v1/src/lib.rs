//! Version "v1" of the hot-swap test service.

const VERSION: &str = "v1";

include!("../../handler.rs");
