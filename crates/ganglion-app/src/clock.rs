//! The time, as the application is given it, and times and dates as the store keeps
//! them: RFC 3339 in UTC with a fixed width, so that text order is time order on both
//! backends.
//!
//! Every use case asks the [`Clock`] the [`crate::App`] was given; nothing reads the
//! system's time behind its back. Tests hand the app a [`ManualClock`] and move it, so
//! that what is overdue tomorrow is seen today, without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// Where the application reads the time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The system's clock: what runs in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved: for tests and for playing a history that
/// happened over weeks (the demo). Cheap to clone; clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// Microseconds since the Unix epoch.
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn at(at: OffsetDateTime) -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(to_micros(at))),
        }
    }

    /// Starts at the system's time now.
    pub fn starting_now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    pub fn set(&self, at: OffsetDateTime) {
        self.micros.store(to_micros(at), Ordering::SeqCst);
    }

    pub fn advance(&self, by: time::Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let micros = self.micros.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

fn to_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The clock an app is given; the system's unless told otherwise.
pub(crate) type SharedClock = Arc<dyn Clock>;

pub fn format_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap_or_else(|_| at.format(&Rfc3339).unwrap_or_default())
}

pub fn format_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` date, as the API writes dates, in that one spelling (no sign before
/// the year, no other width). Years before 1 and after 9999 are not dates anyone means.
pub fn parse_date(text: &str) -> Option<Date> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(at, byte)| match at {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .filter(|date| (1..=9999).contains(&date.year()))
}

/// A time as the store keeps it (RFC 3339).
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = time::macros::datetime!(2026-11-02 08:00 UTC);
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(time::Duration::days(3));
        assert_eq!(format_time(clock.now()), "2026-11-05T08:00:00.000000Z");
        let shared = clock.clone();
        shared.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn dates_are_between_year_1_and_9999() {
        assert!(parse_date("2026-12-01").is_some());
        assert!(parse_date("0000-01-01").is_none());
        assert!(parse_date("2026-02-30").is_none());
        // One spelling: what is read writes back as it was sent.
        for other in [
            "+2026-12-01",
            "-2026-12-01",
            "2026-12-1",
            "02026-12-01",
            " 2026-12-01",
        ] {
            assert!(parse_date(other).is_none(), "{other}");
        }
    }
}
