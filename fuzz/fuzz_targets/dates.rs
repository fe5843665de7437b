//! The date and time parsers: any text is read or refused, never a panic; what is read
//! as a date writes back exactly as it was sent, and a time's stored spelling reads
//! back to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(date) = ganglion_app::clock::parse_date(text) {
        assert!((1..=9999).contains(&date.year()), "{text}");
        assert_eq!(ganglion_app::clock::format_date(date), text);
    }
    if let Some(at) = ganglion_app::clock::parse_time(text) {
        let written = ganglion_app::clock::format_time(at);
        if (1..=9999).contains(&at.to_offset(time::UtcOffset::UTC).year()) {
            let again = ganglion_app::clock::parse_time(&written).expect("reads back");
            assert_eq!(
                again.unix_timestamp_nanos() / 1000,
                at.unix_timestamp_nanos() / 1000,
                "{text} → {written}"
            );
        }
    }
});
