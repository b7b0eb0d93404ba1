//! Builds every guest workspace (components/ and the examples) and writes one
//! `pub const NAME: &str = "/path/to/name.wasm";` per component, plus `ALL`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/test-artifacts sits two levels below the workspace root")
        .to_path_buf();
    let target = wharf_guest_build::guest_target_dir(&root);

    let mut guests = wharf_guest_build::build_workspace(&root.join("components/Cargo.toml"), &target, &[]);
    let examples = root.join("examples");
    for example in ["shop"] {
        let manifest = examples.join(example).join("Cargo.toml");
        if manifest.is_file() {
            guests.extend(wharf_guest_build::build_workspace(&manifest, &target.join(example), &[]));
        }
    }

    let mut out = String::new();
    let mut all = Vec::new();
    for guest in &guests {
        let name = guest.package.to_uppercase().replace('-', "_");
        let _ = writeln!(
            out,
            "/// `{}`, built from source for wasm32-wasip2.\npub const {name}: &str = {:?};",
            guest.package,
            guest.wasm.display().to_string()
        );
        all.push(format!("({:?}, {name})", guest.package));
    }
    let _ = writeln!(
        out,
        "/// Every guest as `(package, path)`.\npub const ALL: &[(&str, &str)] = &[{}];",
        all.join(", ")
    );
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("artifacts.rs");
    std::fs::write(&dest, out).expect("failed to write artifacts.rs");
}
