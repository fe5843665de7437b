//! Times and dates as the store keeps them: RFC 3339 in UTC with a fixed width, so that
//! text order is time order on both backends.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

pub fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

pub fn format_time(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    ))
    .unwrap_or_else(|_| at.format(&Rfc3339).unwrap_or_default())
}

pub fn today() -> String {
    format_date(OffsetDateTime::now_utc().date())
}

pub fn format_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` date, as the API writes dates.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}
