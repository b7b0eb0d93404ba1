//! Builds every guest workspace (components/ and the examples) and writes one
//! `pub const NAME: &str = "/path/to/name.wasm";` per component, plus `ALL`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wharf_guest_build::{Lang, Polyglot};

/// The Python and JavaScript guests (`components/python`, `components/js`).
fn polyglot(root: &Path, out: &Path) -> Vec<wharf_guest_build::Guest> {
    let c = root.join("components");
    let wit = root.join("wit");
    let kinds_wit = c.join("kinds/wit");
    // The Python caller's world combines Wharf's WIT with the kinds package.
    let mut deps: Vec<(String, PathBuf)> = std::fs::read_dir(wit.join("deps"))
        .expect("wit/deps exists")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    deps.push(("wharf".into(), wit.join("wharf.wit")));
    deps.push(("kinds".into(), kinds_wit.join("kinds.wit")));
    let deps: Vec<(&str, &Path)> = deps
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_path()))
        .collect();
    let caller_wit = wharf_guest_build::assemble_wit(
        &out.join("wit-caller-py"),
        &c.join("python/caller/wit"),
        &deps,
    );

    let py = |name: &str, dir: &str, extra: &[&str], wit: &Path, world: &str| Polyglot {
        name: name.into(),
        lang: Lang::Python,
        source: c.join("python").join(dir),
        python_path: extra.iter().map(|e| c.join("python").join(e)).collect(),
        wit: wit.to_path_buf(),
        world: world.into(),
        js_disable: Vec::new(),
    };
    let js = |name: &str, file: &str, wit: &Path, world: &str| Polyglot {
        name: name.into(),
        lang: Lang::JavaScript,
        source: c.join("js").join(file),
        python_path: Vec::new(),
        wit: wit.to_path_buf(),
        world: world.into(),
        // The engine's own HTTP client and fetch event would import
        // interfaces these components do not use.
        js_disable: vec!["http".into(), "fetch-event".into()],
    };
    wharf_guest_build::build_polyglot(
        root,
        out,
        &[
            py("hello-py", "hello", &[], &wit, "wharf:host/service"),
            py(
                "kinds-py-v1",
                "kinds",
                &["kinds/v1"],
                &kinds_wit,
                "wharf-test:kinds/provider",
            ),
            py(
                "kinds-py-v2",
                "kinds",
                &["kinds/v2"],
                &kinds_wit,
                "wharf-test:kinds/provider",
            ),
            py(
                "caller-py",
                "caller",
                &[],
                &caller_wit,
                "wharf-test:py-caller/caller",
            ),
            js("hello-js", "hello/app.js", &wit, "wharf:host/service"),
            js(
                "kinds-js",
                "kinds/app.js",
                &kinds_wit,
                "wharf-test:kinds/provider",
            ),
        ],
    )
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/test-artifacts sits two levels below the workspace root")
        .to_path_buf();
    let target = wharf_guest_build::guest_target_dir(&root);

    let mut guests =
        wharf_guest_build::build_workspace(&root.join("components/Cargo.toml"), &target, &[]);
    let examples = root.join("examples");
    for example in ["shop"] {
        let manifest = examples.join(example).join("Cargo.toml");
        if manifest.is_file() {
            guests.extend(wharf_guest_build::build_workspace(
                &manifest,
                &target.join(example),
                &[],
            ));
        }
    }

    guests.extend(polyglot(&root, &target.join("polyglot")));

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
