//! What serves right now: an immutable table of live deployments behind an
//! atomic pointer.
//!
//! The request path only ever loads the current table (lock-free), looks up
//! a route and clones an `Arc` to a version. A change (deploy, swap, canary,
//! rollback, removal) builds a new table and swaps the pointer; requests that
//! already hold a version finish on it, and the old version is freed when the
//! last of them ends.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wharf_capabilities::logging::LogBuffer;
use wharf_runtime::{LoadedVersion, Providers, Resolved};
use wharf_spec::{InterfaceName, Name, Route};

/// One deployment as it serves now.
#[derive(Debug)]
pub struct LiveDeployment {
    /// Its name.
    pub name: Name,
    /// Its owning team.
    pub team: Name,
    /// Where it is mounted.
    pub route: Route,
    /// Versions and their cumulative weights (the last is 100).
    traffic: Vec<(Arc<LoadedVersion>, u32)>,
    /// Its log buffer (kept across swaps).
    pub logs: Arc<LogBuffer>,
    /// Swaps so far (kept across swaps).
    pub swaps: Arc<AtomicU64>,
}

impl LiveDeployment {
    /// A deployment serving `traffic` (version, percent) pairs.
    pub fn new(
        name: Name,
        team: Name,
        route: Route,
        traffic: Vec<(Arc<LoadedVersion>, u32)>,
        logs: Arc<LogBuffer>,
        swaps: Arc<AtomicU64>,
    ) -> Self {
        let mut total = 0;
        let traffic = traffic
            .into_iter()
            .map(|(v, w)| {
                total += w;
                (v, total)
            })
            .collect();
        Self {
            name,
            team,
            route,
            traffic,
            logs,
            swaps,
        }
    }

    /// Picks the version that serves the next request, by weight.
    pub fn pick(&self) -> Option<&Arc<LoadedVersion>> {
        match self.traffic.as_slice() {
            [] => None,
            [(only, _)] => Some(only),
            many => {
                let total = many.last().map(|(_, w)| *w).unwrap_or(100).max(1);
                let roll = rand::random_range(0..total);
                many.iter()
                    .find(|(_, cum)| roll < *cum)
                    .map(|(v, _)| v)
                    .or(many.last().map(|(v, _)| v))
            }
        }
    }

    /// Each version with its weight (percent).
    pub fn versions(&self) -> impl Iterator<Item = (&Arc<LoadedVersion>, u32)> {
        let mut previous = 0;
        self.traffic.iter().map(move |(v, cum)| {
            let weight = cum - previous;
            previous = *cum;
            (v, weight)
        })
    }

    /// The version with the largest share.
    pub fn primary(&self) -> Option<&Arc<LoadedVersion>> {
        self.versions().max_by_key(|(_, w)| *w).map(|(v, _)| v)
    }

    /// The loaded version with this digest, if it serves.
    pub fn version(&self, digest: &str) -> Option<&Arc<LoadedVersion>> {
        self.traffic
            .iter()
            .map(|(v, _)| v)
            .find(|v| v.digest() == digest)
    }

