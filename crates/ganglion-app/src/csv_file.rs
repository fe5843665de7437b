//! Reading CSV files for import: line numbers people can find in their editor, and
//! every bad row reported at once.

use crate::RowError;

/// Reads a CSV file whose first line must be `header`: every record with its line
/// number (the header is line 1), each with exactly as many fields as the header. Blank
/// lines are skipped; unreadable rows, bad encoding and wrong field counts are reported
/// for every row at once.
pub fn read_records(bytes: &[u8], header: &str) -> Result<Vec<(u64, Vec<String>)>, Vec<RowError>> {
    let columns = header.split(',').count();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut first = true;
    // Lines are counted from byte offsets: the reader's own line count skips blank lines.
    let mut counted_to = 0usize;
    let mut line = 1u64;
    let mut line_at = |offset: usize| {
        // A record's position can point at the blank lines skipped before it.
        let mut offset = offset.min(bytes.len());
        while offset < bytes.len() && matches!(bytes[offset], b'\n' | b'\r') {
            offset += 1;
        }
        line += bytes[counted_to..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        counted_to = offset;
        line
    };
    loop {
        let start = reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                errors.push(RowError {
                    line: line_at(start),
                    code: None,
                    reason: format!("the row cannot be read as CSV: {error}"),
                });
                break;
            }
        }
        let line = line_at(record.position().map_or(start, |p| p.byte() as usize));
        let fields: Result<Vec<&str>, _> = record.iter().map(std::str::from_utf8).collect();
        let Ok(fields) = fields else {
            errors.push(RowError {
                line,
                code: None,
                reason: "bad encoding: the row is not valid UTF-8".into(),
            });
            first = false;
            continue;
        };
        // No text means the NUL character, and PostgreSQL cannot hold it: refused on
        // either backend alike.
        if fields.iter().any(|field| field.contains('\0')) {
            errors.push(RowError {
                line,
                code: None,
                reason: "bad encoding: the row holds the NUL character (U+0000)".into(),
            });
            if first {
                return Err(errors);
            }
            continue;
        }
        if first {
            first = false;
            let expected = header;
            let header: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
            if header.join(",") != expected {
                errors.push(RowError {
                    line,
                    code: None,
                    reason: format!(
                        "the first line must be the header {expected:?}, not {:?}",
                        header.join(",")
                    ),
                });
                return Err(errors);
            }
            continue;
        }
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue;
        }
        if fields.len() != columns {
            errors.push(RowError {
                line,
                code: fields.first().map(|code| code.to_string()),
                reason: format!(
                    "a row has {columns} fields ({header}), this one has {}",
                    fields.len()
                ),
            });
            continue;
        }
        rows.push((
            line,
            fields.iter().map(|f| unguard_cell(f).to_owned()).collect(),
        ));
    }
    if first {
        errors.push(RowError {
            line: 1,
            code: None,
            reason: format!("the file is empty; it must start with the header {header:?}"),
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

fn starts_like_formula(text: &str) -> bool {
    text.trim_start_matches('\'')
        .starts_with(FORMULA_STARTS.as_slice())
}

/// A value as an export writes it: one that a spreadsheet would read as a formula
/// (`=`, `+`, `-`, `@` first, behind any apostrophes) gets an apostrophe in front, which
/// spreadsheets show as text and [`unguard_cell`] takes off again on import.
pub fn guard_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if starts_like_formula(text) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A value as an import reads it: the apostrophe [`guard_cell`] put in front is taken
/// off, so that an export imports back as it was.
pub fn unguard_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if starts_like_formula(rest) => rest,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_is_exported_as_text_and_imported_as_it_was() {
        for (value, exported) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("'=x", "''=x"),
            ("'quoted", "'quoted"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(guard_cell(value), exported);
            assert_eq!(unguard_cell(&guard_cell(value)), value);
        }
    }
}
