//! Small value types every stage shares: the direction of a byte, the capture
//! time of a packet and the Wireshark frame it came from.
//!
//! Takes nothing from the capture itself; gives plain `Copy` values with a
//! stable, documented serialisation (`c2s`/`s2c`, RFC 3339 UTC). Never fails:
//! timestamps out of the representable range saturate.

use std::fmt;

use serde::{Serialize, Serializer};

/// Which way a byte travelled, relative to the TCP client (Wireshark's node 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// From the client (the side that sent the SYN, or the guessed client).
    ClientToServer,
    /// From the server.
    ServerToClient,
}

impl Dir {
    /// Both directions, client first: the order every report uses.
    pub const BOTH: [Dir; 2] = [Dir::ClientToServer, Dir::ServerToClient];

    /// The other direction.
    pub fn flip(self) -> Dir {
        match self {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        }
    }

    /// 0 for client-to-server, 1 for server-to-client: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Dir::ClientToServer => 0,
            Dir::ServerToClient => 1,
        }
    }

    /// The short name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::ClientToServer => "c2s",
            Dir::ServerToClient => "s2c",
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Dir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A capture timestamp: nanoseconds since the Unix epoch, UTC.
///
/// i64 nanoseconds cover 1677..2262, far beyond any real capture; values
/// outside saturate rather than wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From whole seconds and a nanosecond fraction (which may exceed one second).
    pub fn from_secs_nanos(secs: i64, nanos: u64) -> Timestamp {
        let whole = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Timestamp::from_nanos_i128(whole)
    }

    /// From nanoseconds since the epoch, saturating at the i64 range.
    pub fn from_nanos_i128(nanos: i128) -> Timestamp {
        Timestamp(nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Nanoseconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Seconds (with fraction) from `earlier` to `self`.
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        self.nanos_since(earlier) as f64 / 1e9
    }

    /// RFC 3339 in UTC with microsecond precision, e.g. `2026-11-25T12:52:59.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0))
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| format!("@{}ns", self.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Where a piece of data was seen: Wireshark's `frame.number` (1-based) and its capture time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FrameRef {
    /// Wireshark's `frame.number`: 1 for the first packet record of the file.
    pub frame: u64,
    /// Capture time of that frame.
    pub ts: Timestamp,
}

impl FrameRef {
    pub fn new(frame: u64, ts: Timestamp) -> FrameRef {
        FrameRef { frame, ts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_microseconds_and_z() {
        let t = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(
            Timestamp::default().to_rfc3339(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn timestamps_saturate_instead_of_wrapping() {
        let t = Timestamp::from_secs_nanos(i64::MAX, 0);
        assert_eq!(t.as_nanos(), i64::MAX);
        let t = Timestamp::from_secs_nanos(i64::MIN, 0);
        assert_eq!(t.as_nanos(), i64::MIN);
    }

    #[test]
    fn dir_flips_and_names() {
        assert_eq!(Dir::ClientToServer.flip(), Dir::ServerToClient);
        assert_eq!(Dir::ServerToClient.as_str(), "s2c");
        assert_eq!(
            serde_json::to_string(&Dir::ClientToServer).unwrap(),
            "\"c2s\""
        );
    }
}
