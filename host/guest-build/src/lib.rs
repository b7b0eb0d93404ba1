//! Builds Wharf's guest components (Rust crates compiled to `wasm32-wasip2`)
//! from a build script.
//!
//! Both the `wharf` binary (which embeds the demo components) and the
//! dev-only `wharf-test-artifacts` crate (which exposes every guest to the
//! tests) call [`build_workspace`]. The nested `cargo` runs with its own target
//! directory so it never contends with the outer build's lock, and every source
//! file it read is reported with `rerun-if-changed` (from cargo's `.d` files),
//! so editing a guest rebuilds exactly what depends on it.
//!
//! A guest that fails to build fails the outer build: tests must never run
//! against stale or missing wasm.

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// One built guest component.
#[derive(Debug, Clone)]
pub struct Guest {
    /// The cargo package name, e.g. `hello`.
    pub package: String,
    /// Absolute path of the built `.wasm` component.
    pub wasm: PathBuf,
}

/// Environment variables that cargo sets for build scripts and that must not
/// leak into the nested build (they describe the host build, not the guest).
const SCRUBBED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_PKG_NAME",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "TARGET",
    "HOST",
    "OUT_DIR",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "CARGO_LLVM_COV",
    "LLVM_PROFILE_FILE",
];

/// The directory guests are built into: `<host target dir>/wasm-guests`.
///
/// `workspace_root` is the host workspace root (where `target/` lives unless
/// `CARGO_TARGET_DIR` says otherwise).
pub fn guest_target_dir(workspace_root: &Path) -> PathBuf {
    let host_target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root.join(p)
            }
        })
        .unwrap_or_else(|| workspace_root.join("target"));
    host_target.join("wasm-guests")
}

/// Builds `packages` (or every member when empty) of the guest workspace whose
/// manifest is `manifest`, in release mode for [`TARGET`], and returns the
/// built components in package order.
///
/// Panics with a message that says what to do when the build fails: this is
/// meant to be called from build scripts, where a panic fails the build.
pub fn build_workspace(manifest: &Path, target_dir: &Path, packages: &[&str]) -> Vec<Guest> {
    ensure_target_installed();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--locked")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--message-format=short");
    for package in packages {
        cmd.arg("--package").arg(package);
    }
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        if let Some(key) = key.to_str()
            && key.starts_with("CARGO_CFG_")
        {
            cmd.env_remove(key);
        }
    }

    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("failed to run cargo to build the guest components: {e}"));
    if !status.success() {
        panic!(
            "building the guest components in {} failed (see the cargo output above); \
             fix the guest, or run `rustup target add {TARGET}` if the target is missing",
            manifest.display()
        );
    }

    let members = if packages.is_empty() {
        cdylib_members(manifest)
    } else {
        packages.iter().map(|p| p.to_string()).collect()
    };
    let out_dir = target_dir.join(TARGET).join("release");
    let mut rerun = BTreeSet::new();
    rerun.insert(manifest.to_path_buf());
    rerun.insert(manifest.with_file_name("Cargo.lock"));
    let mut guests = Vec::new();
    for package in members {
        let stem = package.replace('-', "_");
        let wasm = out_dir.join(format!("{stem}.wasm"));
        if !wasm.is_file() {
            panic!(
                "guest package `{package}` built but {} is missing; guests must be `cdylib` crates",
                wasm.display()
            );
        }
        let dep_file = out_dir.join(format!("{stem}.d"));
        if let Ok(deps) = fs::read_to_string(&dep_file) {
            rerun.extend(parse_dep_file(&deps));
        }
        guests.push(Guest { package, wasm });
    }
    for path in rerun {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    guests
}

/// Asks cargo for the guest workspace's members and keeps those that build a
/// component (crate-type `cdylib`).
fn cdylib_members(manifest: &Path) -> Vec<String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .unwrap_or_else(|e| panic!("failed to run `cargo metadata`: {e}"));
    if !output.status.success() {
        panic!(
            "`cargo metadata` failed for {}: {}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("`cargo metadata` printed invalid JSON: {e}"));
    let mut members = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let builds_component = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["crate_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c == "cdylib")
            });
        if let (true, Some(name)) = (builds_component, package["name"].as_str()) {
            members.push(name.to_string());
        }
    }
    members.sort();
    members
}

