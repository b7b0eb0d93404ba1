//! Provider "v2" of `wharf-test:kinds/values`.

const VERSION: &str = "v2";

include!("../../provider.rs");
