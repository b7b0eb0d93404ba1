//! Wharf's vocabulary: deployment names, routes, limits and grants, as an
//! operator writes them (manifest, deploy flags, admin API) and as every other
//! crate consumes them.
//!
//! Parsing is strict and every error says what was wrong and what to write
//! instead: these values come from people and from the network.

mod manifest;
mod units;

pub use manifest::{Manifest, ManifestComponent, ManifestError, TeamEntry};
pub use units::{ByteSize, Millis};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The stable name of a deployment, e.g. `inventory`.
///
/// DNS-label-like: 1 to 63 characters of `[a-z0-9-]`, starting with a letter
/// and not ending with `-`, so it is safe in URLs, file names, metric labels
/// and key-value namespaces alike.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| {
            Err(SpecError::InvalidName {
                name: name.chars().take(80).collect(),
                why: why.to_string(),
            })
        };
        if name.is_empty() || name.len() > 63 {
            return bad("it must be 1 to 63 characters long");
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad("it must start with a lowercase letter");
        }
        if name.ends_with('-') {
            return bad("it must not end with `-`");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return bad("only lowercase letters, digits and `-` are allowed");
        }
        Ok(Self(name.to_string()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The default route of this name: `/NAME`.
    pub fn default_route(&self) -> Route {
        Route(format!("/{}", self.0))
    }
}

impl TryFrom<String> for Name {
    type Error = SpecError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Name::new(&value)
    }
}

impl From<Name> for String {
    fn from(value: Name) -> Self {
        value.0
    }
}

// `Name`'s derived `Hash` and `Eq` are those of its string, so maps keyed by
// `Name` can be queried with `&str`.
impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Path prefixes Wharf keeps for itself on the ingress listener.
pub const RESERVED_ROUTES: &[&str] = &["/rpc", "/_wharf"];

/// A path prefix a deployment is mounted at, e.g. `/inventory` or `/api/v2`.
///
/// Always starts with `/` and has no trailing `/` (except the root route `/`).
/// Matching is by whole segments: `/shop` serves `/shop` and `/shop/cart`,
/// never `/shopping`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Route(String);

impl Route {
    /// Validates and normalises a route (a trailing `/` is dropped).
    pub fn new(route: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| {
            Err(SpecError::InvalidRoute {
                route: route.chars().take(200).collect(),
                why: why.to_string(),
            })
        };
        if !route.starts_with('/') {
            return bad("it must start with `/`");
        }
        if route.len() > 200 {
            return bad("it must be at most 200 characters");
        }
        let trimmed = if route.len() > 1 {
            route.trim_end_matches('/')
        } else {
            route
        };
        if trimmed.is_empty() {
            return Ok(Self("/".into()));
        }
        if trimmed != "/" {
            for segment in trimmed[1..].split('/') {
                if segment.is_empty() {
                    return bad("it must not contain empty segments (`//`)");
                }
                if segment == "." || segment == ".." {
                    return bad("it must not contain `.` or `..` segments");
                }
                if !segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
                {
                    return bad("segments may only use letters, digits and `-._~`");
                }
            }
        }
        for reserved in RESERVED_ROUTES {
            if trimmed == *reserved || trimmed.starts_with(&format!("{reserved}/")) {
                return bad(&format!("`{reserved}` is reserved by Wharf"));
            }
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The route as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Route {
    type Error = SpecError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Route::new(&value)
    }
}

impl From<Route> for String {
    fn from(value: Route) -> Self {
        value.0
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Per-deployment limits. Every field has a default (see `Default`), so an
/// operator only writes what they change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Memory of one instance: all its linear memories and tables together.
    pub memory: ByteSize,
    /// Wall-clock time one request (or one service call) may take.
    pub timeout: Millis,
    /// CPU time one request may spend executing WebAssembly, enforced with
    /// epoch interruption at the engine's tick granularity.
    pub cpu: Millis,
    /// How many instances of this deployment may run at once. Requests beyond
    /// this get `503` with `Retry-After`; they never take another
    /// deployment's pool slots.
    pub max_concurrency: u32,
    /// Bytes the guest may hand the host in a single host call (strings,
    /// lists): wasmtime's hostcall fuel.
    pub hostcall_data: ByteSize,
    /// Handles (resources) one instance may hold in the host's table.
    pub max_resources: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: ByteSize::mib(128),
            timeout: Millis::from_secs(30),
            cpu: Millis::from_secs(10),
            max_concurrency: 100,
            hostcall_data: ByteSize::mib(16),
            max_resources: 10_000,
        }
    }
}

impl Limits {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |field: &str, why: &str| {
            Err(SpecError::InvalidLimit {
                field: field.into(),
                why: why.into(),
            })
        };
        if self.memory.bytes() < 64 * 1024 {
            return bad("memory", "must be at least 64KiB (one WebAssembly page)");
        }
        if self.timeout.0 == 0 {
            return bad("timeout", "must be more than 0ms");
        }
        if self.cpu.0 == 0 {
            return bad("cpu", "must be more than 0ms");
        }
        if self.max_concurrency == 0 {
            return bad("max_concurrency", "must be at least 1");
        }
        if self.hostcall_data.bytes() < 1024 {
            return bad("hostcall_data", "must be at least 1KiB");
        }
        if self.max_resources == 0 {
            return bad("max_resources", "must be at least 1");
        }
        Ok(())
    }
}

