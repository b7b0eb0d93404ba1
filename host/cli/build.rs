//! Builds the demo components (`hello`, `echo`) and embeds them, so
//! `wharf serve --demo` works on a fresh clone with nothing else installed.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let target = wharf_guest_build::guest_target_dir(&root);
    let guests = wharf_guest_build::build_workspace(&root.join("components/Cargo.toml"), &target, &["hello", "echo"]);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    for guest in guests {
        std::fs::copy(&guest.wasm, out.join(format!("{}.wasm", guest.package)))
            .unwrap_or_else(|e| panic!("failed to copy {}: {e}", guest.wasm.display()));
    }
}
