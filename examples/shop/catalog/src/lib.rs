//! The catalog team's component: items and their prices.

const DISCOUNT_PERCENT: u32 = 0;

include!("../catalog.rs");