/// Access mode of a files grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FilesMode {
    /// Read-only.
    #[default]
    Ro,
    /// Read-write.
    Rw,
}

/// A directory of the host's filesystem a deployment may use, visible to the
/// guest as `/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesGrant {
    /// Host directory. Relative paths are relative to the manifest (or, over
    /// the admin API, to the server's data directory's `files/`).
    pub path: PathBuf,
    /// `ro` (default) or `rw`.
    #[serde(default)]
    pub mode: FilesMode,
}

/// What a deployment is allowed beyond the platform interfaces. Nothing is
/// granted unless listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Grants {
    /// `wasi:keyvalue`: the deployment's own store.
    pub keyvalue: bool,
    /// `wasi:http/outgoing-handler`: origins the deployment may call, e.g.
    /// `https://api.example.com`, `http://127.0.0.1:9000`, `https://*.example.com`.
    pub outbound: Vec<String>,
    /// A directory through `wasi:filesystem`.
    pub files: Option<FilesGrant>,
    /// Interfaces exported by other deployments that this one may import,
    /// e.g. `example:catalog/items@0.1.0` (any compatible version).
    pub calls: Vec<String>,
}

/// Who may call the interfaces a deployment exports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exposure {
    /// Deployments allowed to call this one's interfaces. `None` (the
    /// default) lets any deployment that was granted the interface call it.
    pub callers: Option<Vec<Name>>,
    /// Calls from outside through the JSON gateway (`/rpc/...`).
    pub external: External,
}

impl Default for Exposure {
    fn default() -> Self {
        Self {
            callers: None,
            external: External::Token,
        }
    }
}

/// Access to a deployment's interfaces over the JSON gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum External {
    /// Any request with a valid team token (the default).
    #[default]
    Token,
    /// Anyone who can reach the ingress listener.
    Public,
    /// Nobody: the interfaces are only for other deployments.
    None,
}

/// Everything about a deployment except its code: where it is mounted, what
/// it may use, how much, and with which configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentSpec {
    /// Path prefix on the ingress; `/NAME` when unset.
    pub route: Option<Route>,
    /// Resource limits.
    pub limits: Limits,
    /// Capabilities.
    pub grants: Grants,
    /// `wasi:config/store` values, shown in the admin API.
    pub config: BTreeMap<String, String>,
    /// `wasi:config/store` values that are never shown or logged.
    pub secrets: BTreeMap<String, String>,
    /// Who may call this deployment's exported interfaces.
    pub exports: Exposure,
    /// Serve even when an imported interface has no provider yet (calls fail
    /// with a clear error until one is deployed).
    pub allow_unresolved: bool,
}

impl DeploymentSpec {
    /// The route this deployment is mounted at.
    pub fn route_for(&self, name: &Name) -> Route {
        self.route.clone().unwrap_or_else(|| name.default_route())
    }

    /// Validates every part of the spec.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.limits.validate()?;
        for origin in &self.grants.outbound {
            OriginPattern::parse(origin)?;
        }
        for iface in &self.grants.calls {
            InterfaceName::parse(iface)?;
        }
        for key in self.config.keys().chain(self.secrets.keys()) {
            if key.is_empty() || key.len() > 256 {
                return Err(SpecError::InvalidConfig {
                    key: key.chars().take(80).collect(),
                    why: "keys must be 1 to 256 characters".into(),
                });
            }
        }
        if let Some(key) = self.config.keys().find(|k| self.secrets.contains_key(*k)) {
            return Err(SpecError::InvalidConfig {
                key: key.clone(),
                why: "the key is both in `config` and in `secrets`; keep it in one".into(),
            });
        }
        Ok(())
    }

    /// A copy safe to show: secret values replaced by `"<redacted>"`.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for value in copy.secrets.values_mut() {
            *value = "<redacted>".into();
        }
        copy
    }
}

