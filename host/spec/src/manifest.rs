//! The TOML manifest an operator writes for `wharf serve --manifest`.
//!
//! ```toml
//! [[team]]
//! name = "shop"
//! token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//!
//! [[component]]
//! name = "inventory"
//! source = "components/inventory.wasm"
//! team = "shop"
//! route = "/inventory"
//!
//! [component.limits]
//! memory = "64MiB"
//! timeout = "2s"
//!
//! [component.grants]
//! keyvalue = true
//! ```

use crate::{DeploymentSpec, Exposure, Grants, Limits, Name, Route, SpecError};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// A team and the sha256 of its admin token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamEntry {
    /// Team name (same rules as deployment names).
    pub name: Name,
    /// Lowercase hex sha256 of the bearer token.
    pub token_sha256: String,
}

/// One `[[component]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestComponent {
    /// Deployment name.
    pub name: Name,
    /// Path of the `.wasm` component, relative to the manifest.
    pub source: PathBuf,
    /// Owning team; `operator` when unset.
    #[serde(default)]
    pub team: Option<Name>,
    /// Route; `/NAME` when unset.
    #[serde(default)]
    pub route: Option<Route>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// Grants.
    #[serde(default)]
    pub grants: Grants,
    /// `wasi:config/store` values.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secret `wasi:config/store` values.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Who may call this component's exports.
    #[serde(default)]
    pub exports: Exposure,
    /// Start even if an imported interface has no provider.
    #[serde(default)]
    pub allow_unresolved: bool,
}

impl ManifestComponent {
    /// The deployment spec this entry describes, with relative paths resolved
    /// against `base` (the manifest's directory).
    pub fn spec(&self, base: &Path) -> DeploymentSpec {
        let mut grants = self.grants.clone();
        if let Some(files) = &mut grants.files
            && files.path.is_relative()
        {
            files.path = base.join(&files.path);
        }
        DeploymentSpec {
            route: self.route.clone(),
            limits: self.limits.clone(),
            grants,
            config: self.config.clone(),
            secrets: self.secrets.clone(),
            exports: self.exports.clone(),
            allow_unresolved: self.allow_unresolved,
        }
    }

    /// The component's path, resolved against `base`.
    pub fn source_path(&self, base: &Path) -> PathBuf {
        if self.source.is_relative() {
            base.join(&self.source)
        } else {
            self.source.clone()
        }
    }
}

/// A whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Teams allowed to use the admin API.
    #[serde(default, rename = "team")]
    pub teams: Vec<TeamEntry>,
    /// Components to serve.
    #[serde(default, rename = "component")]
    pub components: Vec<ManifestComponent>,
}

/// A manifest that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("failed to read manifest {path}: {source}")]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML or schema error (unknown keys included).
    #[error("manifest {path} is invalid: {message}")]
    Parse {
        /// The manifest path.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value that parses but is not allowed.
    #[error("manifest {path}, component `{component}`: {source}")]
    Spec {
        /// The manifest path.
        path: PathBuf,
        /// The component entry.
        component: String,
        /// What is wrong.
        source: SpecError,
    },
    /// Two entries claim the same name or route.
    #[error("manifest {path}: {message}")]
    Conflict {
        /// The manifest path.
        path: PathBuf,
        /// Which names or routes collide.
        message: String,
    },
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates manifest text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut names = HashSet::new();
        let mut routes = HashSet::new();
        for component in &manifest.components {
            let spec = component.spec(base);
            spec.validate().map_err(|source| ManifestError::Spec {
                path: path.to_path_buf(),
                component: component.name.to_string(),
                source,
            })?;
            if !names.insert(component.name.clone()) {
                return Err(ManifestError::Conflict {
                    path: path.to_path_buf(),
                    message: format!("component `{}` is listed twice", component.name),
                });
            }
            let route = spec.route_for(&component.name);
            if !routes.insert(route.clone()) {
                return Err(ManifestError::Conflict {
                    path: path.to_path_buf(),
                    message: format!("route `{route}` is used by two components"),
                });
            }
        }
        for team in &manifest.teams {
            let t = &team.token_sha256;
            if t.len() != 64 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ManifestError::Conflict {
                    path: path.to_path_buf(),
                    message: format!(
                        "team `{}`: token_sha256 must be 64 hex digits (e.g. from `printf %s TOKEN | sha256sum`)",
                        team.name
                    ),
                });
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_entry() {
        let m = Manifest::parse(
            r#"
            [[component]]
            name = "inventory"
            source = "inventory.wasm"
            route = "/inv"
            [component.limits]
            memory = "64MiB"
            timeout = "2s"
            max_concurrency = 5
            [component.grants]
            keyvalue = true
            outbound = ["https://api.example.com"]
            files = { path = "data", mode = "rw" }
            [component.config]
            region = "eu"
            "#,
            Path::new("/srv/wharf.toml"),
        )
        .unwrap();
        let c = &m.components[0];
        let spec = c.spec(Path::new("/srv"));
        assert_eq!(spec.limits.memory.bytes(), 64 << 20);
        assert_eq!(spec.limits.timeout.0, 2000);
        assert_eq!(spec.limits.cpu, Limits::default().cpu);
        assert_eq!(spec.grants.files.unwrap().path, PathBuf::from("/srv/data"));
        assert_eq!(
            c.source_path(Path::new("/srv")),
            PathBuf::from("/srv/inventory.wasm")
        );
        assert_eq!(spec.route.unwrap().as_str(), "/inv");
    }

    #[test]
    fn unknown_keys_and_conflicts_are_reported() {
        let err = Manifest::parse(
            "[[component]]\nname = \"a\"\nsource = \"a.wasm\"\nrouet = \"/x\"\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("rouet"), "{err}");

        let err = Manifest::parse(
            "[[component]]\nname = \"a\"\nsource = \"a.wasm\"\n[[component]]\nname = \"b\"\nsource = \"b.wasm\"\nroute = \"/a\"\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("route `/a`"), "{err}");

        let err = Manifest::parse(
            "[[component]]\nname = \"Bad\"\nsource = \"a.wasm\"\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid name"), "{err}");
    }
}
