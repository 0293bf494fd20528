//! Where and when a piece of input was seen, as every stage says it: the
//! direction of a byte, the capture time, the Wireshark frame it came from
//! ([`FrameRef`]), and the [`Position`] that is either that frame or, for a
//! browser HAR file, an entry and message index.
//!
//! Takes nothing from the input itself; gives plain `Copy` values with a
//! stable, documented serialisation (`c2s`/`s2c`, RFC 3339 UTC, `frame` /
//! `har`). Never fails: timestamps out of the representable range saturate.

use std::cell::Cell;
use std::fmt;

use arrayvec::ArrayString;

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

    /// The side that sends in this direction, in words: `client` or `server`.
    pub fn side(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client",
            Dir::ServerToClient => "server",
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

    /// Whether this time was clamped to the representable range (a date
    /// beyond 2262 or before 1677 in the capture file).
    pub fn is_saturated(self) -> bool {
        self.0 == i64::MAX || self.0 == i64::MIN
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
        self.rfc3339().as_str().to_owned()
    }

    /// The RFC 3339 text of [`Timestamp::to_rfc3339`], on the stack: every
    /// event carries a time, so this is formatted by hand, not with `time`'s
    /// generic formatter (the tests check both agree). Events come many to
    /// a second: the text up to the second is kept per thread and reused.
    pub(crate) fn rfc3339(self) -> Rfc3339 {
        const NANOS: i64 = 1_000_000_000;
        let secs = self.0.div_euclid(NANOS);
        let micros = self.0.rem_euclid(NANOS) / 1_000;
        let mut text = LAST_SECOND.with(|last| match last.get() {
            (second, text) if second == secs => text,
            _ => {
                let text = second_text(secs);
                last.set((secs, text));
                text
            }
        });
        push(&mut text, digit_pair(micros / 10_000));
        push(&mut text, digit_pair(micros / 100));
        push(&mut text, digit_pair(micros));
        push(&mut text, "Z");
        Rfc3339(text)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
type Rfc3339Text = ArrayString<27>;

thread_local! {
    /// The last second formatted on this thread, and its text up to the
    /// fraction (`i64::MIN` is no second: they span ±9.3e9).
    static LAST_SECOND: Cell<(i64, Rfc3339Text)> = const { Cell::new((i64::MIN, ArrayString::new_const())) };
}

/// `YYYY-MM-DDTHH:MM:SS.` of a second since the epoch.
fn second_text(secs: i64) -> Rfc3339Text {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let mut text = Rfc3339Text::new();
    // i64 nanoseconds span the years 1677..=2262: always four digits.
    for (value, after) in [
        (year / 100, ""),
        (year, "-"),
        (month, "-"),
        (day, "T"),
        (of_day / 3600, ":"),
        (of_day / 60 % 60, ":"),
        (of_day % 60, "."),
    ] {
        push(&mut text, digit_pair(value));
        push(&mut text, after);
    }
    text
}

/// Appends `piece` to `text`: the pieces of a timestamp fill its 27 bytes
/// exactly (the tests check every length), so none is ever refused.
fn push(text: &mut Rfc3339Text, piece: &str) {
    let _fits = text.try_push_str(piece);
}

/// "00" to "99", in order: two digits are one slice, with no UTF-8 check.
const DIGIT_PAIRS: &str = match std::str::from_utf8(&DIGIT_PAIR_BYTES) {
    Ok(pairs) => pairs,
    Err(_) => panic!("digit pairs are ASCII"),
};

const DIGIT_PAIR_BYTES: [u8; 200] = digit_pair_bytes();

const fn digit_pair_bytes() -> [u8; 200] {
    let mut bytes = [0; 200];
    let mut n = 0;
    while n < 100 {
        bytes[2 * n] = b'0' + (n / 10) as u8;
        bytes[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    bytes
}

/// The last two decimal digits of `value` (non-negative).
fn digit_pair(value: i64) -> &'static str {
    let at = value.rem_euclid(100) as usize * 2;
    DIGIT_PAIRS.get(at..at + 2).unwrap_or("00")
}

/// A formatted RFC 3339 time (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
pub(crate) struct Rfc3339(Rfc3339Text);

impl Rfc3339 {
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
    }
}

/// Where a piece of data was seen: Wireshark's `frame.number` (1-based) and its capture time.
///
/// A HAR item has no frame: [`FrameRef::har`] gives it a frame number that
/// stands for its entry and message (bit 63 set, far beyond any capture's
/// frame count), so that every stage, which locates things by `FrameRef`,
/// carries HAR positions unchanged; [`FrameRef::position`] and
/// [`Position::of_frame_number`] read them back, and every serialisation
/// and renderer shows them as HAR positions, never as that number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameRef {
    /// Wireshark's `frame.number`: 1 for the first packet record of the
    /// file; or a HAR position's number (see [`FrameRef::har`]).
    pub frame: u64,
    /// Capture time of that frame.
    pub ts: Timestamp,
}

/// Frame numbers with this bit stand for HAR positions.
const HAR_TAG: u64 = 1 << 63;
/// Bits of a HAR frame number holding the message index plus one (0: none).
const MESSAGE_BITS: u32 = 32;
/// Largest entry index a HAR frame number holds (31 bits); larger ones saturate.
const MAX_HAR_ENTRY: u64 = (1 << (63 - MESSAGE_BITS)) - 1;
/// Largest message index a HAR frame number holds; larger ones saturate.
const MAX_HAR_MESSAGE: u64 = (1 << MESSAGE_BITS) - 2;

impl FrameRef {
    pub fn new(frame: u64, ts: Timestamp) -> FrameRef {
        FrameRef { frame, ts }
    }

    /// The place of a HAR item: entry `entry` (0-based in `log.entries`),
    /// message `message` (0-based in its `_webSocketMessages`, `None` for the
    /// entry's HTTP exchange), seen at `ts`. Indices beyond 2^31 entries or
    /// 2^32 messages saturate (no browser writes that many).
    pub fn har(entry: u64, message: Option<u64>, ts: Timestamp) -> FrameRef {
        let entry = entry.min(MAX_HAR_ENTRY);
        let message = message.map_or(0, |m| m.min(MAX_HAR_MESSAGE) + 1);
        FrameRef {
            frame: HAR_TAG | entry << MESSAGE_BITS | message,
            ts,
        }
    }

    /// The frame as a [`Position`].
    pub fn position(self) -> Position {
        Position::of_frame_number(self.frame)
    }
}

/// `{"frame": 67, "ts": …}` for a capture, `{"frame": null, "har": {…}, "ts": …}` for a HAR item.
impl Serialize for FrameRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let position = self.position();
        let har = position.har();
        let mut map = s.serialize_map(Some(if har.is_some() { 3 } else { 2 }))?;
        map.serialize_entry("frame", &position.frame())?;
        if let Some(har) = har {
            map.serialize_entry("har", &har)?;
        }
        map.serialize_entry("ts", &self.ts)?;
        map.end()
    }
}