/// A parsed `wasi:http` outbound allow-list entry: `scheme://host[:port]`,
/// where host may start with `*.` to allow subdomains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    /// `http` or `https`.
    pub scheme: String,
    /// Lowercase host, without brackets for IPv6; may start with `*.`.
    pub host: String,
    /// Explicit port, or the scheme's default.
    pub port: u16,
}

impl OriginPattern {
    /// Parses an allow-list entry.
    pub fn parse(origin: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| {
            Err(SpecError::InvalidOrigin {
                origin: origin.chars().take(200).collect(),
                why: why.into(),
            })
        };
        let Some((scheme, rest)) = origin.split_once("://") else {
            return bad("write it as scheme://host[:port], e.g. https://api.example.com");
        };
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return bad("the scheme must be http or https"),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return bad("only an origin is allowed: no path, query or user info");
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return bad("an IPv6 address needs a closing `]`");
            };
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse::<u16>().ok(),
                None if after.is_empty() => Some(default_port),
                None => None,
            };
            (host.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), port.parse::<u16>().ok()),
                None => (rest.to_string(), Some(default_port)),
            }
        };
        let Some(port) = port else {
            return bad("the port must be a number from 0 to 65535");
        };
        if host.is_empty() {
            return bad("the host is empty");
        }
        let host = host.to_ascii_lowercase();
        let name_part = host.strip_prefix("*.").unwrap_or(&host);
        if name_part.is_empty()
            || !name_part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c))
        {
            return bad("the host may only use letters, digits, `-`, `.` (and `*.` in front)");
        }
        Ok(Self { scheme, host, port })
    }

    /// Whether `scheme://host:port` is allowed by this pattern.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if !self.scheme.eq_ignore_ascii_case(scheme) || self.port != port {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match self.host.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1
                    && host.to_ascii_lowercase().ends_with(&format!(".{suffix}"))
            }
            None => self.host.eq_ignore_ascii_case(host),
        }
    }
}

/// A WIT interface name: `namespace:package/interface[@version]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceName {
    /// `namespace:package`.
    pub package: String,
    /// The interface within the package.
    pub interface: String,
    /// The package version, if any.
    pub version: Option<semver::Version>,
}

impl InterfaceName {
    /// Parses `ns:pkg/iface@1.2.3`.
    pub fn parse(name: &str) -> Result<Self, SpecError> {
        let bad = || {
            Err(SpecError::InvalidInterface {
                name: name.chars().take(200).collect(),
            })
        };
        let (path, version) = match name.split_once('@') {
            Some((path, v)) => match semver::Version::parse(v) {
                Ok(v) => (path, Some(v)),
                Err(_) => return bad(),
            },
            None => (name, None),
        };
        let Some((package, interface)) = path.split_once('/') else {
            return bad();
        };
        if !package.contains(':') || interface.is_empty() || interface.contains('/') {
            return bad();
        }
        Ok(Self {
            package: package.to_string(),
            interface: interface.to_string(),
            version,
        })
    }

    /// The name without its version: `ns:pkg/iface`.
    pub fn unversioned(&self) -> String {
        format!("{}/{}", self.package, self.interface)
    }

