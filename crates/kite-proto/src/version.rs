//! QUIC versions kite speaks (RFC 9000, RFC 9369) and reserved versions (RFC 9000 §15).

use std::fmt;

/// A 32-bit QUIC version number as it appears in long headers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u32);

impl Version {
    /// QUIC version 1 (RFC 9000).
    pub const V1: Version = Version(0x0000_0001);
    /// QUIC version 2 (RFC 9369).
    pub const V2: Version = Version(0x6b33_43cf);
    /// The value that marks a Version Negotiation packet (RFC 9000 §17.2.1).
    pub const NEGOTIATION: Version = Version(0);

    /// The versions kite implements, in order of preference.
    pub const SUPPORTED: [Version; 2] = [Version::V1, Version::V2];

    /// Whether kite implements this version.
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// Whether this is a reserved version of the form 0x?a?a?a?a used to
    /// exercise version negotiation (RFC 9000 §15).
    pub fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }

    /// A reserved ("greased") version derived from `seed` (RFC 9000 §15).
    pub fn greased(seed: u32) -> Version {
        Version((seed & 0xf0f0_f0f0) | 0x0a0a_0a0a)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Version::V1 => f.write_str("v1"),
            Version::V2 => f.write_str("v2"),
            Version(v) => write!(f, "{v:#010x}"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greased_versions_are_reserved_and_unsupported() {
        for seed in [0, 1, 0xdead_beef, u32::MAX] {
            let v = Version::greased(seed);
            assert!(v.is_reserved(), "{v:?}");
            assert!(!v.is_supported());
        }
        assert!(!Version::V1.is_reserved());
        assert!(!Version::V2.is_reserved());
    }
}