/// Parses a make-style dependency file (`out: dep dep ...`), which cargo
/// writes next to each artifact; spaces in paths are escaped with `\`.
fn parse_dep_file(contents: &str) -> Vec<PathBuf> {
    let mut deps = Vec::new();
    for line in contents.lines() {
        let Some((_, rest)) = line.split_once(": ") else {
            continue;
        };
        let mut current = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    current.push(' ');
                    chars.next();
                }
                ' ' => {
                    if !current.is_empty() {
                        deps.push(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                _ => current.push(c),
            }
        }
        if !current.is_empty() {
            deps.push(PathBuf::from(current));
        }
    }
    deps
}

/// rustup on these machines does not install a `rust-toolchain.toml` target
/// when cargo runs, so add it here when the sysroot lacks it.
fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot
        .map(|s| s.join("lib/rustlib").join(TARGET).is_dir())
        .unwrap_or(false);
    if installed {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => panic!(
            "the {TARGET} Rust target is not installed and `rustup target add {TARGET}` failed; \
             install it by hand and build again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_files_with_escaped_spaces() {
        let deps = parse_dep_file("/t/a.wasm: /src/a.rs /src/my\\ dir/b.rs\n");
        assert_eq!(
            deps,
            vec![
                PathBuf::from("/src/a.rs"),
                PathBuf::from("/src/my dir/b.rs")
            ]
        );
    }
}

/// A guest written in a language other than Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Built with componentize-py (`.tools/venv`).
    Python,
    /// Built with componentize-js (`tools/node_modules`).
    JavaScript,
}

/// One Python or JavaScript component to build.
#[derive(Debug, Clone)]
pub struct Polyglot {
    /// The output name, e.g. `hello-py` (`hello-py.wasm`).
    pub name: String,
    /// The language.
    pub lang: Lang,
    /// Python: the directory with `app.py`; JavaScript: the `.js` file.
    pub source: PathBuf,
    /// Python: more directories on the module path.
    pub python_path: Vec<PathBuf>,
    /// A WIT directory (a package and its `deps/`).
    pub wit: PathBuf,
    /// The world to build, e.g. `wharf:host/service`.
    pub world: String,
    /// JavaScript: WASI features of the engine to leave out (`http`,
    /// `fetch-event`, ...), so the component imports only what it uses.
    pub js_disable: Vec<String>,
}

/// Where the pinned tools live in a checkout.
fn tool(root: &Path, lang: Lang) -> PathBuf {
    match lang {
        Lang::Python => root.join(".tools/venv/bin/componentize-py"),
        Lang::JavaScript => root.join("tools/node_modules/.bin/componentize-js"),
    }
}

/// Makes sure the Python and JavaScript toolchains are installed, running
/// `scripts/install-guest-tools.sh` (pinned versions, project-local) if not.
pub fn ensure_polyglot_tools(root: &Path) {
    if tool(root, Lang::Python).is_file() && tool(root, Lang::JavaScript).is_file() {
        return;
    }
    println!(
        "cargo:warning=installing the Python and JavaScript guest toolchains (scripts/install-guest-tools.sh)"
    );
    let status = Command::new(root.join("scripts/install-guest-tools.sh")).status();
    if !matches!(status, Ok(s) if s.success()) {
        panic!(
            "the Python and JavaScript guest toolchains are missing and scripts/install-guest-tools.sh failed; \
             it needs python3 (with venv and pip) and Node.js 20+ with npm, and network access to PyPI and npm"
        );
    }
}