    /// Whether an export named `provided` can satisfy an import named `self`
    /// under WIT's semver rules: same package and interface, and versions
    /// compatible (same major for `>=1`, same minor for `0.x`, same patch for
    /// `0.0.x`), with the provider at least as new as the import.
    pub fn is_satisfied_by(&self, provided: &InterfaceName) -> bool {
        if self.package != provided.package || self.interface != provided.interface {
            return false;
        }
        match (&self.version, &provided.version) {
            (None, None) => true,
            (Some(want), Some(have)) => {
                let same_track = if want.major > 0 {
                    want.major == have.major
                } else if want.minor > 0 {
                    have.major == 0 && want.minor == have.minor
                } else {
                    have.major == 0 && have.minor == 0 && want.patch == have.patch
                };
                same_track && have >= want
            }
            _ => false,
        }
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.package, self.interface)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// Everything that can be wrong with a spec, a manifest entry or a flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A deployment name.
    #[error(
        "invalid name `{name}`: {why}; names are 1-63 characters of a-z, 0-9 and `-`, starting with a letter"
    )]
    InvalidName {
        /// The offending name (shortened).
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// A route.
    #[error("invalid route `{route}`: {why}")]
    InvalidRoute {
        /// The offending route (shortened).
        route: String,
        /// What is wrong with it.
        why: String,
    },
    /// A limit value.
    #[error("invalid limit `{field}`: {why}")]
    InvalidLimit {
        /// Which limit.
        field: String,
        /// What is wrong with it.
        why: String,
    },
    /// A size such as `64MiB`.
    #[error(
        "invalid size `{value}`: write a number with an optional unit, e.g. 512KiB, 64MiB, 1GiB"
    )]
    InvalidSize {
        /// The offending text.
        value: String,
    },
    /// A duration such as `2s`.
    #[error("invalid duration `{value}`: write a number with a unit, e.g. 250ms, 2s, 1m")]
    InvalidDuration {
        /// The offending text.
        value: String,
    },
    /// An outbound allow-list entry.
    #[error("invalid outbound origin `{origin}`: {why}")]
    InvalidOrigin {
        /// The offending entry.
        origin: String,
        /// What is wrong with it.
        why: String,
    },
    /// An interface name in `calls`.
    #[error(
        "invalid interface name `{name}`: write it as namespace:package/interface@version, e.g. example:catalog/items@0.1.0"
    )]
    InvalidInterface {
        /// The offending name.
        name: String,
    },
    /// A config key.
    #[error("invalid config key `{key}`: {why}")]
    InvalidConfig {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(Name::new("inventory").is_ok());
        assert!(Name::new("a1-b2").is_ok());
        for bad in ["", "1abc", "Abc", "a_b", "a-", &"a".repeat(64), "a/b", "ä"] {
            let err = Name::new(bad).unwrap_err().to_string();
            assert!(err.contains("invalid name"), "{bad}: {err}");
        }
    }

    #[test]
    fn routes() {
        assert_eq!(Route::new("/shop/").unwrap().as_str(), "/shop");
        assert_eq!(Route::new("/").unwrap().as_str(), "/");
        assert_eq!(Route::new("/api/v2").unwrap().as_str(), "/api/v2");
        for bad in [
            "shop", "/a//b", "/a/../b", "/rpc", "/rpc/x", "/_wharf", "/a b",
        ] {
            assert!(Route::new(bad).is_err(), "{bad}");
        }
        assert!(Route::new("/rpcs").is_ok());
    }

    #[test]
    fn origins() {
        let p = OriginPattern::parse("https://api.example.com").unwrap();
        assert!(p.matches("https", "api.example.com", 443));
        assert!(p.matches("https", "API.example.com", 443));
        assert!(!p.matches("http", "api.example.com", 443));
        assert!(!p.matches("https", "api.example.com", 8443));
        assert!(!p.matches("https", "evil.com", 443));
        let w = OriginPattern::parse("https://*.example.com").unwrap();
        assert!(w.matches("https", "a.example.com", 443));
        assert!(!w.matches("https", "example.com", 443));
        assert!(!w.matches("https", "aexample.com", 443));
        let ip = OriginPattern::parse("http://127.0.0.1:9000").unwrap();
        assert!(ip.matches("http", "127.0.0.1", 9000));
        let v6 = OriginPattern::parse("http://[::1]:9000").unwrap();
        assert!(v6.matches("http", "[::1]", 9000));
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://x/path",
            "https://x:99999",
            "https://",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interface_semver() {
        let want = InterfaceName::parse("example:catalog/items@0.1.0").unwrap();
        let ok = InterfaceName::parse("example:catalog/items@0.1.3").unwrap();
        let older = InterfaceName::parse("example:catalog/items@0.1.0").unwrap();
        let breaking = InterfaceName::parse("example:catalog/items@0.2.0").unwrap();
        let other = InterfaceName::parse("example:catalog/other@0.1.0").unwrap();
        assert!(want.is_satisfied_by(&ok));
        assert!(want.is_satisfied_by(&older));
        assert!(!want.is_satisfied_by(&breaking));
        assert!(!want.is_satisfied_by(&other));
        let newer_want = InterfaceName::parse("example:catalog/items@0.1.2").unwrap();
        assert!(!newer_want.is_satisfied_by(&older));
        let v1 = InterfaceName::parse("a:b/c@1.0.0").unwrap();
        assert!(v1.is_satisfied_by(&InterfaceName::parse("a:b/c@1.4.0").unwrap()));
        assert!(!v1.is_satisfied_by(&InterfaceName::parse("a:b/c@2.0.0").unwrap()));
        assert!(InterfaceName::parse("items").is_err());
        assert!(InterfaceName::parse("a:b/c@x").is_err());
    }

    #[test]
    fn spec_validation_and_redaction() {
        let mut spec = DeploymentSpec::default();
        spec.secrets.insert("token".into(), "hunter2".into());
        spec.config.insert("region".into(), "eu".into());
        spec.validate().unwrap();
        let shown = serde_json::to_string(&spec.redacted()).unwrap();
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("eu"));
        spec.config.insert("token".into(), "x".into());
        assert!(spec.validate().is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<DeploymentSpec>(r#"{"limits":{"memroy":"1MiB"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("memroy"), "{err}");
    }
}
