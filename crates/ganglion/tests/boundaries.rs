//! The boundaries ARCHITECTURE.md states, checked: which crate may depend on which, who
//! speaks SQL and who speaks HTTP, and that every public use case takes the caller's
//! context first (so that no door can call one without saying who is asking).

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crates folder")
        .to_path_buf()
}

/// The names of a crate's normal dependencies, from its manifest.
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(crates_dir().join(krate).join("Cargo.toml"))
        .expect("the crate's manifest");
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            if let Some(name) = line.split(['=', '.']).next() {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

/// Every Rust file under a folder.
fn sources(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn crates_depend_only_downwards() {
    // (crate, what it must never depend on)
    let rules: &[(&str, &[&str])] = &[
        (
            "ganglion-core",
            &[
                "ganglion-store",
                "ganglion-app",
                "ganglion-web",
                "sqlx",
                "rusqlite",
                "axum",
                "hyper",
                "tokio",
                "serde_json",
                "reqwest",
                "maud",
                "utoipa",
            ],
        ),
        (
            "ganglion-store",
            &[
                "ganglion-app",
                "ganglion-web",
                "axum",
                "hyper",
                "maud",
                "utoipa",
                "tower",
            ],
        ),
        (
            "ganglion-app",
            &[
                "ganglion-web",
                "axum",
                "hyper",
                "maud",
                "sqlx",
                "rusqlite",
                "tower",
                "tower-http",
            ],
        ),
        ("ganglion-web", &["sqlx", "rusqlite", "ganglion-store"]),
    ];
    for (krate, forbidden) in rules {
        let found = dependencies(krate);
        assert!(!found.is_empty(), "{krate} has dependencies to read");
        for name in *forbidden {
            assert!(
                !found.iter().any(|dependency| dependency == name),
                "{krate} must not depend on {name}"
            );
        }
    }
}

#[test]
fn only_the_store_speaks_sql_and_only_the_web_crate_speaks_http() {
    for krate in ["ganglion-core", "ganglion-app", "ganglion-web"] {
        for file in sources(&crates_dir().join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            for word in [
                "sqlx::",
                "rusqlite::",
                "SELECT ",
                "INSERT INTO",
                "UPDATE items",
            ] {
                assert!(
                    !text.contains(word),
                    "{} speaks SQL ({word:?}); only ganglion-store may",
                    file.display()
                );
            }
        }
    }
    for krate in ["ganglion-core", "ganglion-store", "ganglion-app"] {
        for file in sources(&crates_dir().join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            for word in ["axum::", "hyper::", "StatusCode"] {
                assert!(
                    !text.contains(word),
                    "{} speaks HTTP ({word:?}); only ganglion-web may",
                    file.display()
                );
            }
        }
    }
}

/// The public async functions of a source file, each with the text of its parameters.
fn public_async_functions(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("pub async fn ") {
        let after = &rest[start + "pub async fn ".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let open = after.find('(').unwrap_or(0);
        let mut depth = 0;
        let mut end = open;
        for (index, c) in after[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + index;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push((name, after[open + 1..end].to_owned()));
        rest = &after[end..];
    }
    found
}

#[test]
fn every_public_use_case_takes_the_callers_context_first() {
    let features = crates_dir().join("ganglion-app/src/features");
    let mut checked = 0;
    for file in sources(&features) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (name, parameters) in public_async_functions(&text) {
            let parameters: Vec<String> = parameters
                .split(',')
                .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|p| !p.is_empty())
                .collect();
            let first = parameters.get(1).map(String::as_str).unwrap_or_default();
            assert!(
                parameters.first().is_some_and(|p| p.ends_with("self"))
                    && first.starts_with("ctx: &Ctx"),
                "{}: the use case `{name}` must take `ctx: &Ctx` right after `&self` (has {parameters:?})",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "the use cases were found ({checked})");
}