/// Where a piece of input is in its file: a capture frame, or a HAR entry
/// and message. One input gives one kind, so frames and HAR positions are
/// never compared with each other (frames sort first).
///
/// Serialises as the fields an event carries: `{"frame": 67}` for a
/// capture, `{"frame": null, "har": {"entry": 12, "message": 340}}` for HAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// Wireshark's `frame.number`: 1 for the first packet record of the file.
    Frame(u64),
    Har(HarPosition),
}

/// A place in a HAR file: 0-based indices into `log.entries` and the
/// entry's `_webSocketMessages`. Orders by entry, then message, the entry's
/// own request and response (no message) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct HarPosition {
    pub entry: u64,
    /// `None` for the entry's HTTP exchange itself.
    pub message: Option<u64>,
}

impl Position {
    /// The position a frame number stands for: a capture frame, or the HAR
    /// position [`FrameRef::har`] encoded in it.
    pub fn of_frame_number(frame: u64) -> Position {
        if frame & HAR_TAG == 0 {
            return Position::Frame(frame);
        }
        let message = frame & ((1 << MESSAGE_BITS) - 1);
        Position::Har(HarPosition {
            entry: (frame & !HAR_TAG) >> MESSAGE_BITS,
            message: message.checked_sub(1),
        })
    }

    /// How a table shows it where a frame number would be: `67`, `e12.m340` or `e12`.
    pub fn short(self) -> String {
        match self {
            Position::Frame(frame) => frame.to_string(),
            har => har.to_string(),
        }
    }

