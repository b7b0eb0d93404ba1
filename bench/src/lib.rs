//! wharf-bench
