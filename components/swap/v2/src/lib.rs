//! Version "v2" of the hot-swap test service.

const VERSION: &str = "v2";

include!("../../handler.rs");
