//! Words for full-text search, the same for every backend: what a text is indexed by
//! ([`index_tokens`]), what a query asks for ([`query_tokens`]), and where a query
//! matches a text, for snippets that mark the match ([`snippet`], [`highlight`]).
//!
//! Korean compounds do not split on spaces (`질소비료를` holds the word `비료`), so a
//! run of Hangul (or of Chinese or Japanese characters) is indexed by every pair of
//! neighbouring syllables — its bigrams — followed by each syllable alone. A query word
//! of two syllables or more then asks for its bigrams one after the other (a phrase), so
//! `비료` is found inside `질소비료를`, and a one-syllable query (`쌀`) asks for the
//! syllable itself. Because the syllables of a run come after all its bigrams, two
//! runs' bigrams are never neighbours, and a phrase never spans a space.
//!
//! Other words are lowercased; English words are reduced to their stem (Snowball's
//! English stemmer), so that `raised` finds `raising`. Digits are words of their own.
//!
//! The store indexes the tokens joined by spaces, with a tokenizer that only splits on
//! spaces and folds nothing we have not folded already (SQLite FTS5 `unicode61`,
//! PostgreSQL `to_tsvector('simple', …)`), so both backends find exactly the same.
//!
//! ```
//! use ganglion_core::text::{index_tokens, query_tokens, Term};
//!
//! let tokens = index_tokens("질소비료를 raised");
//! assert!(tokens.contains(&"비료".to_owned()) && tokens.contains(&"rais".to_owned()));
//! let query = query_tokens("비료 raising");
//! assert_eq!(query.terms, vec![Term::Word("비료".into()), Term::Word("rais".into())]);
//! ```
//!
//! The same functions serve any name search (units, people, directives): index the
//! name's tokens, ask with the query's.

use std::ops::Range;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

/// The longest token kept, in characters; a longer "word" is cut there.
pub const MAX_TOKEN_CHARS: usize = 64;
/// The most terms a query asks for; further words are not searched for.
pub const MAX_QUERY_TERMS: usize = 16;
/// The most syllables of one Korean query word that are searched for.
pub const MAX_PHRASE_SYLLABLES: usize = 24;

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// What a character is to the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A Hangul syllable or jamo, a Chinese character, kana: written without spaces
    /// between words, indexed by bigrams.
    Syllable,
    Letter,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    let code = u32::from(c);
    let syllabic = matches!(code,
        0x1100..=0x11FF      // Hangul jamo
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3130..=0x318F    // Hangul compatibility jamo
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xA960..=0xA97F    // Hangul jamo extended A
        | 0xAC00..=0xD7A3    // Hangul syllables
        | 0xD7B0..=0xD7FF    // Hangul jamo extended B
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FFFF  // CJK extensions B and later
    );
    if syllabic {
        Class::Syllable
    } else if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// A maximal run of characters of one class (never [`Class::Other`]), as a byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    class: Class,
    range: Range<usize>,
}

/// The runs of a text, in order.
fn runs(text: &str) -> impl Iterator<Item = Run> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || loop {
        let (start, first) = chars.next()?;
        let kind = class(first);
        if kind == Class::Other {
            continue;
        }
        let mut end = start + first.len_utf8();
        while let Some(&(index, c)) = chars.peek() {
            // A combining mark belongs to the letter before it.
            let same = class(c) == kind || (kind == Class::Letter && is_mark(c));
            if !same {
                break;
            }
            end = index + c.len_utf8();
            chars.next();
        }
        return Some(Run {
            class: kind,
            range: start..end,
        });
    })
}

/// Combining marks (accents written as characters of their own) that are not letters.
fn is_mark(c: char) -> bool {
    matches!(u32::from(c), 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF)
}

/// A word as indexed: lowercased, an English word stemmed, cut to [`MAX_TOKEN_CHARS`].
fn normalize_word(word: &str) -> String {
    let lower: String = word
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !is_mark(*c))
        .take(MAX_TOKEN_CHARS)
        .collect();
    if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_lowercase()) {
        let stem = ENGLISH.stem(&lower);
        if !stem.is_empty() {
            return stem.into_owned();
        }
    }
    lower
}

fn syllables(text: &str, run: &Run) -> Vec<char> {
    text[run.range.clone()].chars().collect()
}

fn bigram(pair: &[char]) -> String {
    pair.iter().collect()
}

/// The tokens a text is indexed by, in order: each word normalized, and for each run of
/// syllables its bigrams followed by its syllables.
pub fn index_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for run in runs(text) {
        match run.class {
            Class::Syllable => {
                let chars = syllables(text, &run);
                tokens.extend(chars.windows(2).map(bigram));
                tokens.extend(chars.iter().map(char::to_string));
            }
            Class::Letter | Class::Digit => tokens.push(normalize_word(&text[run.range])),
            Class::Other => {}
        }
    }
    tokens
}

