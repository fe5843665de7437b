//! Backup while the server takes writes, then restore into an empty database.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use ganglion_app::{App, Ctx, ListUnits};
use ganglion_testkit::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;
use support::{backends, TestServer};

#[tokio::test]
async fn a_backup_under_write_load_restores_whole_and_consistent() {
    for backend in backends() {
        let server = Arc::new(TestServer::start(backend).await);
        let c = server.unit(None, "centre", "C").await;
        let p = server.unit(Some(&c), "province", "P").await;
        let person = server
            .post("/api/v1/people", &json!({"name": "Kim"}))
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let post = server
            .post(
                "/api/v1/posts",
                &json!({"person": person, "unit": p, "role": "secretary"}),
            )
            .await;
        assert_eq!(post.status, StatusCode::CREATED);

        // Writers keep creating counties while the backup is taken.
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let (progress, mut watched) = tokio::sync::watch::channel(0usize);
        let progress = Arc::new(progress);
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let (server, stop, written, p, progress) = (server.clone(), stop.clone(), written.clone(), p.clone(), progress.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) && n < 2000 {
                        let answer = server
                            .post("/api/v1/units", &json!({"parent": p, "kind": "city_county", "name": "County", "code": format!("K{writer}-{n}")}))
                            .await;
                        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
                        let total = written.fetch_add(1, Ordering::Relaxed) + 1;
                        progress.send_replace(total);
                        n += 1;
                    }
                })
            })
            .collect();
        watched.wait_for(|total| *total >= 20).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ganglion.backup");
        let rows = server.app.backup(&Ctx::operator(), &file).await.unwrap();
        let written_by_backup = written.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.await.unwrap();
        }
        assert!(rows > 0);

        let target = TestDatabase::new(backend);
        let (restored, copied) = App::restore(&target.url, &file).await.unwrap();
        assert_eq!(copied, rows);
        let ctx = Ctx::operator();
        let status = restored.verify_audit(&ctx).await.unwrap();
        assert!(status.intact, "{status:?}");

        // The restored history is exactly the first part of the live one: the backup
        // saw one moment, not a mix of moments.
        let original = server
            .app
            .audit(
                &ctx,
                ganglion_app::AuditQuery {
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let copy = restored
            .audit(
                &ctx,
                ganglion_app::AuditQuery {
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let restore_entry = &copy.items[0];
        assert_eq!(restore_entry.action, "database.restore");
        for entry in &copy.items[1..] {
            let live = original
                .items
                .iter()
                .find(|e| e.seq == entry.seq)
                .expect("the entry is in the live trail");
            assert_eq!(live.hash, entry.hash);
        }
        // Every unit the backup holds was created through an audited write it also holds.
        let units = restored
            .list_units(
                &ctx,
                ListUnits {
                    kind: Some("city_county".into()),
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let creates = copy
            .items
            .iter()
            .filter(|e| e.action == "unit.create")
            .count();
        assert_eq!(
            units.items.len() + 2,
            creates,
            "units and their audit entries agree"
        );
        assert!(
            units.items.len() >= 20 && units.items.len() <= written_by_backup + 4,
            "{} counties",
            units.items.len()
        );
        let posts = restored.unit_posts(&ctx, &p).await.unwrap();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].person_name, "Kim");

        // The restored database is a working organization: the administrator signs in.
        let server_copy = TestServer::serve(restored, target).await;
        server_copy.login("admin", support::ADMIN_PASSWORD).await;
        // A second restore into a database that is no longer empty is refused.
        let again = App::restore(&server_copy.database.url, &file).await;
        assert!(matches!(
            again,
            Err(ganglion_app::AppError::Conflict { .. })
        ));
        server_copy.stop().await;
    }
}
