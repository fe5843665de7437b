//! Small pieces of markup that many pages share.

use ganglion_app::UnitView;
use ganglion_core::Template;
use maud::{html, Markup};

use super::i18n::Texts;

/// A link to a unit's page, by its name.
pub(crate) fn unit_link(unit: &UnitView) -> Markup {
    html! { a href={ "/units/" (unit.id) } { (unit.name) } }
}

/// The name of a kind of unit in the reader's language, else the template's own label.
pub(crate) fn kind_label<'a>(texts: &'a Texts, template: &'a Template, kind: &'a str) -> &'a str {
    if let Some(text) = texts.get(&format!("kind.{kind}")) {
        return text;
    }
    template
        .kind(kind)
        .map(|rule| rule.label.as_str())
        .unwrap_or(kind)
}

pub(crate) fn role_label<'a>(texts: &'a Texts, role: &'a str) -> &'a str {
    match role {
        "secretary" => texts.t("role.secretary"),
        "official" => texts.t("role.official"),
        "member" => texts.t("role.member"),
        other => other,
    }
}

/// The path from the top of what the reader may see down to the unit.
pub(crate) fn breadcrumbs(texts: &Texts, ancestors: &[UnitView], current: &str) -> Markup {
    html! {
        nav class="breadcrumbs" aria-label=(texts.t("unit.breadcrumbs")) {
            ol {
                @for unit in ancestors {
                    li { (unit_link(unit)) }
                }
                li aria-current="page" { (current) }
            }
        }
    }
}

pub(crate) fn tags(unit: &UnitView) -> Markup {
    html! {
        @for tag in &unit.tags {
            span class="tag" { (tag) }
            " "
        }
    }
}

/// Words as people type lists (tags, kinds): separated by `;`, `,` or spaces.
pub(crate) fn split_words(text: &str) -> Vec<String> {
    text.split([';', ',', ' '])
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An RFC 3339 time as people read it: date and minutes, in the time zone it was written.
pub(crate) fn short_time(at: &str) -> String {
    at.get(..16)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| at.to_owned())
}

/// The page of a record the audit trail names as `kind:id` (`directive:14`), if it has
/// one. Only records with a page of their own are linked; an account, a post or a
/// session are not.
pub(crate) fn record_path(object: &str) -> Option<String> {
    let (kind, id) = object.split_once(':')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base = match kind {
        "unit" => "/units",
        "directive" => "/directives",
        "assignment" => "/assignments",
        "person" => "/people",
        "programme" => "/programmes",
        _ => return None,
    };
    Some(format!("{base}/{id}"))
}

/// A record named by the audit trail, linked to its page where it has one.
pub(crate) fn record_link(object: &str, label: &str) -> Markup {
    html! {
        @match record_path(object) {
            Some(path) => a href=(path) { (label) },
            None => (label),
        }
    }
}

/// The share of `part` in `whole` as people read it: `42%`, or `—` of nothing.
pub(crate) fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".to_owned()
    } else {
        format!("{:.0}%", 100.0 * part as f64 / whole as f64)
    }
}

/// A measured quantity with its unit, as people read it: `15,565 t`.
pub(crate) fn quantity(texts: &Texts, value: f64, unit: &str) -> String {
    let number = texts.number_f64(value);
    if unit.trim().is_empty() {
        number
    } else {
        format!("{number}\u{a0}{}", unit.trim())
    }
}

/// A sum against its target: `15,565 / 41,280 t (38%)`.
pub(crate) fn against_target(texts: &Texts, sum: f64, target: f64, unit: &str) -> String {
    let reached = if target > 0.0 && sum.is_finite() {
        format!(" ({:.0}%)", 100.0 * sum / target)
    } else {
        String::new()
    };
    format!(
        "{} / {}{reached}",
        texts.number_f64(sum),
        quantity(texts, target, unit)
    )
}

/// A count of people: `1,204 people`.
pub(crate) fn people(texts: &Texts, count: u64) -> String {
    texts.f("count.people", &[("count", &texts.number(count))])
}
