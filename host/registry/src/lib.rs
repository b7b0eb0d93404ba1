//! wharf-registry
