//! What serves right now: an immutable table of live deployments behind an
//! atomic pointer.
//!
//! The request path only ever loads the current table (lock-free), looks up
//! a route and clones an `Arc` to a version. A change (deploy, swap, canary,
//! rollback, removal) builds a new table and swaps the pointer; requests that
//! already hold a version finish on it, and their instances end with them.
//! The versions that served just before stay loaded on standby (at most
//! [`STANDBY`]), so swapping back is instant; older ones are freed when their
//! last request ends.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wharf_capabilities::logging::LogBuffer;
use wharf_runtime::{LoadedVersion, Providers, Resolved};
use wharf_spec::{InterfaceName, Name, Route};

/// How many versions that served before stay loaded for instant swap-back.
pub const STANDBY: usize = 2;

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
    /// Versions that served before, newest first, kept loaded (compiled,
    /// linked, with warm pool slots) so that activating one again, as a
    /// rollback or a swap back, skips reading and checking its artifact.
    standby: Vec<Arc<LoadedVersion>>,
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
            standby: Vec::new(),
        }
    }

    /// Keeps what served in `before` (and its standby) loaded, except the
    /// versions that serve now and those `keep` rejects, newest first, at
    /// most [`STANDBY`].
    pub fn with_standby_from(
        mut self,
        before: Option<&LiveDeployment>,
        keep: impl Fn(&LoadedVersion) -> bool,
    ) -> Self {
        if let Some(before) = before {
            let candidates = before
                .traffic
                .iter()
                .map(|(v, _)| v)
                .chain(before.standby.iter());
            for v in candidates {
                let taken = self.version(v.digest()).is_some()
                    || self.standby.iter().any(|s| s.digest() == v.digest());
                if !taken && keep(v) && self.standby.len() < STANDBY {
                    self.standby.push(v.clone());
                }
            }
        }
        self
    }

    /// A loaded version with this digest that serves or stands by.
    pub fn loaded(&self, digest: &str) -> Option<&Arc<LoadedVersion>> {
        self.version(digest)
            .or_else(|| self.standby.iter().find(|v| v.digest() == digest))
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

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_runtime::{NoProviders, Runtime, RuntimeConfig, VersionParams};
    use wharf_spec::DeploymentSpec;

    #[tokio::test]
    async fn versions_that_served_before_stand_by_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let kv = wharf_capabilities::keyvalue::RedbBackend::open(&dir.path().join("kv")).unwrap();
        let runtime = Runtime::new(RuntimeConfig::small(), Arc::new(kv)).unwrap();
        let bytes: Arc<[u8]> = wharf_test_artifacts::bytes(wharf_test_artifacts::HELLO).into();
        let component = runtime.compile(bytes).await.unwrap();
        let name = Name::new("svc").unwrap();
        let logs = LogBuffer::new("svc", 10);
        let version = |digest: &str| {
            runtime
                .prepare(
                    component.clone(),
                    VersionParams {
                        name: name.clone(),
                        digest: digest.repeat(64),
                        gate: Arc::new(tokio::sync::Semaphore::new(1)),
                        spec: Arc::new(DeploymentSpec::default()),
                        logs: logs.clone(),
                        providers: Arc::new(NoProviders),
                        allow_unresolved: false,
                    },
                )
                .unwrap()
        };
        let serving = |v: &Arc<LoadedVersion>, before: Option<&LiveDeployment>| {
            LiveDeployment::new(
                name.clone(),
                name.clone(),
                name.default_route(),
                vec![(v.clone(), 100)],
                logs.clone(),
                Default::default(),
            )
            .with_standby_from(before, |_| true)
        };
        let standby = |d: &LiveDeployment| -> Vec<String> {
            d.standby
                .iter()
                .map(|v| v.digest()[..1].to_string())
                .collect()
        };
        let (a, b, c) = (version("a"), version("b"), version("c"));

        let one = serving(&a, None);
        assert!(standby(&one).is_empty());
        let two = serving(&b, Some(&one));
        assert_eq!(standby(&two), ["a"]);
        let three = serving(&c, Some(&two));
        assert_eq!(standby(&three), ["b", "a"]);
        // Swapping back finds the same loaded version, which leaves standby.
        let back = three.loaded(&"a".repeat(64)).unwrap().clone();
        assert!(Arc::ptr_eq(&back, &a));
        let four = serving(&back, Some(&three));
        assert_eq!(standby(&four), ["c", "b"]);
        // At most STANDBY are kept, and `keep` can refuse them.
        let five = serving(&b, Some(&four));
        assert_eq!(standby(&five), ["a", "c"]);
        let six = LiveDeployment::new(
            name.clone(),
            name.clone(),
            name.default_route(),
            vec![(c.clone(), 100)],
            logs.clone(),
            Default::default(),
        )
        .with_standby_from(Some(&five), |v| v.digest().starts_with('a'));
        assert_eq!(standby(&six), ["a"]);
    }
}
