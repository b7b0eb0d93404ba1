//! Exports nothing Wharf can serve; deploying it must fail with
//! `missing_export`.

/// Never called: a component with no exports never runs.
pub fn unused() -> u32 {
    7
}
