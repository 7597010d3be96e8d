use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time as the API writes it: RFC 3339 in UTC with a `Z`, millisecond
/// precision, trailing zeros of the fraction dropped (`2022-09-09T11:41:08.08Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Go's zero time, which 100ms writes for timestamps that were never set.
    pub const UNSET_MILLIS: i64 = -62_135_596_800_000;

    pub fn now() -> Self {
        Self::from_unix_millis(unix_millis(OffsetDateTime::now_utc()))
    }

    pub fn from_unix_millis(millis: i64) -> Self {
        let nanos = i128::from(millis) * 1_000_000;
        Self(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    pub fn unix_millis(self) -> i64 {
        unix_millis(self.0)
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Writes the time as a JSON string, as its `Serialize` does, with no escaping to
    /// check: RFC 3339 text is digits and separators.
    pub fn write_json(self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(Rfc3339Text::new(self.0, FractionDigits::Millis).as_str().as_bytes());
        out.push(b'"');
    }

    /// Parses RFC 3339 (any offset, any fraction length), rounding down to milliseconds.
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(|t| Self::from_unix_millis(unix_millis(t)))
    }
}

fn unix_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Rfc3339Text::new(self.0, FractionDigits::Millis).as_str())
    }
}

/// Written into a buffer on the stack and handed over whole: a list of rooms writes
/// hundreds of timestamps, and `core::fmt`'s padded integers, piece by piece through the
/// JSON writer's escaping, cost more than the rest of a room.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Rfc3339Text::new(self.0, FractionDigits::Millis).as_str())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_api() {
        assert_eq!(
            Timestamp::from_unix_millis(1_662_723_668_082).to_string(),
            "2022-09-09T11:41:08.082Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_662_723_668_080).to_string(),
            "2022-09-09T11:41:08.08Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_662_723_668_000).to_string(),
            "2022-09-09T11:41:08Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(Timestamp::UNSET_MILLIS).to_string(),
            "0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn writes_json_like_serde() {
        for millis in [1_662_723_668_082, 1_662_723_668_080, 0, Timestamp::UNSET_MILLIS] {
            let t = Timestamp::from_unix_millis(millis);
            let mut out = Vec::new();
            t.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&t).unwrap());
        }
    }

    #[test]
    fn parses_any_fraction() {
        let t = Timestamp::parse("2022-09-08T14:58:25.629819038Z").unwrap();
        assert_eq!(t.to_string(), "2022-09-08T14:58:25.629Z");
        assert!(Timestamp::parse("yesterday").is_none());
    }
}

/// A point in time with nanosecond precision, as the active-room API writes it: RFC 3339
/// in UTC with exactly nine fractional digits (`2022-10-04T12:10:28.939011796Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PreciseTime(OffsetDateTime);

impl PreciseTime {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    pub fn from_unix_nanos(nanos: i128) -> Self {
        Self(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    pub fn unix_nanos(self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// Parses RFC 3339 (any offset, any fraction length).
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339).ok().map(Self)
    }

    /// Whole seconds from `self` to `later`, rounded down.
    pub fn seconds_until(self, later: PreciseTime) -> i64 {
        ((later.unix_nanos() - self.unix_nanos()) / 1_000_000_000) as i64
    }

    /// The same time at the millisecond precision of the sessions API.
    pub fn to_millis(self) -> Timestamp {
        Timestamp::from_unix_millis(unix_millis(self.0))
    }

    /// RFC 3339 with the trailing zeros of the fraction dropped (Go's `RFC3339Nano`), the
    /// form of times inside webhook payloads.
    pub fn to_trimmed_string(self) -> String {
        let full = self.to_string();
        let (head, fraction) = full.trim_end_matches('Z').split_once('.').expect("nine digits");
        match fraction.trim_end_matches('0') {
            "" => format!("{head}Z"),
            digits => format!("{head}.{digits}Z"),
        }
    }

    /// RFC 3339 to the second, the form of a webhook envelope's `timestamp`.
    pub fn to_seconds_string(self) -> String {
        let full = self.to_string();
        format!("{}Z", full.split_once('.').expect("nine digits").0)
    }
}

impl std::fmt::Display for PreciseTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Rfc3339Text::new(self.0, FractionDigits::Nanos).as_str())
    }
}

impl Serialize for PreciseTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Rfc3339Text::new(self.0, FractionDigits::Nanos).as_str())
    }
}

/// The fraction of a second the API writes.
#[derive(Clone, Copy)]
enum FractionDigits {
    /// Milliseconds with their trailing zeros dropped, none when zero.
    Millis,
    /// Always nine digits.
    Nanos,
}

/// A time as RFC 3339 in UTC (`2022-09-09T11:41:08.08Z`), in a buffer of its own, large
/// enough for any year `time` represents with nine fractional digits.
struct Rfc3339Text {
    bytes: [u8; 40],
    len: usize,
}

impl Rfc3339Text {
    fn new(t: OffsetDateTime, fraction: FractionDigits) -> Self {
        let mut text = Self { bytes: [0; 40], len: 0 };
        let year = t.year();
        if year < 0 {
            text.push(b'-');
        }
        text.digits(year.unsigned_abs(), 4);
        text.push(b'-');
        text.digits(u8::from(t.month()).into(), 2);
        text.push(b'-');
        text.digits(t.day().into(), 2);
        text.push(b'T');
        text.digits(t.hour().into(), 2);
        text.push(b':');
        text.digits(t.minute().into(), 2);
        text.push(b':');
        text.digits(t.second().into(), 2);
        match fraction {
            FractionDigits::Millis => {
                let mut millis = u32::from(t.millisecond());
                let mut width = 3;
                while millis != 0 && millis % 10 == 0 {
                    millis /= 10;
                    width -= 1;
                }
                if millis != 0 {
                    text.push(b'.');
                    text.digits(millis, width);
                }
            }
            FractionDigits::Nanos => {
                text.push(b'.');
                text.digits(t.nanosecond(), 9);
            }
        }
        text.push(b'Z');
        text
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` in decimal, zero-padded to at least `width` digits.
    fn digits(&mut self, value: u32, width: usize) {
        let mut reversed = [b'0'; 10];
        let mut rest = value;
        let mut count = 0;
        while rest != 0 || count < width {
            reversed[count] = b'0' + (rest % 10) as u8;
            rest /= 10;
            count += 1;
        }
        for &digit in reversed[..count].iter().rev() {
            self.push(digit);
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("RFC 3339 text is ASCII")
    }
}

impl<'de> Deserialize<'de> for PreciseTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod precise_tests {
    use super::*;

    #[test]
    fn formats_nine_digits_trimmed_and_seconds() {
        let t = PreciseTime::from_unix_nanos(1_638_277_129_972_912_470);
        assert_eq!(t.to_string(), "2021-11-30T12:58:49.972912470Z");
        assert_eq!(t.to_trimmed_string(), "2021-11-30T12:58:49.97291247Z");
        assert_eq!(t.to_seconds_string(), "2021-11-30T12:58:49Z");
        assert_eq!(
            PreciseTime::from_unix_nanos(1_638_277_129_000_000_000).to_trimmed_string(),
            "2021-11-30T12:58:49Z"
        );
        assert_eq!(t.to_millis().to_string(), "2021-11-30T12:58:49.972Z");
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC, millisecond precision",
            "examples": ["2022-09-09T11:41:08.082Z"]
        })
    }
}

impl schemars::JsonSchema for PreciseTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PreciseTime".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC, nanosecond precision",
            "examples": ["2022-10-04T12:10:28.939011796Z"]
        })
    }
}
