//! Version 2 of the catalog: the same interface, everything 20% off. Deploy
//! it over `catalog` to see checkout pick it up without being redeployed.

const DISCOUNT_PERCENT: u32 = 20;

include!("../../catalog/catalog.rs");
