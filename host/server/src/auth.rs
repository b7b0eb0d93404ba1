//! Teams and their admin tokens.
//!
//! Only sha256 digests of tokens are kept, in memory and in config files;
//! a presented token is hashed and compared in constant time. The first
//! upload of a name makes it its team's; other teams get 403 on it.

use sha2::{Digest, Sha256};
use std::net::IpAddr;
use wharf_spec::Name;

/// Who is making an admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The team.
    pub team: Name,
    /// Dev mode (`--insecure-dev` from loopback): may manage every name.
    pub dev: bool,
}

impl Actor {
    /// Whether this actor may read and change deployments owned by `team`.
    pub fn owns(&self, team: &Name) -> bool {
        self.dev || &self.team == team
    }
}

/// The known teams.
#[derive(Debug, Clone, Default)]
pub struct Teams {
    tokens: Vec<([u8; 32], Name)>,
    insecure_dev: bool,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error(
        "missing `Authorization: Bearer TOKEN`; pass --token (or set WHARF_TOKEN) with your team's admin token"
    )]
    Missing,
    /// The token matches no team.
    #[error("the admin token is not valid for any team")]
    Invalid,
}

impl Teams {
    /// No teams; every request is refused unless dev mode is on.
    pub fn new(insecure_dev: bool) -> Self {
        Self {
            tokens: Vec::new(),
            insecure_dev,
        }
    }

    /// Adds a team by the sha256 (hex) of its token.
    pub fn add_hashed(&mut self, team: Name, token_sha256: &str) -> Result<(), String> {
        let bytes = hex::decode(token_sha256)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| format!("team `{team}`: token_sha256 must be 64 hex digits"))?;
        self.tokens.push((bytes, team));
        Ok(())
    }

    /// Adds a team by its plain token (from `--admin-token TEAM:TOKEN`); only
    /// the hash is kept.
    pub fn add_token(&mut self, team: Name, token: &str) {
        self.tokens
            .push((Sha256::digest(token.as_bytes()).into(), team));
    }

    /// Whether any team is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether dev mode is on.
    pub fn insecure_dev(&self) -> bool {
        self.insecure_dev
    }

    /// Authenticates a request from `peer` with an `Authorization` header.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: IpAddr,
    ) -> Result<Actor, AuthError> {
        let token = authorization.and_then(|h| {
            let (scheme, token) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        match token {
            Some(token) => {
                let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
                let mut found = None;
                // Compare against every entry without stopping early.
                for (candidate, team) in &self.tokens {
                    let same = candidate
                        .iter()
                        .zip(hash.iter())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0;
                    if same && found.is_none() {
                        found = Some(team.clone());
                    }
                }
                match found {
                    Some(team) => Ok(Actor { team, dev: false }),
                    None if self.insecure_dev && peer.is_loopback() => Ok(dev_actor()),
                    None => Err(AuthError::Invalid),
                }
            }
            None if self.insecure_dev && peer.is_loopback() => Ok(dev_actor()),
            None => Err(AuthError::Missing),
        }
    }
}

fn dev_actor() -> Actor {
    Actor {
        team: Name::new("dev").expect("`dev` is a valid name"),
        dev: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tokens_map_to_teams() {
        let mut teams = Teams::new(false);
        teams.add_token(Name::new("shop").unwrap(), "s3cret");
        let hashed = hex::encode(Sha256::digest(b"other"));
        teams
            .add_hashed(Name::new("ops").unwrap(), &hashed)
            .unwrap();
        let shop = teams
            .authenticate(Some("Bearer s3cret"), ip("10.0.0.1"))
            .unwrap();
        assert_eq!(shop.team.as_str(), "shop");
        assert!(!shop.dev);
        assert_eq!(
            teams
                .authenticate(Some("bearer other"), ip("10.0.0.1"))
                .unwrap()
                .team
                .as_str(),
            "ops"
        );
        assert_eq!(
            teams.authenticate(Some("Bearer nope"), ip("127.0.0.1")),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            teams.authenticate(None, ip("127.0.0.1")),
            Err(AuthError::Missing)
        );
        assert_eq!(
            teams.authenticate(Some("Basic s3cret"), ip("127.0.0.1")),
            Err(AuthError::Missing)
        );
        assert!(teams.add_hashed(Name::new("x").unwrap(), "abc").is_err());
    }

    #[test]
    fn dev_mode_only_on_loopback() {
        let teams = Teams::new(true);
        assert!(teams.authenticate(None, ip("127.0.0.1")).unwrap().dev);
        assert!(teams.authenticate(None, ip("::1")).unwrap().dev);
        assert_eq!(
            teams.authenticate(None, ip("192.168.1.2")),
            Err(AuthError::Missing)
        );
    }
}
