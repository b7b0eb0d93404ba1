//! Sizes (`64MiB`) and durations (`2s`) as operators write them.

use crate::SpecError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A size in bytes, written as `65536`, `512KiB`, `64MiB`, `1GiB` (powers of
/// 1024) or `64MB` (powers of 1000).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `n` bytes.
    pub const fn bytes_exact(n: u64) -> Self {
        Self(n)
    }

    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// The size in bytes as `usize`, saturating on 32-bit hosts.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl FromStr for ByteSize {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SpecError::InvalidSize {
            value: s.chars().take(40).collect(),
        };
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| err())?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            _ => return Err(err()),
        };
        n.checked_mul(factor).map(Self).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n != 0 && n % (1 << 30) == 0 {
            write!(f, "{}GiB", n >> 30)
        } else if n != 0 && n % (1 << 20) == 0 {
            write!(f, "{}MiB", n >> 20)
        } else if n != 0 && n % (1 << 10) == 0 {
            write!(f, "{}KiB", n >> 10)
        } else {
            write!(f, "{n}")
        }
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Self(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration with millisecond precision, written as `250ms`, `2s`, `1m` or
/// `1h`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// `n` seconds.
    pub const fn from_secs(n: u64) -> Self {
        Self(n * 1000)
    }

    /// As a [`Duration`].
    pub const fn duration(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

impl FromStr for Millis {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SpecError::InvalidDuration {
            value: s.chars().take(40).collect(),
        };
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| err())?;
        let factor = match unit.trim() {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            _ => return Err(err()),
        };
        n.checked_mul(factor).map(Self).ok_or_else(err)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n != 0 && n % 3_600_000 == 0 {
            write!(f, "{}h", n / 3_600_000)
        } else if n != 0 && n % 60_000 == 0 {
            write!(f, "{}m", n / 60_000)
        } else if n != 0 && n % 1000 == 0 {
            write!(f, "{}s", n / 1000)
        } else {
            write!(f, "{n}ms")
        }
    }
}

impl fmt::Debug for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().bytes(), 64 << 20);
        assert_eq!("64mib".parse::<ByteSize>().unwrap().bytes(), 64 << 20);
        assert_eq!("512KiB".parse::<ByteSize>().unwrap().bytes(), 512 << 10);
        assert_eq!("2MB".parse::<ByteSize>().unwrap().bytes(), 2_000_000);
        assert_eq!("100".parse::<ByteSize>().unwrap().bytes(), 100);
        assert_eq!(ByteSize::mib(64).to_string(), "64MiB");
        for bad in ["", "MiB", "1.5GiB", "-1", "12XB", "99999999999999999999GiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        let json: ByteSize = serde_json::from_str("1024").unwrap();
        assert_eq!(json.bytes(), 1024);
        let json: ByteSize = serde_json::from_str("\"1KiB\"").unwrap();
        assert_eq!(json.bytes(), 1024);
    }

    #[test]
    fn durations() {
        assert_eq!("250ms".parse::<Millis>().unwrap().0, 250);
        assert_eq!("2s".parse::<Millis>().unwrap().0, 2000);
        assert_eq!("1m".parse::<Millis>().unwrap().0, 60_000);
        assert_eq!(Millis(1500).to_string(), "1500ms");
        assert_eq!(Millis(2000).to_string(), "2s");
        for bad in ["", "2", "s", "1.5s", "2d"] {
            assert!(bad.parse::<Millis>().is_err(), "{bad}");
        }
    }
}
