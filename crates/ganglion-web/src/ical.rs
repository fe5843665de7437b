//! iCalendar (RFC 5545) for a unit's tasks: text escaped, long lines folded, CRLF ends.

use ganglion_app::InboxItem;

/// The VCALENDAR of a unit's assignments, one VTODO each.
pub(crate) fn tasks(unit: &str, items: &[InboxItem]) -> String {
    let mut out = String::new();
    let mut line = |text: String| fold_into(&mut out, &text);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//Ganglion//Tasks of a unit//EN".into());
    line(format!(
        "X-WR-CALNAME:{}",
        escape(&format!("Tasks of unit {unit}"))
    ));
    for item in items {
        let (status, percent) = match item.state.as_str() {
            "conveyed" => ("NEEDS-ACTION", 0),
            "acknowledged" => ("IN-PROCESS", 10),
            "planned" => ("IN-PROCESS", 25),
            "in_progress" => ("IN-PROCESS", 50),
            "blocked" => ("IN-PROCESS", 50),
            "done" => ("COMPLETED", 100),
            _ => ("NEEDS-ACTION", 0),
        };
        line("BEGIN:VTODO".into());
        line(format!("UID:assignment-{}@ganglion", item.id));
        line(format!("DTSTAMP:{}", basic_time(&item.updated_at)));
        line(format!("SUMMARY:{}", escape(&item.title)));
        line(format!("DUE;VALUE=DATE:{}", item.due.replace('-', "")));
        line(format!("STATUS:{status}"));
        line(format!("PERCENT-COMPLETE:{percent}"));
        let mut description = format!("State: {}", item.state.replace('_', " "));
        if item.overdue {
            description.push_str(" (overdue)");
        }
        line(format!("DESCRIPTION:{}", escape(&description)));
        line(format!(
            "RELATED-TO;RELTYPE=PARENT:directive-{}@ganglion",
            item.directive
        ));
        if let Some(parent) = &item.parent_directive {
            line(format!(
                "X-GANGLION-PARENT-DIRECTIVE:directive-{parent}@ganglion"
            ));
        }
        line("END:VTODO".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// `2026-11-23T14:45:19Z` (or with an offset of zero) as `20261123T144519Z`.
fn basic_time(at: &str) -> String {
    let digits: String = at
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{digits}Z")
}

/// Escapes text values: backslash, semicolon, comma and line breaks.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded so that no line exceeds 75 octets (never inside a
/// UTF-8 character), each ended by CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let size = c.len_utf8();
        if width + size > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += size;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_without_splitting_a_character() {
        let mut out = String::new();
        fold_into(&mut out, &format!("SUMMARY:{}", "가".repeat(40)));
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "가".repeat(40)));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
        assert_eq!(basic_time("2026-11-23T14:45:19Z"), "20261123T144519Z");
    }
}
