//! The audit log that proves itself: the Merkle tree over the entries, the signed
//! checkpoints, inclusion and consistency proofs and the export, each checked offline
//! with the public key alone; and a history rewritten from scratch by someone holding
//! the database, failing against every checkpoint handed out before — on both
//! backends, through the use cases, over HTTP and from the command line.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use ganglion_app::{AuditKeyState, Ctx, ManualClock, VerifyOptions};
use ganglion_core::audit::checkpoint::{private_key_from_seed, LogSigner, LogVerifier};
use ganglion_core::audit::tree;
use ganglion_core::audit::{AuditEntry, GENESIS_HASH};
use ganglion_store::AuditDraft;
use ganglion_testkit::{TestBackend, TestDatabase};
use sqlx::{AnyConnection, Connection, Executor, Row};
use support::{backends, TestServer};

fn draft(number: usize) -> AuditDraft {
    AuditDraft {
        at: format!("2026-11-01T00:00:00.{:06}Z", number % 1_000_000),
        actor: format!("account:{}", number % 7 + 1),
        action: "unit.update".into(),
        object: format!("unit:{}", number % 13 + 1),
        unit: Some((number % 13 + 1) as i64),
        before_digest: None,
        after_digest: Some(format!("{number:064x}")),
        request_id: format!("r{number}"),
    }
}

/// Appends `count` entries at once, as a long history would have them.
async fn add_entries(server: &TestServer, count: usize) {
    let mut tx = server.app.store().write().await.unwrap();
    tx.append_audits_in_bulk((0..count).map(draft).collect())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn give_key(server: &TestServer, folder: &tempfile::TempDir) -> String {
    let path = folder.path().join("audit-key");
    match server
        .app
        .use_audit_key(&Ctx::operator(), &path, true)
        .await
        .unwrap()
    {
        AuditKeyState::Created { public_key, .. } => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "the key file is its owner's alone");
            }
            public_key
        }
        other => panic!("a key is made: {other:?}"),
    }
}

fn check(
    document: &[u8],
    public_key: &str,
    held: &[String],
) -> Result<ganglion_app::OfflineReport, String> {
    ganglion_app::verify_document(document, public_key, held).map_err(|failure| failure.0)
}