    /// The capture frame number, if this is a capture position.
    pub fn frame(self) -> Option<u64> {
        match self {
            Position::Frame(frame) => Some(frame),
            Position::Har(_) => None,
        }
    }

    /// The HAR entry and message, if this is a HAR position.
    pub fn har(self) -> Option<HarPosition> {
        match self {
            Position::Frame(_) => None,
            Position::Har(har) => Some(har),
        }
    }
}

/// `frame 67`, `e12.m340`, or `e12` for a HAR entry's HTTP exchange.
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Frame(frame) => write!(f, "frame {frame}"),
            Position::Har(HarPosition {
                entry,
                message: None,
            }) => write!(f, "e{entry}"),
            Position::Har(HarPosition {
                entry,
                message: Some(message),
            }) => write!(f, "e{entry}.m{message}"),
        }
    }
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let har = self.har();
        let mut map = s.serialize_map(Some(if har.is_some() { 2 } else { 1 }))?;
        map.serialize_entry("frame", &self.frame())?;
        if let Some(har) = har {
            map.serialize_entry("har", &har)?;
        }
        map.end()
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

    /// The `time` crate's formatting, which `rfc3339` replaces for speed.
    fn rfc3339_by_time(t: Timestamp) -> String {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_nanos()))
            .unwrap()
            .format(&format)
            .unwrap()
    }

    #[test]
    fn rfc3339_agrees_with_the_time_crate() {
        const DAY: i64 = 86_400_000_000_000;
        let edges = [
            0,
            1,
            -1,
            999,
            1_000,
            -1_000,
            -1_001,
            999_999_999,
            1_000_000_000,
            -999_999_999,
            -1_000_000_000,
            DAY - 1,
            DAY,
            -DAY,
            -DAY - 1,
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i64::MAX - 1,
            951_782_400 * 1_000_000_000,     // 2000-02-29
            951_868_799 * 1_000_000_000 + 1, // 2000-02-29T23:59:59
            4_107_542_399 * 1_000_000_000,   // 2100-02-28T23:59:59
            4_107_542_400 * 1_000_000_000,   // 2100-03-01 (2100 is not leap)
            -2_208_988_800 * 1_000_000_000,  // 1900-01-01
            -2_203_977_600 * 1_000_000_000,  // 1900-03-01 (1900 is not leap)
            1_772_446_500_123_456_789,
        ];
        for n in edges {
            let t = Timestamp(n);
            assert_eq!(t.to_rfc3339(), rfc3339_by_time(t), "{n}");
        }
        // Every day of 1677..2262 at a varying time of day, and a random sweep.
        let mut n = i64::MIN;
        while let Some(next) = n.checked_add(DAY + 3_600_000_001_001) {
            let t = Timestamp(n);
            assert_eq!(t.to_rfc3339(), rfc3339_by_time(t), "{n}");
            n = next;
        }
        // Many times within each second, as events come (the second's text is reused).
        for n in (1_772_446_500_000_000_000..1_772_446_503_000_000_000).step_by(7_919_001) {
            let t = Timestamp(n);
            assert_eq!(t.to_rfc3339(), rfc3339_by_time(t), "{n}");
        }
        let mut rng = fastrand::Rng::with_seed(3339);
        for _ in 0..100_000 {
            let t = Timestamp(rng.i64(..));
            assert_eq!(t.to_rfc3339(), rfc3339_by_time(t), "{t:?}");
            assert_eq!(t.to_string(), t.to_rfc3339());
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.to_rfc3339())
            );
        }
    }

    #[test]
    fn timestamps_saturate_instead_of_wrapping() {
        let t = Timestamp::from_secs_nanos(i64::MAX, 0);
        assert_eq!(t.as_nanos(), i64::MAX);
        assert!(t.is_saturated());
        let t = Timestamp::from_secs_nanos(i64::MIN, 0);
        assert_eq!(t.as_nanos(), i64::MIN);
        assert!(t.is_saturated());
        // 2262-04-11 is the last day nanoseconds hold.
        let last_day = Timestamp::from_secs_nanos(9_223_286_400, 0);
        assert!(!last_day.is_saturated());
        assert!(Timestamp::from_secs_nanos(9_223_372_037, 0).is_saturated());
        // Differences saturate too: no overflow, never a wrapped sign.
        assert_eq!(
            t.nanos_since(Timestamp::from_nanos_i128(i128::MAX)),
            i64::MIN
        );
        assert_eq!(
            Timestamp::from_nanos_i128(i128::MAX).nanos_since(t),
            i64::MAX
        );
    }

    #[test]
    fn positions_show_as_frames_or_har_places() {
        let at = FrameRef::new(67, Timestamp::default());
        assert_eq!(at.position(), Position::Frame(67));
        assert_eq!(at.position().to_string(), "frame 67");
        let message = Position::Har(HarPosition {
            entry: 12,
            message: Some(340),
        });
        assert_eq!(message.to_string(), "e12.m340");
        let exchange = Position::Har(HarPosition {
            entry: 12,
            message: None,
        });
        assert_eq!(exchange.to_string(), "e12");
        assert_eq!(
            (message.frame(), message.har().map(|h| h.entry)),
            (None, Some(12))
        );
        assert_eq!(
            (at.position().frame(), at.position().har()),
            (Some(67), None)
        );
    }

    #[test]
    fn har_places_ride_in_frame_numbers_and_come_back() {
        let ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
        for (entry, message) in [(0, None), (0, Some(0)), (12, Some(340)), (7, None)] {
            let at = FrameRef::har(entry, message, ts);
            assert_eq!(at.position(), Position::Har(HarPosition { entry, message }));
            assert_eq!(at.position().frame(), None);
        }
        // Saturates instead of spilling into the other field or the tag.
        let far = FrameRef::har(u64::MAX, Some(u64::MAX), ts).position();
        assert_eq!(
            far,
            Position::Har(HarPosition {
                entry: MAX_HAR_ENTRY,
                message: Some(MAX_HAR_MESSAGE)
            })
        );
        // Real frame numbers stay frames; HAR numbers sort after them, by entry then message.
        assert_eq!(Position::of_frame_number(67), Position::Frame(67));
        let order = [
            FrameRef::new(u64::from(u32::MAX), ts),
            FrameRef::har(1, None, ts),
            FrameRef::har(1, Some(0), ts),
            FrameRef::har(1, Some(5), ts),
            FrameRef::har(2, None, ts),
        ];
        assert!(order.windows(2).all(|w| w[0].frame < w[1].frame));
        assert_eq!(
            FrameRef::har(12, Some(340), ts).position().short(),
            "e12.m340"
        );
        assert_eq!(FrameRef::new(67, ts).position().short(), "67");
    }

    #[test]
    fn frame_refs_serialise_with_their_har_place() {
        let ts = Timestamp::from_secs_nanos(0, 0);
        assert_eq!(
            serde_json::to_string(&FrameRef::new(3, ts)).unwrap(),
            r#"{"frame":3,"ts":"1970-01-01T00:00:00.000000Z"}"#
        );
        assert_eq!(
            serde_json::to_string(&FrameRef::har(4, Some(2), ts)).unwrap(),
            r#"{"frame":null,"har":{"entry":4,"message":2},"ts":"1970-01-01T00:00:00.000000Z"}"#
        );
    }

    #[test]
    fn positions_order_by_frame_or_by_entry_then_message() {
        let har = |entry, message| Position::Har(HarPosition { entry, message });
        let mut positions = vec![
            har(2, Some(0)),
            har(1, Some(5)),
            har(1, None),
            har(1, Some(0)),
            Position::Frame(10),
            Position::Frame(9),
        ];
        positions.sort();
        assert_eq!(
            positions,
            vec![
                Position::Frame(9),
                Position::Frame(10),
                har(1, None),
                har(1, Some(0)),
                har(1, Some(5)),
                har(2, Some(0)),
            ]
        );
    }

    #[test]
    fn positions_serialise_as_the_event_fields() {
        let json = |p: Position| serde_json::to_string(&p).unwrap();
        assert_eq!(json(Position::Frame(67)), r#"{"frame":67}"#);
        let har = Position::Har(HarPosition {
            entry: 12,
            message: Some(340),
        });
        assert_eq!(
            json(har),
            r#"{"frame":null,"har":{"entry":12,"message":340}}"#
        );
        let exchange = Position::Har(HarPosition {
            entry: 3,
            message: None,
        });
        assert_eq!(
            json(exchange),
            r#"{"frame":null,"har":{"entry":3,"message":null}}"#
        );
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