fn files_under(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name == "__pycache__" || name == "node_modules" || name.starts_with('.') {
                continue;
            }
            files_under(&entry, out);
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

/// A digest of every input of a polyglot build, so unchanged guests are not
/// rebuilt (a JavaScript build takes most of a minute).
fn fingerprint(guest: &Polyglot, root: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut files = Vec::new();
    let source_dir = if guest.source.is_dir() {
        guest.source.clone()
    } else {
        guest
            .source
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    files_under(&source_dir, &mut files);
    for p in &guest.python_path {
        files_under(p, &mut files);
    }
    files_under(&guest.wit, &mut files);
    files.push(root.join("tools/requirements.txt"));
    files.push(root.join("tools/package-lock.json"));
    // Source directories too (cargo scans them), so that a file added later
    // reruns the build script: listing only today's files would miss it.
    // Not WIT assembled under the target directory, rewritten on every run.
    for dir in std::iter::once(&source_dir)
        .chain(&guest.python_path)
        .chain(std::iter::once(&guest.wit))
        .filter(|d| !d.starts_with(root.join("target")))
    {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{guest:?}").hash(&mut h);
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        f.hash(&mut h);
        fs::read(&f).unwrap_or_default().hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// Builds Python and JavaScript guests into `out_dir`, skipping those whose
/// inputs did not change. Panics (failing the build) when a build fails.
pub fn build_polyglot(root: &Path, out_dir: &Path, guests: &[Polyglot]) -> Vec<Guest> {
    ensure_polyglot_tools(root);
    fs::create_dir_all(out_dir)
        .unwrap_or_else(|e| panic!("failed to create {}: {e}", out_dir.display()));
    let mut built = Vec::new();
    for guest in guests {
        let wasm = out_dir.join(format!("{}.wasm", guest.name));
        let stamp = out_dir.join(format!("{}.stamp", guest.name));
        let print = fingerprint(guest, root);
        if wasm.is_file() && fs::read_to_string(&stamp).ok().as_deref() == Some(print.as_str()) {
            built.push(Guest {
                package: guest.name.clone(),
                wasm,
            });
            continue;
        }
        let mut cmd = Command::new(tool(root, guest.lang));
        match guest.lang {
            Lang::Python => {
                cmd.arg("-d")
                    .arg(&guest.wit)
                    .arg("-w")
                    .arg(&guest.world)
                    .arg("componentize");
                cmd.arg("-p").arg(&guest.source);
                for p in &guest.python_path {
                    cmd.arg("-p").arg(p);
                }
                cmd.arg("app").arg("-o").arg(&wasm);
            }
            Lang::JavaScript => {
                cmd.arg("--wit")
                    .arg(&guest.wit)
                    .arg("--world-name")
                    .arg(&guest.world);
                for feature in &guest.js_disable {
                    cmd.arg("-d").arg(feature);
                }
                cmd.arg("-o").arg(&wasm).arg(&guest.source);
            }
        }
        let output = cmd.output().unwrap_or_else(|e| {
            panic!(
                "failed to run the {:?} toolchain for {}: {e}",
                guest.lang, guest.name
            )
        });
        if !output.status.success() || !wasm.is_file() {
            panic!(
                "building the {:?} guest `{}` failed:\n{}{}",
                guest.lang,
                guest.name,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        fs::write(&stamp, print)
            .unwrap_or_else(|e| panic!("failed to write {}: {e}", stamp.display()));
        built.push(Guest {
            package: guest.name.clone(),
            wasm,
        });
    }
    built
}

/// Assembles a WIT directory: `main` (a package directory) with every file
/// and directory of `deps` copied under `deps/`. Used when a guest's world
/// combines Wharf's WIT with another package's. `out` is left untouched
/// when its contents would not change, so builds that track it do not rerun.
pub fn assemble_wit(out: &Path, main: &Path, deps: &[(&str, &Path)]) -> PathBuf {
    let fresh = out.with_extension("assembling");
    let _ = fs::remove_dir_all(&fresh);
    copy_dir(main, &fresh);
    for (name, dep) in deps {
        let target = fresh.join("deps").join(name);
        if dep.is_dir() {
            copy_dir(dep, &target);
        } else {
            fs::create_dir_all(&target)
                .unwrap_or_else(|e| panic!("failed to create {}: {e}", target.display()));
            let file = dep.file_name().unwrap_or_default();
            fs::copy(dep, target.join(file))
                .unwrap_or_else(|e| panic!("failed to copy {}: {e}", dep.display()));
        }
    }
    if tree_contents(&fresh) == tree_contents(out) {
        let _ = fs::remove_dir_all(&fresh);
    } else {
        let _ = fs::remove_dir_all(out);
        fs::rename(&fresh, out)
            .unwrap_or_else(|e| panic!("failed to move WIT into {}: {e}", out.display()));
    }
    out.to_path_buf()
}

/// Every file under `dir` as (path relative to `dir`, contents), sorted.
fn tree_contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .into_iter()
        .map(|f| {
            let contents = fs::read(&f).unwrap_or_default();
            (f.strip_prefix(dir).unwrap_or(&f).to_path_buf(), contents)
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("failed to create {}: {e}", to.display()));
    for entry in fs::read_dir(from)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", from.display()))
        .flatten()
    {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target)
                .unwrap_or_else(|e| panic!("failed to copy {}: {e}", path.display()));
        }
    }
}