    /// Counts a swap.
    pub fn count_swap(&self) {
        self.swaps.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Table {
    by_name: HashMap<Name, Arc<LiveDeployment>>,
    by_route: HashMap<String, Arc<LiveDeployment>>,
    /// Unversioned interface name → deployments exporting a version of it.
    exports: HashMap<String, Vec<Arc<LiveDeployment>>>,
}

impl Table {
    fn build(deployments: impl Iterator<Item = Arc<LiveDeployment>>) -> Self {
        let mut table = Table::default();
        for d in deployments {
            table
                .by_route
                .insert(d.route.as_str().to_string(), d.clone());
            let mut seen = Vec::new();
            for (version, _) in &d.traffic {
                for export in version.exports() {
                    let key = export.parsed.unversioned();
                    if !seen.contains(&key) {
                        table
                            .exports
                            .entry(key.clone())
                            .or_default()
                            .push(d.clone());
                        seen.push(key);
                    }
                }
            }
            table.by_name.insert(d.name.clone(), d);
        }
        for list in table.exports.values_mut() {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        table
    }
}

/// The live deployments.
#[derive(Default)]
pub struct Live {
    table: ArcSwap<Table>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("deployments", &self.table.load().by_name.len())
            .finish()
    }
}

impl Live {
    /// The deployment mounted at the longest route that prefixes `path` (by
    /// whole segments), and the length of that prefix.
    pub fn route(&self, path: &str) -> Option<(Arc<LiveDeployment>, usize)> {
        let table = self.table.load();
        let mut end = path.len();
        loop {
            let candidate = &path[..end];
            if candidate.is_empty() {
                return table.by_route.get("/").map(|d| (d.clone(), 0));
            }
            if let Some(d) = table.by_route.get(candidate) {
                return Some((d.clone(), end));
            }
            end = candidate.rfind('/')?;
        }
    }

    /// The deployment called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LiveDeployment>> {
        let table = self.table.load();
        table.by_name.get(name).cloned()
    }

    /// Every live deployment, sorted by name.
    pub fn all(&self) -> Vec<Arc<LiveDeployment>> {
        let table = self.table.load();
        let mut all: Vec<_> = table.by_name.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Installs (or replaces) a deployment. Callers serialize changes.
    pub fn put(&self, deployment: Arc<LiveDeployment>) {
        let current = self.table.load();
        let mut all: Vec<_> = current
            .by_name
            .values()
            .filter(|d| d.name != deployment.name)
            .cloned()
            .collect();
        all.push(deployment);
        let next = Table::build(all.into_iter());
        self.table.store(Arc::new(next));
    }

    /// Stops routing to `name`. In-flight requests finish on what they hold.
    pub fn remove(&self, name: &Name) {
        let current = self.table.load();
        let next = Table::build(
            current
                .by_name
                .values()
                .filter(|d| &d.name != name)
                .cloned(),
        );
        self.table.store(Arc::new(next));
    }
}

impl Providers for Live {
    fn resolve(&self, import: &InterfaceName) -> Option<Resolved> {
        let table = self.table.load();
        let providers = table.exports.get(&import.unversioned())?;
        let mut best: Option<(Resolved, Option<semver::Version>)> = None;
        for deployment in providers {
            // Weighted pick first, so a provider's canary takes its share of
            // calls too; fall back to any version that satisfies the import.
            let picked = deployment
                .pick()
                .into_iter()
                .chain(deployment.traffic.iter().map(|(v, _)| v));
            for version in picked {
                let Some(export) = version
                    .exports()
                    .find(|e| import.is_satisfied_by(&e.parsed))
                else {
                    continue;
                };
                let better = match &best {
                    None => true,
                    Some((_, v)) => export.parsed.version > *v,
                };
                if better {
                    best = Some((
                        Resolved {
                            version: version.clone(),
                            export: export.name.clone(),
                        },
                        export.parsed.version.clone(),
                    ));
                }
                break;
            }
        }
        best.map(|(r, _)| r)
    }

    fn candidates(&self, import: &InterfaceName) -> Vec<String> {
        let table = self.table.load();
        let Some(providers) = table.exports.get(&import.unversioned()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for d in providers {
            for (v, _) in d.versions() {
                for e in v
                    .exports()
                    .filter(|e| e.parsed.unversioned() == import.unversioned())
                {
                    out.push(format!("`{}` exports `{}`", d.name, e.name));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Lets the runtime resolve through the live table without owning it.
pub struct LiveProviders(pub Arc<Live>);

impl Providers for LiveProviders {
    fn resolve(&self, import: &InterfaceName) -> Option<Resolved> {
        self.0.resolve(import)
    }
    fn candidates(&self, import: &InterfaceName) -> Vec<String> {
        self.0.candidates(import)
    }
}
