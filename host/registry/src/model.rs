//! The records the registry keeps.

use serde::{Deserialize, Serialize};
use wharf_spec::{DeploymentSpec, Name};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One uploaded version of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// sha256 of the component's bytes (hex); the version's identity.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// When it was first uploaded.
    pub uploaded_ms: u64,
    /// How long compiling it took, in milliseconds.
    pub compile_ms: u64,
}

/// A share of a deployment's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficEntry {
    /// The version.
    pub digest: String,
    /// Percent of requests, 1 to 100; the entries of a record sum to 100.
    pub weight: u32,
}

/// Something that happened to a deployment, for `wharf versions` and audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// When.
    pub at_ms: u64,
    /// What: `upload`, `activate`, `canary`, `promote`, `abort`, `rollback`, `spec`.
    pub action: String,
    /// The version it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The team that did it.
    pub team: String,
}

/// Everything the registry knows about a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    /// The name.
    pub name: Name,
    /// The owning team.
    pub team: Name,
    /// Route, limits, grants, config.
    pub spec: DeploymentSpec,
    /// Every version, oldest first.
    pub versions: Vec<VersionRecord>,
    /// What serves now; empty when nothing is active.
    pub traffic: Vec<TrafficEntry>,
    /// The last events, oldest first (bounded).
    pub history: Vec<HistoryEvent>,
    /// Set by the store on every write.
    #[serde(default)]
    pub revision: u64,
    /// When the name was created.
    pub created_ms: u64,
}

/// How many history events a record keeps.
pub const MAX_HISTORY: usize = 200;

impl DeploymentRecord {
    /// A new record with no versions.
    pub fn new(name: Name, team: Name, spec: DeploymentSpec) -> Self {
        Self {
            name,
            team,
            spec,
            versions: Vec::new(),
            traffic: Vec::new(),
            history: Vec::new(),
            revision: 0,
            created_ms: now_ms(),
        }
    }

    /// The version with this digest (or unique digest prefix).
    pub fn version(&self, digest_or_prefix: &str) -> Option<&VersionRecord> {
        let mut matches = self
            .versions
            .iter()
            .filter(|v| v.digest.starts_with(digest_or_prefix));
        let first = matches.next()?;
        if matches.next().is_some() && first.digest != digest_or_prefix {
            return None;
        }
        Some(first)
    }

    /// The version taking the largest share of traffic (the primary).
    pub fn primary(&self) -> Option<&TrafficEntry> {
        self.traffic.iter().max_by_key(|t| t.weight)
    }

    /// Appends an event, dropping the oldest past [`MAX_HISTORY`].
    pub fn record(&mut self, action: &str, digest: Option<&str>, team: &str) {
        self.history.push(HistoryEvent {
            at_ms: now_ms(),
            action: action.to_string(),
            digest: digest.map(str::to_string),
            team: team.to_string(),
        });
        let excess = self.history.len().saturating_sub(MAX_HISTORY);
        self.history.drain(..excess);
    }
}
