//! The `ganglion` command as an operator meets it.

use std::process::{Command, Output};

fn ganglion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganglion"))
        .args(args)
        .env_remove("GANGLION_DATABASE_URL")
        .output()
        .expect("ganglion runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_command_shows_an_example() {
    for command in [
        &["--help"][..],
        &["init", "--help"],
        &["serve", "--help"],
        &["demo", "--help"],
        &["import", "--help"],
        &["import", "units", "--help"],
        &["export", "--help"],
        &["export", "units", "--help"],
        &["import", "people", "--help"],
        &["export", "people", "--help"],
        &["audit", "verify", "--help"],
        &["check", "--help"],
        &["audit", "key", "--help"],
        &["audit", "checkpoint", "--help"],
        &["audit", "proof", "--help"],
        &["audit", "consistency", "--help"],
        &["audit", "export", "--help"],
        &["audit", "verify-export", "--help"],
        &["backup", "--help"],
        &["restore", "--help"],
    ] {
        let output = ganglion(command);
        assert!(output.status.success(), "{command:?}");
        assert!(
            text(&output).contains("Example"),
            "{command:?}: {}",
            text(&output)
        );
    }
}

#[test]
fn bad_database_urls_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/missing.db", dir.path().display());
    for (args, expected) in [
        (
            vec!["export", "units", "--db", "mysql://localhost/x"],
            "unknown database URL scheme",
        ),
        (
            vec!["export", "units", "--db", missing.as_str()],
            "ganglion init",
        ),
        (
            vec!["init", "--db", "sqlite:///no/such/folder/g.db"],
            "does not exist",
        ),
        (vec!["init", "--db", "sqlite::memory:"], "in-memory"),
        (
            vec!["init", "--db", missing.as_str(), "--template", "guild"],
            "unknown template",
        ),
    ] {
        let output = ganglion(&args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            text(&output).contains(expected),
            "{args:?}: {}",
            text(&output)
        );
    }
    assert!(
        !dir.path().join("missing.db").exists(),
        "no database was made on the way"
    );
}

#[test]
fn init_import_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/g.db", dir.path().display());
    assert!(ganglion(&["init", "--db", &url]).status.success());

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "code,parent_code,kind,name,tags\nC,,centre,Centre,\nP,X,province,P,\n",
    )
    .unwrap();
    let output = ganglion(&["import", "units", bad.to_str().unwrap(), "--db", &url]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("line 3: unknown parent X"),
        "{}",
        text(&output)
    );

    let good = dir.path().join("good.csv");
    let rows = "code,parent_code,kind,name,tags\nC,,centre,Centre,\nP,C,province,북부,rural\n";
    std::fs::write(&good, rows).unwrap();
    let output = ganglion(&["import", "units", good.to_str().unwrap(), "--db", &url]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("Imported 2 units"));

    let output = ganglion(&["export", "units", "--db", &url]);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), rows);
    let file = dir.path().join("p.csv");
    let output = ganglion(&[
        "export",
        "units",
        "--under",
        "P",
        "--db",
        &url,
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "code,parent_code,kind,name,tags\nP,C,province,북부,rural\n"
    );
}

/// `ganglion check` finds a sound database sound, and names what a hand that edited
/// the rows broke: a path that no longer follows the parent's, a move history out of
/// step.
#[tokio::test]
async fn check_names_what_does_not_fit() {
    use sqlx::{Connection, Executor};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/g.db", dir.path().display());
    assert!(ganglion(&["init", "--db", &url]).status.success());
    let file = dir.path().join("units.csv");
    std::fs::write(
        &file,
        "code,parent_code,kind,name,tags\nC,,centre,Centre,\nP,C,province,North,\nK,P,city_county,County,\n",
    )
    .unwrap();
    assert!(
        ganglion(&["import", "units", file.to_str().unwrap(), "--db", &url])
            .status
            .success()
    );
    let output = ganglion(&["check", "--db", &url]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("The database is sound: 3 units"),
        "{}",
        text(&output)
    );

    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&url).await.unwrap();
    connection
        .execute("UPDATE units SET path = '/zzzzzzz/', depth = 5 WHERE code = 'P'")
        .await
        .unwrap();
    connection.close().await.unwrap();
    let output = ganglion(&["check", "--db", &url]);
    assert!(!output.status.success(), "{}", text(&output));
    for expected in ["has the path /zzzzzzz/", "has the depth 5", "not sound"] {
        assert!(
            text(&output).contains(expected),
            "{expected}: {}",
            text(&output)
        );
    }
}