async fn proofs_of_every_entry_check_offline(backend: TestBackend) {
    let clock = ManualClock::starting_now();
    let server = TestServer::start_with_clock(backend, clock.clone()).await;
    let ctx = Ctx::operator();
    let log = server.app.audit_log();
    let anonymous = server.as_caller(None);

    // Before any checkpoint, and before any key.
    assert_eq!(server.get("/api/v1/audit/checkpoint").await.status, 404);
    assert_eq!(server.get("/api/v1/audit/key").await.status, 404);
    let folder = tempfile::tempdir().unwrap();
    let public_key = give_key(&server, &folder).await;
    // The key's public half is recorded, the use of it audited.
    let key_answer = server.get("/api/v1/audit/key").await;
    assert_eq!(key_answer.status, 200);
    assert_eq!(key_answer.text.trim(), public_key);
    // Given the same file again, the same key; given another one, refused.
    assert!(matches!(
        server
            .app
            .use_audit_key(&Ctx::operator(), &folder.path().join("audit-key"), true)
            .await
            .unwrap(),
        AuditKeyState::Loaded { .. }
    ));
    let other = folder.path().join("other-key");
    std::fs::write(
        &other,
        private_key_from_seed("ganglion/other", [9; 32]).unwrap(),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = server
            .app
            .use_audit_key(&Ctx::operator(), &other, true)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let refused = server
        .app
        .use_audit_key(&Ctx::operator(), &other, true)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not this database's"),
        "{refused}"
    );

    // Checkpoints: the first at once, then every 1,000 entries or 60 seconds.
    let mut signed = Vec::new();
    signed.push(
        log.run_checkpointer(&Ctx::operator())
            .await
            .unwrap()
            .expect("the first checkpoint"),
    );
    assert_eq!(
        log.run_checkpointer(&Ctx::operator()).await.unwrap(),
        None,
        "nothing new"
    );
    add_entries(&server, 10).await;
    assert_eq!(
        log.run_checkpointer(&Ctx::operator()).await.unwrap(),
        None,
        "ten entries, a moment later"
    );
    clock.advance(time::Duration::seconds(61));
    signed.push(
        log.run_checkpointer(&Ctx::operator())
            .await
            .unwrap()
            .expect("a minute later"),
    );
    add_entries(&server, 1200).await;
    signed.push(
        log.run_checkpointer(&Ctx::operator())
            .await
            .unwrap()
            .expect("1,200 entries later"),
    );
    add_entries(&server, 333).await;
    clock.advance(time::Duration::seconds(61));
    signed.push(
        log.run_checkpointer(&Ctx::operator())
            .await
            .unwrap()
            .expect("a minute later again"),
    );
    let size = signed.last().unwrap().size;
    assert!(size > 1543, "{size}");
    assert_eq!(
        server.app.store().audit_blocks_stored().await.unwrap(),
        size / 256,
        "every complete block of 256 entries is stored"
    );

    // Served as the signed note it is, to every signed-in account.
    let answer = server.get("/api/v1/audit/checkpoint").await;
    assert_eq!(answer.status, 200);
    assert!(answer.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(answer.text, signed.last().unwrap().note);
    assert_eq!(anonymous.get("/api/v1/audit/checkpoint").await.status, 401);
    assert_eq!(anonymous.get("/api/v1/audit/key").await.status, 401);
    let verifier = LogVerifier::new(&public_key).unwrap();
    let head = verifier.open(&answer.text).unwrap();
    assert_eq!(head.size, size);

    // Every entry's inclusion proof checks with the public key alone; changed, not.
    for seq in 1..=size as i64 {
        let proof = log.inclusion(&ctx, seq).await.unwrap();
        let document = serde_json::to_vec(&proof).unwrap();
        let report =
            check(&document, &public_key, &[]).unwrap_or_else(|e| panic!("entry {seq}: {e}"));
        assert_eq!(report.document, "inclusion");
        if seq % 97 == 1 {
            let mut changed = proof.clone();
            changed.entry.actor = "someone else".into();
            assert!(check(&serde_json::to_vec(&changed).unwrap(), &public_key, &[]).is_err());
            let mut moved = proof.clone();
            moved.entry.hash = tree::to_hex(&tree::EMPTY_HASH);
            assert!(check(&serde_json::to_vec(&moved).unwrap(), &public_key, &[]).is_err());
            if let Some(first) = proof.proof.first() {
                let mut wrong = proof.clone();
                wrong.proof[0] =
                    first.replacen(&first[..1], if &first[..1] == "0" { "1" } else { "0" }, 1);
                assert!(check(&serde_json::to_vec(&wrong).unwrap(), &public_key, &[]).is_err());
            }
        }
    }
    assert!(
        log.inclusion(&ctx, size as i64 + 1).await.is_err(),
        "not yet signed"
    );
    assert!(log.inclusion(&ctx, 0).await.is_err());

    // Every pair of checkpoints is consistent.
    for (index, old) in signed.iter().enumerate() {
        for new in &signed[index..] {
            let proof = log
                .consistency(&ctx, old.size as i64, new.size as i64)
                .await
                .unwrap();
            let document = serde_json::to_vec(&proof).unwrap();
            check(&document, &public_key, std::slice::from_ref(&old.note)).unwrap();
            if !proof.proof.is_empty() {
                let mut wrong = proof.clone();
                wrong.proof.pop();
                assert!(check(&serde_json::to_vec(&wrong).unwrap(), &public_key, &[]).is_err());
            }
        }
    }

    // The whole log, exported, checks offline; any change of it does not.
    let mut export = Vec::new();
    let written = log.export(&ctx, &mut export).await.unwrap();
    let report = check(&export, &public_key, &[signed[1].note.clone()]).unwrap();
    assert_eq!(report.entries, written);
    assert_eq!(report.checkpoints, signed.len() as u64);
    assert_eq!(report.proofs, signed.len() as u64 - 1);
    let text = String::from_utf8(export.clone()).unwrap();
    let changed = text.replacen("\"actor\":\"account:3\"", "\"actor\":\"account:4\"", 1);
    assert_ne!(changed, text);
    assert!(check(changed.as_bytes(), &public_key, &[]).is_err());
    let other_key =
        LogSigner::new(&private_key_from_seed("ganglion/other", [9; 32]).unwrap()).unwrap();
    assert!(check(&export, other_key.public_key(), &[]).is_err());

    // The database's own check agrees.
    let status = server.app.verify_audit(&ctx).await.unwrap();
    assert!(status.intact, "{status:?}");
    assert_eq!(status.checkpoints, signed.len() as u64);
    assert_eq!(status.public_key.as_deref(), Some(public_key.as_str()));
    server.stop().await;
}

async fn raw_connection(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.unwrap()
}

/// Rewrites the whole chain from entry `from` on, as someone holding the database
/// would: entry `from` says another actor, and every hash after it is recomputed, so
/// that the chain alone looks intact.
async fn rewrite_history(connection: &mut AnyConnection, backend: TestBackend, from: i64) {
    match backend {
        TestBackend::Sqlite => {
            for trigger in [
                "audit_no_update",
                "audit_no_delete",
                "audit_checkpoints_no_update",
                "audit_checkpoints_no_delete",
            ] {
                connection
                    .execute(format!("DROP TRIGGER {trigger}").as_str())
                    .await
                    .unwrap();
            }
        }
        TestBackend::Postgres => {
            connection
                .execute("ALTER TABLE audit DISABLE TRIGGER USER")
                .await
                .unwrap();
            connection
                .execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
                .await
                .unwrap();
        }
    }
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, object, unit_id, before_digest, after_digest, request_id FROM audit ORDER BY seq",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    let mut entries = Vec::new();
    for row in rows {
        let mut entry = AuditEntry {
            seq: row.get(0),
            at: row.get(1),
            actor: row.get(2),
            action: row.get(3),
            object: row.get(4),
            unit: row.get(5),
            before_digest: row.get(6),
            after_digest: row.get(7),
            request_id: row.get(8),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        if entry.seq == from {
            entry.actor = "someone else".into();
        }
        entry.hash = entry.compute_hash(&prev);
        prev.clone_from(&entry.hash);
        entries.push(entry);
    }
    connection.execute("DELETE FROM audit").await.unwrap();
    for entry in entries {
        sqlx::query(
            "INSERT INTO audit (seq, at, actor, action, object, unit_id, before_digest, after_digest, request_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(entry.seq)
        .bind(entry.at)
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.object)
        .bind(entry.unit)
        .bind(entry.before_digest)
        .bind(entry.after_digest)
        .bind(entry.request_id)
        .bind(entry.prev_hash)
        .bind(entry.hash)
        .execute(&mut *connection)
        .await
        .unwrap();
    }
}

async fn a_rewritten_chain_fails_against_checkpoints_handed_out_before(backend: TestBackend) {
    let server = TestServer::start(backend).await;
    let ctx = Ctx::operator();
    let folder = tempfile::tempdir().unwrap();
    let public_key = give_key(&server, &folder).await;
    add_entries(&server, 700).await;
    server.app.audit_log().checkpoint_now(&ctx).await.unwrap();
    // A reader keeps the checkpoint it was handed.
    let held = server.get("/api/v1/audit/checkpoint").await.text;
    add_entries(&server, 300).await;
    server.app.audit_log().checkpoint_now(&ctx).await.unwrap();
    let intact = server.app.verify_audit(&ctx).await.unwrap();
    assert!(intact.intact, "{intact:?}");
    assert_eq!(intact.checkpoints, 2);

    let mut connection = raw_connection(&server.database.url).await;
    rewrite_history(&mut connection, backend, 5).await;
    // The chain alone no longer tells: every link matches.
    let mut chain = ganglion_core::audit::ChainVerifier::default();
    for entry in server.app.store().audit_entries(0, 100_000).await.unwrap() {
        chain.check(&entry).unwrap();
    }
    // The stored checkpoints do.
    let status = server.app.verify_audit(&ctx).await.unwrap();
    assert!(!status.intact, "{backend:?}: {status:?}");
    assert!(
        status.reason.as_deref().unwrap().contains("rewritten"),
        "{status:?}"
    );

    // Whoever rewrote the history removes the checkpoints and the stored tree too…
    connection
        .execute("DELETE FROM audit_checkpoints")
        .await
        .unwrap();
    connection.execute("DELETE FROM audit_nodes").await.unwrap();
    let unseen = server.app.verify_audit(&ctx).await.unwrap();
    assert!(
        unseen.intact,
        "with nothing kept apart, a rewrite from scratch looks whole"
    );
    // …but the checkpoint handed out before still fixes the history.
    let options = VerifyOptions {
        public_key: Some(public_key.clone()),
        held: vec![held.clone()],
    };
    let status = server
        .app
        .verify_audit_with(&ctx, options.clone())
        .await
        .unwrap();
    assert!(!status.intact, "{backend:?}: {status:?}");
    assert!(
        status.reason.as_deref().unwrap().contains("held before"),
        "{status:?}"
    );

    // A checkpoint of the new history signed with any key but the instance's is
    // refused: that key is not in the database.
    let forger =
        LogSigner::new(&private_key_from_seed("ganglion/forged", [3; 32]).unwrap()).unwrap();
    let size = server.app.store().audit_size().await.unwrap();
    let forged_root = {
        let mut log = ganglion_core::audit::LogCheck::default();
        for entry in server.app.store().audit_entries(0, 100_000).await.unwrap() {
            log.check(&entry, |_, _| {}).unwrap();
        }
        log.root()
    };
    sqlx::query("INSERT INTO audit_checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4)")
        .bind(size)
        .bind(tree::to_hex(&forged_root))
        .bind(forger.sign(size as u64, forged_root))
        .bind("2026-11-01T00:00:00.000000Z")
        .execute(&mut connection)
        .await
        .unwrap();
    let with_key = VerifyOptions {
        public_key: Some(public_key.clone()),
        held: Vec::new(),
    };
    let status = server.app.verify_audit_with(&ctx, with_key).await.unwrap();
    assert!(
        !status.intact,
        "{backend:?}: a forged checkpoint: {status:?}"
    );
    let mut export = Vec::new();
    server
        .app
        .audit_log()
        .export(&ctx, &mut export)
        .await
        .unwrap();
    assert!(ganglion_app::verify_document(&export[..], &public_key, &[]).is_err());
    // With the forger's own key the export checks — but not with the checkpoint
    // handed out before, which that key did not sign.
    assert!(ganglion_app::verify_document(&export[..], forger.public_key(), &[]).is_ok());
    assert!(ganglion_app::verify_document(
        &export[..],
        forger.public_key(),
        std::slice::from_ref(&held)
    )
    .is_err());

    // Even the server itself, signing the rewritten history with the real key once
    // its checkpoints are gone, cannot make it pass against what it handed out before.
    connection
        .execute("DELETE FROM audit_checkpoints")
        .await
        .unwrap();
    server
        .app
        .audit_log()
        .run_checkpointer(&Ctx::operator())
        .await
        .unwrap()
        .expect("signed again");
    let mut export = Vec::new();
    server
        .app
        .audit_log()
        .export(&ctx, &mut export)
        .await
        .unwrap();
    assert!(ganglion_app::verify_document(&export[..], &public_key, &[]).is_ok());
    let failure =
        ganglion_app::verify_document(&export[..], &public_key, std::slice::from_ref(&held))
            .unwrap_err();
    assert!(failure.0.contains("held before"), "{failure}");
    let status = server.app.verify_audit_with(&ctx, options).await.unwrap();
    assert!(!status.intact, "{backend:?}: {status:?}");
    connection.close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn proofs_of_every_entry_check_offline_with_the_public_key_alone() {
    for backend in backends() {
        proofs_of_every_entry_check_offline(backend).await;
    }
}

#[tokio::test]
async fn a_chain_rewritten_from_scratch_fails_against_every_checkpoint_handed_out_before() {
    for backend in backends() {
        a_rewritten_chain_fails_against_checkpoints_handed_out_before(backend).await;
    }
}

#[tokio::test]
async fn a_server_with_the_key_signs_checkpoints_by_itself() {
    for backend in backends() {
        let database = TestDatabase::new(backend);
        let app = ganglion_app::App::init(&database.url, "party")
            .await
            .unwrap();
        app.create_admin(support::ADMIN_PASSWORD).await.unwrap();
        let folder = tempfile::tempdir().unwrap();
        app.use_audit_key(&Ctx::operator(), &folder.path().join("key"), true)
            .await
            .unwrap();
        let mut server = TestServer::serve(app, database).await;
        server.token = Some(server.login("admin", support::ADMIN_PASSWORD).await);
        // The checkpointer runs every second: asked until it has signed, for as long as a
        // loaded machine may take.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let note = loop {
            let answer = server.get("/api/v1/audit/checkpoint").await;
            if answer.status == 200 {
                break answer.text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let key = server.get("/api/v1/audit/key").await.text;
        assert!(LogVerifier::new(&key).unwrap().open(&note).unwrap().size >= 1);
        server.stop().await;
    }
}

fn ganglion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganglion"))
        .args(args)
        .env_remove("GANGLION_DATABASE_URL")
        .env_remove("GANGLION_AUDIT_KEY")
        .env("GANGLION_ADMIN_PASSWORD", "admin-password-for-tests")
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

fn succeeds(args: &[&str]) -> String {
    let output = ganglion(args);
    assert!(output.status.success(), "{args:?}: {}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_command_line_proves_exports_and_checks_offline() {
    for backend in backends() {
        let database = TestDatabase::new(backend);
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("audit.key");
        let key_arg = key.to_str().unwrap();
        let url = database.url.as_str();
        let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

        let init = succeeds(&["init", "--db", url, "--audit-key", key_arg]);
        assert!(init.contains("Made the audit key"), "{init}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let public_key = succeeds(&["audit", "key", "--db", url, "--audit-key", key_arg]);
        let public_key = public_key.trim().to_owned();
        assert!(init.contains(&public_key), "init prints the public key");
        std::fs::write(file("ganglion.pub"), format!("{public_key}\n")).unwrap();

        let first = succeeds(&["audit", "checkpoint", "--db", url, "--audit-key", key_arg]);
        std::fs::write(file("first.txt"), &first).unwrap();
        let units = file("units.csv");
        std::fs::write(
            &units,
            "code,parent_code,kind,name,tags\nC,,centre,Centre,\nP,C,province,P,\n",
        )
        .unwrap();
        succeeds(&["import", "units", &units, "--db", url]);
        let second = succeeds(&["audit", "checkpoint", "--db", url, "--audit-key", key_arg]);
        let verifier = LogVerifier::new(&public_key).unwrap();
        let (old, new) = (
            verifier.open(&first).unwrap().size,
            verifier.open(&second).unwrap().size,
        );
        assert!(old < new);

        // An inclusion proof and a consistency proof, checked with the public key alone.
        succeeds(&[
            "audit",
            "proof",
            "1",
            "--db",
            url,
            "--output",
            &file("proof.json"),
        ]);
        let checked = succeeds(&[
            "audit",
            "verify-export",
            &file("proof.json"),
            "--key",
            &file("ganglion.pub"),
        ]);
        assert!(checked.contains("The inclusion checks"), "{checked}");
        let consistency = succeeds(&[
            "audit",
            "consistency",
            &old.to_string(),
            &new.to_string(),
            "--db",
            url,
        ]);
        std::fs::write(file("consistency.json"), consistency).unwrap();
        succeeds(&[
            "audit",
            "verify-export",
            &file("consistency.json"),
            "--key",
            &public_key,
        ]);

        // The export, with the checkpoint kept from before.
        succeeds(&[
            "audit",
            "export",
            "--db",
            url,
            "--output",
            &file("audit.jsonl"),
        ]);
        let checked = succeeds(&[
            "audit",
            "verify-export",
            &file("audit.jsonl"),
            "--key",
            &public_key,
            "--checkpoint",
            &file("first.txt"),
        ]);
        assert!(checked.contains("The export checks"), "{checked}");
        let export = std::fs::read_to_string(file("audit.jsonl")).unwrap();
        std::fs::write(
            file("changed.jsonl"),
            export.replacen("\"actor\":\"operator\"", "\"actor\":\"admin\"", 1),
        )
        .unwrap();
        let refused = ganglion(&[
            "audit",
            "verify-export",
            &file("changed.jsonl"),
            "--key",
            &public_key,
        ]);
        assert!(!refused.status.success());
        assert!(text(&refused).contains("changed"), "{}", text(&refused));

        let verified = succeeds(&[
            "audit",
            "verify",
            "--db",
            url,
            "--key",
            &public_key,
            "--checkpoint",
            &file("first.txt"),
        ]);
        assert!(
            verified.contains("intact") && verified.contains("3 checkpoints match"),
            "{verified}"
        );
        // Without the key file, there is nothing to sign with.
        let unsigned = ganglion(&[
            "audit",
            "checkpoint",
            "--db",
            url,
            "--audit-key",
            &file("missing.key"),
        ]);
        assert!(!unsigned.status.success(), "{}", text(&unsigned));
    }
}
