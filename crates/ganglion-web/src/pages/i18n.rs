//! The one translation layer of the pages. Every string a person reads comes from a
//! catalogue in `locales/<code>.toml`; adding a language is adding a file to
//! [`LANGUAGES`]. English is complete by definition; a key missing elsewhere falls back to
//! English (and a test keeps the catalogues equal).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

/// Code, name in its own language, catalogue.
pub(crate) const LANGUAGES: &[(&str, &str, &str)] = &[
    ("en", "English", include_str!("../../locales/en.toml")),
    ("ko", "한국어", include_str!("../../locales/ko.toml")),
];

/// The cookie that remembers a chosen language.
pub(crate) const LANG_COOKIE: &str = "ganglion_lang";

#[derive(Debug)]
pub(crate) struct Texts {
    pub code: &'static str,
    entries: HashMap<String, String>,
}

static CATALOGUES: LazyLock<Vec<Texts>> = LazyLock::new(|| {
    LANGUAGES
        .iter()
        .map(|(code, _, text)| Texts {
            code,
            entries: parse_catalogue(text),
        })
        .collect()
});

fn parse_catalogue(text: &str) -> HashMap<String, String> {
    // The catalogues are part of the binary and checked by a test; a broken one is a
    // bug of the build, caught before release.
    let table: toml::Table = toml::from_str(text).expect("a valid embedded catalogue");
    table
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.as_str()?.to_owned())))
        .collect()
}

impl Texts {
    /// The catalogue for a language code; English for one we do not have.
    pub fn of(code: &str) -> &'static Texts {
        CATALOGUES
            .iter()
            .find(|texts| texts.code == code)
            .unwrap_or(&CATALOGUES[0])
    }

    /// The text for `key`.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        if let Some(text) = self.entries.get(key) {
            return text;
        }
        match CATALOGUES[0].entries.get(key) {
            Some(text) => text,
            None => key,
        }
    }

    /// The text for `key` in this language or English, if either has it: for keys made
    /// from data (kinds of units), which fall back to the data's own words.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .get(key)
            .or_else(|| CATALOGUES[0].entries.get(key))
            .map(String::as_str)
    }

    /// The text for `key` with `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), &value.to_string());
        }
        text
    }

    /// A number written for people (thousands grouped).
    pub fn number(&self, value: u64) -> String {
        let digits = value.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                out.push(',');
            }
            out.push(digit);
        }
        out
    }

    /// A measured quantity for people: thousands grouped, up to two decimals.
    pub fn number_f64(&self, value: f64) -> String {
        if !value.is_finite() {
            return "—".into();
        }
        let rounded = (value * 100.0).round() / 100.0;
        let whole = rounded.trunc().abs() as u64;
        let fraction = ((rounded.abs() - whole as f64) * 100.0).round() as u64;
        let sign = if rounded < 0.0 { "-" } else { "" };
        match fraction {
            0 => format!("{sign}{}", self.number(whole)),
            f if f % 10 == 0 => format!("{sign}{}.{}", self.number(whole), f / 10),
            f => format!("{sign}{}.{f:02}", self.number(whole)),
        }
    }
}

/// The language for a request: the chosen one if a cookie names it, else the first of
/// `Accept-Language` we have, else English.
pub(crate) fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> &'static str {
    let known = |code: &str| {
        LANGUAGES
            .iter()
            .find(|(known, _, _)| known.eq_ignore_ascii_case(code))
            .map(|(known, _, _)| *known)
    };
    if let Some(code) = cookie.and_then(known) {
        return code;
    }
    let mut offered: Vec<(f32, &str)> = accept_language
        .unwrap_or_default()
        .split(',')
        .filter_map(|item| {
            let mut parts = item.trim().split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some((quality, tag))
        })
        .collect();
    offered.sort_by(|a, b| b.0.total_cmp(&a.0));
    offered
        .into_iter()
        .find_map(|(_, tag)| known(tag.split('-').next().unwrap_or(tag)))
        .unwrap_or("en")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_has_exactly_the_english_keys() {
        let english = parse_catalogue(LANGUAGES[0].2);
        for (code, _, text) in LANGUAGES {
            let other = parse_catalogue(text);
            let mut missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
            let mut extra: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty(), "{code} lacks {missing:?}");
            assert!(extra.is_empty(), "{code} has keys English lacks: {extra:?}");
            for (key, value) in &other {
                let placeholders = |text: &str| {
                    let mut names: Vec<String> = text
                        .split('{')
                        .skip(1)
                        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
                        .collect();
                    names.sort();
                    names
                };
                assert_eq!(
                    placeholders(value),
                    placeholders(&english[key]),
                    "{code}: {key} must use the same placeholders as English"
                );
            }
        }
    }

    /// Every key the page code asks for is in the English catalogue: a typo would
    /// otherwise show the key itself to people.
    #[test]
    fn every_key_used_by_the_pages_exists() {
        let english = parse_catalogue(LANGUAGES[0].2);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/pages");
        let mut unknown = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            for pattern in [".t(\"", ".f(\""] {
                for piece in source.split(pattern).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    if !english.contains_key(key) {
                        unknown.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        // Keys kept in tables rather than written at the call.
        let tabled = super::super::shell::NAVIGATION
            .iter()
            .chain(super::super::audit::ACTION_FAMILIES);
        for (_, key) in tabled {
            if !english.contains_key(*key) {
                unknown.push((*key).to_owned());
            }
        }
        assert!(
            unknown.is_empty(),
            "keys missing from en.toml: {unknown:#?}"
        );
    }

    #[test]
    fn language_follows_the_cookie_then_the_browser() {
        assert_eq!(negotiate(Some("ko"), Some("en")), "ko");
        assert_eq!(negotiate(Some("xx"), Some("ko-KR,en;q=0.5")), "ko");
        assert_eq!(negotiate(None, Some("de, en;q=0.4, ko;q=0.8")), "ko");
        assert_eq!(negotiate(None, None), "en");
    }

    #[test]
    fn numbers_are_grouped() {
        let texts = Texts::of("en");
        assert_eq!(texts.number(0), "0");
        assert_eq!(texts.number(1000), "1,000");
        assert_eq!(texts.number(1234567), "1,234,567");
    }
}
