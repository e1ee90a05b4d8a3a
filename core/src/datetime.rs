//! XML-RPC `dateTime.iso8601` as XenAPI servers write it.
//!
//! xapi writes `20250102T03:04:05Z`; others write a `+HH:MM`/`-HH:MM` offset or nothing (then UTC).
//! The text is kept exactly as received, so re-encoding is lossless and a binding can hand the
//! original string on (Python's `xmlrpc.client.DateTime` does); [`DateTime::parts`] reads it.

use std::fmt;

/// A datetime as sent on the wire, with accessors that interpret it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    raw: String,
}

/// The calendar fields of a [`DateTime`], and its offset from UTC in minutes (`None`: no zone given,
/// which XenAPI servers mean as UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTimeParts {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub offset_minutes: Option<i16>,
}

impl DateTime {
    /// Wraps wire text. Any text is kept (servers vary); [`DateTime::parts`] tells if it reads.
    pub fn from_wire(raw: impl Into<String>) -> Self {
        DateTime { raw: raw.into() }
    }

    /// The UTC instant `secs` after the Unix epoch, in xapi's form `YYYYMMDDTHH:MM:SSZ`.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        DateTime {
            raw: format!(
                "{:04}{:02}{:02}T{:02}:{:02}:{:02}Z",
                y,
                m,
                d,
                rem / 3600,
                (rem / 60) % 60,
                rem % 60
            ),
        }
    }

    /// The current time, in xapi's form.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::from_unix(secs)
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The fields, if the text is `YYYYMMDDTHH:MM:SS` (or `YYYY-MM-DD`) with an optional `Z`,
    /// `+HH:MM`, `-HH:MM` (or `+HHMM`); fractional seconds are ignored.
    pub fn parts(&self) -> Option<DateTimeParts> {
        parse(self.raw.trim())
    }

    /// Seconds since the Unix epoch (UTC), if the text reads.
    pub fn unix_timestamp(&self) -> Option<i64> {
        let p = self.parts()?;
        let days = days_from_civil(p.year, p.month, p.day);
        let local = days * 86_400
            + i64::from(p.hour) * 3600
            + i64::from(p.minute) * 60
            + i64::from(p.second);
        Some(local - i64::from(p.offset_minutes.unwrap_or(0)) * 60)
    }
}

/// The epoch, `19700101T00:00:00Z`: what xapi itself sends for "never", and what a record holds
/// when the server did not send a datetime field.
impl Default for DateTime {
    fn default() -> Self {
        DateTime::from_unix(0)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse(s: &str) -> Option<DateTimeParts> {
    let (date, rest) = s.split_once('T')?;
    let date: String = date.chars().filter(|c| *c != '-').collect();
    if date.len() != 8 {
        return None;
    }
    let year = digits(&date[0..4])? as i32;
    let month = digits(&date[4..6])? as u8;
    let day = digits(&date[6..8])? as u8;
    // Split the time from the zone: the first 'Z', '+' or '-' after the time.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let time = time.split('.').next()?; // drop fractional seconds
    let time: String = time.chars().filter(|c| *c != ':').collect();
    if time.len() != 6 {
        return None;
    }
    let hour = digits(&time[0..2])? as u8;
    let minute = digits(&time[2..4])? as u8;
    let second = digits(&time[4..6])? as u8;
    let offset_minutes = match zone {
        "" => None,
        "Z" | "z" => Some(0),
        _ => {
            let sign: i16 = if zone.starts_with('-') { -1 } else { 1 };
            let hm: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if hm.len() != 4 {
                return None;
            }
            let h = digits(&hm[0..2])? as i16;
            let m = digits(&hm[2..4])? as i16;
            Some(sign * (h * 60 + m))
        }
    };
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    valid.then_some(DateTimeParts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset_minutes,
    })
}

// Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_zone_form() {
        let z = DateTime::from_wire("20070601T12:30:00Z");
        assert_eq!(z.unix_timestamp(), Some(1_180_701_000));
        let none = DateTime::from_wire("20070601T12:30:00");
        assert_eq!(none.unix_timestamp(), Some(1_180_701_000));
        let plus = DateTime::from_wire("20070601T21:30:00+09:00");
        assert_eq!(plus.unix_timestamp(), Some(1_180_701_000));
        let minus = DateTime::from_wire("2007-06-01T07:30:00-05:00");
        assert_eq!(minus.unix_timestamp(), Some(1_180_701_000));
        assert_eq!(plus.parts().unwrap().offset_minutes, Some(540));
    }

    #[test]
    fn unix_round_trip() {
        for secs in [0, 1, 951_782_400, 1_180_701_000, 4_102_444_800, -86_400] {
            assert_eq!(DateTime::from_unix(secs).unix_timestamp(), Some(secs));
        }
        assert_eq!(DateTime::from_unix(0).as_str(), "19700101T00:00:00Z");
    }

    #[test]
    fn unreadable_text_is_kept_not_rejected() {
        let d = DateTime::from_wire("yesterday");
        assert_eq!(d.parts(), None);
        assert_eq!(d.to_string(), "yesterday");
        assert_eq!(DateTime::from_wire("20071301T00:00:00Z").parts(), None);
    }
}
