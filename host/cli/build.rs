//! Builds the demo components (`hello`, `echo`) and embeds them, so
//! `wharf serve --demo` works on a fresh clone with nothing else installed;
//! and embeds Wharf's WIT for `wharf wit`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn wit_files(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            wit_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "wit") {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));

    let target = wharf_guest_build::guest_target_dir(&root);
    let guests = wharf_guest_build::build_workspace(
        &root.join("components/Cargo.toml"),
        &target,
        &["hello", "echo"],
    );
    for guest in guests {
        std::fs::copy(&guest.wasm, out.join(format!("{}.wasm", guest.package)))
            .unwrap_or_else(|e| panic!("failed to copy {}: {e}", guest.wasm.display()));
    }

    let wit = root.join("wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let mut files = Vec::new();
    wit_files(&wit, &wit, &mut files);
    let mut code = String::from(
        "/// Wharf's WIT, relative path and text.\npub const FILES: &[(&str, &str)] = &[\n",
    );
    for (relative, path) in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            code,
            "    ({relative:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    std::fs::write(out.join("wit.rs"), code).expect("failed to write wit.rs");
}