/// [`index_tokens`] joined by spaces: the text the store's index reads.
pub fn index_text(text: &str) -> String {
    index_tokens(text).join(" ")
}

/// One thing a query asks for; a text matches a query when it holds every term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    /// One token.
    Word(String),
    /// Tokens that must follow one another: the bigrams of a Korean word.
    Phrase(Vec<String>),
}

impl Term {
    /// The term's tokens, in order.
    pub fn tokens(&self) -> &[String] {
        match self {
            Term::Word(word) => std::slice::from_ref(word),
            Term::Phrase(tokens) => tokens,
        }
    }
}

/// What a query asks for: every term, in the order written. Empty when the query holds
/// nothing searchable (only spaces or punctuation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
    /// The runs of syllables asked for, as written: where a text matches them is found
    /// by looking for them, not their bigrams.
    syllable_words: Vec<String>,
}

impl Query {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The terms of a query: each word normalized as [`index_tokens`] does; a run of
/// syllables asks for its bigrams as a phrase (or, of one syllable, for itself). Terms
/// repeated are asked for once; at most [`MAX_QUERY_TERMS`].
pub fn query_tokens(query: &str) -> Query {
    let mut out = Query::default();
    for run in runs(query) {
        if out.terms.len() >= MAX_QUERY_TERMS {
            break;
        }
        let (term, written) = match run.class {
            Class::Syllable => {
                let mut chars = syllables(query, &run);
                chars.truncate(MAX_PHRASE_SYLLABLES);
                let written: String = chars.iter().collect();
                let term = match chars.len() {
                    1 => Term::Word(written.clone()),
                    2 => Term::Word(written.clone()),
                    _ => Term::Phrase(chars.windows(2).map(bigram).collect()),
                };
                (term, Some(written))
            }
            Class::Letter | Class::Digit => (Term::Word(normalize_word(&query[run.range])), None),
            Class::Other => continue,
        };
        if !out.terms.contains(&term) {
            out.terms.push(term);
            out.syllable_words.extend(written);
        }
    }
    out
}

/// Where the query matches the text: byte ranges, in order, not overlapping.
pub fn find_matches(text: &str, query: &Query) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    let words: Vec<&String> = query
        .terms
        .iter()
        .filter_map(|term| match term {
            Term::Word(word) if !word.chars().all(|c| class(c) == Class::Syllable) => Some(word),
            _ => None,
        })
        .collect();
    for run in runs(text) {
        match run.class {
            Class::Syllable => {
                let run_text = &text[run.range.clone()];
                for written in &query.syllable_words {
                    for (offset, _) in run_text.match_indices(written.as_str()) {
                        let start = run.range.start + offset;
                        found.push(start..start + written.len());
                    }
                }
            }
            Class::Letter | Class::Digit => {
                if words.is_empty() {
                    continue;
                }
                let word = normalize_word(&text[run.range.clone()]);
                if words.iter().any(|wanted| **wanted == word) {
                    found.push(run.range);
                }
            }
            Class::Other => {}
        }
    }
    found.sort_by_key(|range| (range.start, std::cmp::Reverse(range.end)));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
    for range in found {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// A piece of text shown to a reader, marked where the query matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub matched: bool,
}

fn spans(text: &str, matches: &[Range<usize>], window: Range<usize>) -> Vec<Span> {
    let mut out = Vec::new();
    let mut at = window.start;
    for range in matches {
        let start = range.start.max(window.start);
        let end = range.end.min(window.end);
        if start >= end {
            continue;
        }
        if start > at {
            out.push(Span {
                text: text[at..start].to_owned(),
                matched: false,
            });
        }
        out.push(Span {
            text: text[start..end].to_owned(),
            matched: true,
        });
        at = end;
    }
    if at < window.end {
        out.push(Span {
            text: text[at..window.end].to_owned(),
            matched: false,
        });
    }
    out
}

/// The whole text, marked where the query matches (a title).
pub fn highlight(text: &str, query: &Query) -> Vec<Span> {
    spans(text, &find_matches(text, query), 0..text.len())
}

/// An excerpt of about `width` characters around the first match (or the text's
/// beginning when nothing matches), marked where the query matches, with "…" where
/// the text was cut. Whitespace is folded to single spaces.
pub fn snippet(text: &str, query: &Query, width: usize) -> Vec<Span> {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let matches = find_matches(&folded, query);
    let boundaries: Vec<usize> = folded
        .char_indices()
        .map(|(index, _)| index)
        .chain(std::iter::once(folded.len()))
        .collect();
    let chars = boundaries.len() - 1;
    if chars <= width {
        return spans(&folded, &matches, 0..folded.len());
    }
    let char_at = |byte: usize| boundaries.partition_point(|b| *b < byte);
    // Start a third of the width before the first match, at a space if one is near.
    let first = matches.first().map_or(0, |range| char_at(range.start));
    let mut start = first.saturating_sub(width / 3).min(chars - width);
    if start > 0 {
        let search = &folded[boundaries[start]..boundaries[(start + 12).min(chars)]];
        if let Some(space) = search.find(' ') {
            start = char_at(boundaries[start] + space + 1);
        }
    }
    let mut end = (start + width).min(chars);
    if end < chars {
        let from = end.saturating_sub(12).max(start);
        let search = &folded[boundaries[from]..boundaries[end]];
        if let Some(space) = search.rfind(' ') {
            end = char_at(boundaries[from] + space);
        }
    }
    let mut out = Vec::new();
    if start > 0 {
        out.push(Span {
            text: "…".into(),
            matched: false,
        });
    }
    out.extend(spans(&folded, &matches, boundaries[start]..boundaries[end]));
    if end < chars {
        out.push(Span {
            text: "…".into(),
            matched: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str, query: &str) -> bool {
        // A text matches when every term's tokens appear in it, a phrase's in a row:
        // what the store's index answers, asked here of the tokens themselves.
        let tokens = index_tokens(text);
        let query = query_tokens(query);
        !query.is_empty()
            && query.terms.iter().all(|term| {
                let wanted = term.tokens();
                tokens.windows(wanted.len()).any(|window| window == wanted)
            })
    }

    #[test]
    fn korean_words_are_found_inside_longer_words() {
        for (text, query, found) in [
            ("질소비료를 제때에 실어 날랐다", "비료", true),
            ("질소비료를 제때에 실어 날랐다", "질소비료", true),
            ("질소비료를 제때에 실어 날랐다", "질소 비료", true),
            ("쌀 생산을 늘린 경험", "쌀", true),
            ("햅쌀을 거두었다", "쌀", true),
            ("밀가루를 나누었다", "쌀", false),
            ("비 오는 날 료금을 냈다", "비료", false),
            ("석회석광산의 생산을 높인 경험", "석회석광산", true),
            ("석회석 광산", "석회석광산", false),
            ("광산 석회", "석회석", false),
        ] {
            assert_eq!(matches(text, query), found, "{query:?} in {text:?}");
        }
    }

    #[test]
    fn english_words_are_found_in_any_inflection() {
        for (text, query, found) in [
            ("How the mine raised its output", "raising", true),
            ("Raising output at the limestone mine", "raised", true),
            ("The farms harvested more rice", "harvest", true),
            ("Fertilizers delivered on time", "fertilizer", true),
            ("Fertilizers delivered on time", "deliveries", false),
            ("Twice Three-Revolution Red Flag", "three revolution", true),
            ("output rose in 2025", "2025", true),
        ] {
            assert_eq!(matches(text, query), found, "{query:?} in {text:?}");
        }
    }

    #[test]
    fn bigrams_of_two_runs_are_never_neighbours() {
        // "비료 료리": the bigrams 비료 and 료리 are in different runs, so the phrase
        // "비료리" is not in the text.
        assert!(!matches("비료 료리", "비료리"));
        assert!(matches("비료리", "비료리"));
    }

    #[test]
    fn a_query_of_nothing_searchable_is_empty() {
        for query in ["", "   ", "!!! ,,, ?", "—…·"] {
            assert!(query_tokens(query).is_empty(), "{query:?}");
        }
        let long = "가".repeat(10_000);
        let query = query_tokens(&long);
        assert_eq!(query.terms.len(), 1);
        assert_eq!(query.terms[0].tokens().len(), MAX_PHRASE_SYLLABLES - 1);
        let many = "word ".repeat(2_000) + &(0..100).map(|n| format!("w{n} ")).collect::<String>();
        assert!(query_tokens(&many).terms.len() <= MAX_QUERY_TERMS);
    }

    #[test]
    fn snippets_mark_the_match() {
        let text = "첫 문장은 길게 이어진다. ".repeat(10)
            + "이 협동농장은 질소비료를 제때에 날라 쌀 생산을 높였다. "
            + &"끝맺는 말. ".repeat(10);
        let query = query_tokens("비료 쌀");
        let pieces = snippet(&text, &query, 60);
        let marked: Vec<&str> = pieces
            .iter()
            .filter(|s| s.matched)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, vec!["비료", "쌀"]);
        assert_eq!(pieces.first().unwrap().text, "…");
        assert_eq!(pieces.last().unwrap().text, "…");
        let shown: usize = pieces.iter().map(|s| s.text.chars().count()).sum();
        assert!(shown <= 62, "{shown}");

        let english = highlight(
            "Raising the output of a limestone mine",
            &query_tokens("raised mines"),
        );
        let marked: Vec<&str> = english
            .iter()
            .filter(|s| s.matched)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, vec!["Raising", "mine"]);
        let joined: String = english.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, "Raising the output of a limestone mine");
    }

    #[test]
    fn a_snippet_without_a_match_is_the_beginning() {
        let pieces = snippet("short text", &query_tokens("absent"), 80);
        assert_eq!(
            pieces,
            vec![Span {
                text: "short text".into(),
                matched: false
            }]
        );
    }
}
