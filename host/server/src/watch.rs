//! `wharf serve --manifest wharf.toml --watch`: redeploy exactly the
//! components whose `.wasm` file or manifest entry changed.
//!
//! Changes go through the same validated path as an upload, so a broken file
//! logs a clear error and the version that was serving keeps serving. The
//! directories of the manifest and of every source are watched (editors and
//! build tools often replace files by renaming), and bursts of events are
//! coalesced.

use crate::platform::Platform;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use wharf_spec::Manifest;

/// How long to wait for more events before reloading.
const SETTLE: Duration = Duration::from_millis(300);

fn watched_dirs(manifest_path: &Path, manifest: &Manifest) -> BTreeSet<PathBuf> {
    let base = manifest_path
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut dirs = BTreeSet::new();
    dirs.insert(base.clone());
    for c in &manifest.components {
        if let Some(dir) = c.source_path(&base).parent() {
            dirs.insert(dir.to_path_buf());
        }
    }
    dirs
}

fn relevant(manifest_path: &Path, manifest: &Manifest, changed: &Path) -> bool {
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    let same = |a: &Path, b: &Path| {
        a == b
            || a.canonicalize()
                .ok()
                .zip(b.canonicalize().ok())
                .is_some_and(|(x, y)| x == y)
    };
    same(changed, manifest_path)
        || manifest
            .components
            .iter()
            .any(|c| same(changed, &c.source_path(base)))
}

/// Watches until `shutdown` flips.
pub(crate) async fn run(
    platform: Arc<Platform>,
    manifest_path: PathBuf,
    mut manifest: Manifest,
    mut shutdown: watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        }) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch the manifest; --watch is off");
                return;
            }
        };
    let mut dirs = BTreeSet::new();
    let rewatch = |watcher: &mut notify::RecommendedWatcher,
                   dirs: &mut BTreeSet<PathBuf>,
                   manifest: &Manifest| {
        let wanted = watched_dirs(&manifest_path, manifest);
        for dir in dirs.difference(&wanted) {
            let _ = watcher.unwatch(dir);
        }
        for dir in wanted.difference(dirs) {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory");
            }
        }
        *dirs = wanted;
    };
    rewatch(&mut watcher, &mut dirs, &manifest);
    tracing::info!(manifest = %manifest_path.display(), "watching for changes");

    loop {
        let first = tokio::select! {
            path = rx.recv() => match path { Some(p) => p, None => return },
            _ = shutdown.changed() => return,
        };
        let mut any = relevant(&manifest_path, &manifest, &first);
        // Coalesce a burst (write, chmod, rename...) into one reload.
        loop {
            match tokio::time::timeout(SETTLE, rx.recv()).await {
                Ok(Some(path)) => any |= relevant(&manifest_path, &manifest, &path),
                Ok(None) => return,
                Err(_) => break,
            }
        }
        if !any {
            continue;
        }
        let next = match Manifest::load(&manifest_path) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "manifest changed but is invalid; nothing was redeployed");
                continue;
            }
        };
        let base = manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let errors = platform.apply_manifest(&next, &base, Some(&manifest)).await;
        for (name, error) in &errors {
            tracing::error!(deployment = %name, error = %error, "redeploy failed; the previous version keeps serving");
            if let Ok(n) = wharf_spec::Name::new(name) {
                platform.logs(&n).push(
                    &Arc::from("host"),
                    wharf_capabilities::logging::Source::Host,
                    "",
                    &format!("redeploy from the manifest failed: {error}"),
                );
            }
        }
        manifest = next;
        rewatch(&mut watcher, &mut dirs, &manifest);
    }
}
