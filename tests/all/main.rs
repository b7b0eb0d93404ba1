//! Wharf's end-to-end tests: a real server on 127.0.0.1:0 (in process, or
//! the `wharf` binary where a process boundary matters), real components
//! built from `components/`, real HTTP.

mod deploys;
mod foundation;
mod harness;
mod isolation;
mod polyglot;
mod services;

/// Every guest built from `components/` is used by a test.
#[test]
fn every_guest_has_a_test() {
    let sources: String = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/all"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    for (package, _) in wharf_test_artifacts::ALL {
        let constant = format!("guests::{}", package.to_uppercase().replace('-', "_"));
        // A whole identifier: `guests::HELLO` must not count `guests::HELLO_PY`.
        let used = sources.match_indices(&constant).any(|(i, _)| {
            !sources[i + constant.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        assert!(used, "no test uses the guest `{package}` ({constant})");
    }
}
