//! Provider "v1" of `wharf-test:kinds/values`.

const VERSION: &str = "v1";

include!("../../provider.rs");
