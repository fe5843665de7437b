//! The audit trail: every write leaves an entry, the database refuses to change them,
//! and every change, removal or reordering made behind the server's back is found.

mod support;

use ganglion_app::Ctx;
use ganglion_testkit::TestBackend;
use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor, Row};
use support::{backends, TestServer};

async fn raw_connection(server: &TestServer) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&server.database.url).await.unwrap()
}

const COLUMNS: &str = "seq, at, actor, action, object, unit_id, before_digest, after_digest, request_id, prev_hash, hash";

/// The rows as stored, every column as text, for putting them back exactly.
async fn rows(connection: &mut AnyConnection) -> Vec<Vec<Option<String>>> {
    let sql = "SELECT CAST(seq AS TEXT), at, actor, action, object, CAST(unit_id AS TEXT), before_digest, after_digest, request_id, prev_hash, hash FROM audit ORDER BY seq";
    sqlx::query(sql)
        .fetch_all(&mut *connection)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (0..11)
                .map(|i| row.try_get::<Option<String>, _>(i).unwrap())
                .collect()
        })
        .collect()
}

async fn put_back(connection: &mut AnyConnection, rows: &[Vec<Option<String>>]) {
    connection.execute("DELETE FROM audit").await.unwrap();
    let sql = format!(
        "INSERT INTO audit ({COLUMNS}) VALUES (CAST($1 AS BIGINT), $2, $3, $4, $5, CAST($6 AS BIGINT), $7, $8, $9, $10, $11)"
    );
    for row in rows {
        let mut query = sqlx::query(&sql);
        for value in row {
            query = query.bind(value.clone());
        }
        query.execute(&mut *connection).await.unwrap();
    }
}

async fn first_broken(server: &TestServer) -> Option<i64> {
    let status = server.app.verify_audit(&Ctx::operator()).await.unwrap();
    assert_eq!(status.intact, status.first_broken.is_none());
    status.first_broken
}

#[tokio::test]
async fn every_tampering_with_the_trail_is_found() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let p = server.unit(Some(&c), "province", "P").await;
        server.unit(Some(&p), "city_county", "K").await;
        assert_eq!(
            server
                .patch(&format!("/api/v1/units/{p}"), &json!({"name": "Renamed"}))
                .await
                .status,
            200
        );
        let person = server
            .post("/api/v1/people", &json!({"name": "Kim"}))
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            server
                .post(
                    "/api/v1/posts",
                    &json!({"person": person, "unit": p, "role": "secretary"})
                )
                .await
                .status,
            201
        );

        let status = server.get("/api/v1/audit/verify").await.json();
        assert_eq!(status["intact"], json!(true));
        let entries = server.get("/api/v1/audit").await.json();
        let actions: Vec<&str> = entries["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for expected in [
            "post.create",
            "person.create",
            "unit.update",
            "unit.create",
            "session.create",
            "account.create",
        ] {
            assert!(
                actions.contains(&expected),
                "{expected} is recorded: {actions:?}"
            );
        }

        let mut connection = raw_connection(&server).await;
        // With the guard in place the database refuses.
        assert!(connection
            .execute("UPDATE audit SET actor = 'x' WHERE seq = 1")
            .await
            .is_err());
        assert!(connection
            .execute("DELETE FROM audit WHERE seq = 1")
            .await
            .is_err());
        // Behind the server's back, without the guard.
        match backend {
            TestBackend::Sqlite => {
                connection
                    .execute("DROP TRIGGER audit_no_update")
                    .await
                    .unwrap();
                connection
                    .execute("DROP TRIGGER audit_no_delete")
                    .await
                    .unwrap();
            }
            TestBackend::Postgres => {
                connection
                    .execute("ALTER TABLE audit DISABLE TRIGGER USER")
                    .await
                    .unwrap();
            }
        }
        let original = rows(&mut connection).await;
        let count = original.len();
        assert!(count >= 8, "{count} entries");
        for index in 0..count {
            let seq = index as i64 + 1;
            // Each field of each row, changed alone.
            for column in 0..11 {
                let mut tampered = original.clone();
                let value = tampered[index][column].clone().unwrap_or_default();
                tampered[index][column] = Some(match column {
                    // Numbers stay numbers: the sequence number and the unit.
                    0 => (seq + 1000).to_string(),
                    5 => format!("{}9", value),
                    _ => format!("{value}x"),
                });
                put_back(&mut connection, &tampered).await;
                let found = first_broken(&server).await;
                if column == 0 {
                    // A renumbered entry is found where the sequence first goes wrong.
                    assert!(found.is_some(), "{backend:?}: renumbering entry {seq}");
                } else {
                    assert_eq!(
                        found,
                        Some(seq),
                        "{backend:?}: column {column} of entry {seq}"
                    );
                }
            }
            // The row removed.
            let mut removed = original.clone();
            removed.remove(index);
            put_back(&mut connection, &removed).await;
            let found = first_broken(&server).await;
            if index + 1 < count {
                assert!(
                    found.is_some_and(|s| s <= seq + 1),
                    "{backend:?}: removing entry {seq}"
                );
            } else {
                // Removing the newest entry leaves a shorter, intact chain; the head the
                // verification reports then no longer matches the one recorded before.
                assert_eq!(found, None);
                let head = server
                    .app
                    .verify_audit(&Ctx::operator())
                    .await
                    .unwrap()
                    .head;
                assert_ne!(head, original[count - 1][10].clone().unwrap());
            }
            // Two neighbours swapped, their sequence numbers kept in place.
            if index + 1 < count {
                let mut swapped = original.clone();
                swapped.swap(index, index + 1);
                swapped[index][0] = original[index][0].clone();
                swapped[index + 1][0] = original[index + 1][0].clone();
                put_back(&mut connection, &swapped).await;
                assert_eq!(
                    first_broken(&server).await,
                    Some(seq),
                    "{backend:?}: swapping entries {seq} and {}",
                    seq + 1
                );
            }
        }
        put_back(&mut connection, &original).await;
        assert_eq!(first_broken(&server).await, None, "restored");
        connection.close().await.unwrap();
        server.stop().await;
    }
}

#[tokio::test]
async fn the_command_line_names_the_first_broken_entry() {
    let server = TestServer::start(TestBackend::Sqlite).await;
    server.unit(None, "centre", "C").await;
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ganglion"))
            .args(["audit", "verify", "--db", &server.database.url])
            .output()
            .unwrap()
    };
    let intact = verify();
    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(String::from_utf8_lossy(&intact.stdout).contains("intact"));
    let mut connection = raw_connection(&server).await;
    connection
        .execute("DROP TRIGGER audit_no_update")
        .await
        .unwrap();
    connection
        .execute("UPDATE audit SET actor = 'someone else' WHERE seq = 2")
        .await
        .unwrap();
    let broken = verify();
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("broken at entry 2"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
    server.stop().await;
}
