//! The audit log that proves itself, at ten million entries: appending with the
//! Merkle tree kept up by the checkpointer against the chain alone, an inclusion proof
//! against the latest checkpoint, and the full offline check of an export (chain, tree,
//! signatures, consistency proofs) against re-hashing the chain alone — each pair in
//! the same run, on the same data.

use std::time::Instant;

use ganglion_app::{App, Ctx};
use ganglion_store::AuditDraft;
use ganglion_testkit::{TestBackend, TestDatabase};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::directives::{line, ms, round};

fn draft(number: u64) -> AuditDraft {
    AuditDraft {
        at: format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            number / 2_600_000 % 12 + 1,
            number / 100_000 % 28 + 1,
            number / 3_600 % 24,
            number / 60 % 60,
            number % 60,
            number % 1_000_000
        ),
        actor: format!("account:{}", number % 5_000 + 1),
        action: [
            "unit.update",
            "post.create",
            "assignment.transition",
            "person.create",
        ][(number % 4) as usize]
            .into(),
        object: format!("unit:{}", number % 1_000_000 + 1),
        unit: Some((number % 1_000_000 + 1) as i64),
        before_digest: Some(format!(
            "{:064x}",
            number.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )),
        after_digest: Some(format!(
            "{:064x}",
            number.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        )),
        request_id: format!("{:x}-{:x}", number / 1000, number),
    }
}

/// Appends `count` entries, `per_commit` to a transaction, as writes append them.
async fn append(app: &App, first: u64, count: u64, per_commit: u64) {
    let mut number = first;
    while number < first + count {
        let mut tx = app.store().write().await.expect("a write");
        let drafts: Vec<AuditDraft> = (number..(number + per_commit).min(first + count))
            .map(draft)
            .collect();
        number += drafts.len() as u64;
        tx.append_audits(drafts).await.expect("appended");
        tx.commit().await.expect("committed");
    }
}

pub async fn run(entries: u64, backend_name: &str, appends: u64, proofs: usize) {
    let backend = match backend_name {
        "sqlite" => TestBackend::Sqlite,
        "postgres" => TestBackend::Postgres,
        other => panic!("unknown backend {other}: sqlite or postgres"),
    };
    let database = TestDatabase::new(backend);
    let operator = Ctx::operator();
    let app = App::init(&database.url, "party").await.expect("a database");
    let folder = tempfile::tempdir().expect("a folder");
    app.use_audit_key(&operator, &folder.path().join("audit-key"), true)
        .await
        .expect("an audit key");

    // Ten million entries, chained, written in bulk.
    let started = Instant::now();
    let mut written = app.store().audit_size().await.expect("a size") as u64;
    let first_generated = written;
    const CHUNK: u64 = 50_000;
    while written < entries {
        let count = CHUNK.min(entries - written);
        let mut tx = app.store().write().await.expect("a write");
        tx.append_audits_in_bulk((written..written + count).map(draft).collect())
            .await
            .expect("appended");
        tx.commit().await.expect("committed");
        written += count;
        if written % 1_000_000 < CHUNK {
            eprintln!(
                "{written} entries in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let generate_ms = ms(started);
    eprintln!(
        "generated {} entries on {backend_name} in {:.1} s",
        written - first_generated,
        generate_ms / 1e3
    );

    // The tree built over all of them by the checkpointer's first turn, and signed.
    let started = Instant::now();
    let first = app
        .audit_log()
        .run_checkpointer(&operator)
        .await
        .expect("a turn")
        .expect("a checkpoint");
    let build_ms = ms(started);
    line(
        "audit_tree_build",
        backend_name,
        0,
        build_ms,
        "bulk_generation",
        generate_ms,
        json!({"entries": first.size, "blocks": first.size / 256,
               "note": "ours: the checkpointer storing every subtree of 256+ entries over a log that had none, and signing; baseline: writing the entries themselves"}),
    );

    // Appending: the chain alone, and with the checkpointer running beside the writes
    // as a server runs it (every second, extending the tree and signing every 1,000
    // entries or 60 s), its catching up at the end counted. Alternated, so that the
    // log's growth weighs on both alike.
    for per_commit in [1u64, 100] {
        let mut chain_ms = 0.0;
        let mut tree_ms = 0.0;
        let mut catch_up_ms = 0.0;
        let rounds = 4;
        let per_round = appends * per_commit.min(10) / rounds;
        let mut next = entries + 1_000_000 * per_commit;
        for _ in 0..rounds {
            let started = Instant::now();
            append(&app, next, per_round, per_commit).await;
            chain_ms += ms(started);
            next += per_round;
            // The chain-alone round's entries join the tree outside the timing.
            app.audit_log()
                .run_checkpointer(&operator)
                .await
                .expect("a turn");

            let started = Instant::now();
            let jobs = app.start_jobs();
            append(&app, next, per_round, per_commit).await;
            jobs.stop().await;
            let catching_up = Instant::now();
            app.audit_log()
                .run_checkpointer(&operator)
                .await
                .expect("a turn");
            catch_up_ms += ms(catching_up);
            tree_ms += ms(started);
            next += per_round;
        }
        let count = per_round * rounds;
        line(
            "audit_append",
            backend_name,
            0,
            tree_ms,
            "chain_alone",
            chain_ms,
            json!({"entries_appended": count, "entries_per_commit": per_commit,
                   "log_entries": entries, "ratio": round(tree_ms / chain_ms.max(1e-9)),
                   "catch_up_ms": round(catch_up_ms),
                   "ours_per_s": round(count as f64 / (tree_ms / 1e3)),
                   "baseline_per_s": round(count as f64 / (chain_ms / 1e3))}),
        );
    }

    // Inclusion proofs of random entries against the latest checkpoint.
    let latest = app
        .audit_log()
        .checkpoint_now(&operator)
        .await
        .expect("a checkpoint");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(16);
    let mut proof_times = Vec::with_capacity(proofs);
    let mut read_times = Vec::with_capacity(proofs);
    for _ in 0..proofs {
        let seq = rng.gen_range(1..=latest.size as i64);
        let started = Instant::now();
        let proof = app
            .audit_log()
            .inclusion(&operator, seq)
            .await
            .expect("a proof");
        proof_times.push(ms(started));
        assert_eq!(proof.entry.seq, seq);
        let started = Instant::now();
        let entry = app
            .store()
            .audit_entries(seq - 1, 1)
            .await
            .expect("an entry");
        read_times.push(ms(started));
        assert_eq!(entry[0].seq, seq);
    }
    proof_times.sort_by(f64::total_cmp);
    read_times.sort_by(f64::total_cmp);
    let at = |times: &[f64], q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    line(
        "audit_inclusion_proof",
        backend_name,
        0,
        at(&proof_times, 0.5),
        "read_the_entry_alone",
        at(&read_times, 0.5),
        json!({"tree_size": latest.size, "proofs": proofs, "p99_ms": round(at(&proof_times, 0.99)),
               "max_ms": round(at(&proof_times, 1.0)), "baseline_p99_ms": round(at(&read_times, 0.99))}),
    );

    // The export, checked offline with the public key alone, against re-hashing the
    // chain alone over the same file.
    let path = folder.path().join("audit.jsonl");
    let started = Instant::now();
    let exported = {
        let file = std::fs::File::create(&path).expect("an export file");
        let mut sink = std::io::BufWriter::with_capacity(1 << 20, file);
        let count = app
            .audit_log()
            .export(&operator, &mut sink)
            .await
            .expect("an export");
        drop(sink);
        count
    };
    let export_ms = ms(started);
    let file_mib = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0;
    let public_key = app
        .audit_log()
        .public_key(&operator)
        .await
        .expect("a public key");
    let open = || {
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).expect("the export"))
    };
    let started = Instant::now();
    let report =
        ganglion_app::verify_document(open(), &public_key, std::slice::from_ref(&first.note))
            .expect("the export checks");
    let verify_ms = ms(started);
    let started = Instant::now();
    let rehashed = ganglion_app::rehash_export_chain(open()).expect("the chain checks");
    let rehash_ms = ms(started);
    assert_eq!(report.entries, rehashed);
    line(
        "audit_offline_verify",
        backend_name,
        0,
        verify_ms,
        "rehash_chain_alone",
        rehash_ms,
        json!({"entries": report.entries, "checkpoints": report.checkpoints,
               "consistency_proofs": report.proofs,
               "ours_entries_per_s": round(report.entries as f64 / (verify_ms / 1e3)),
               "baseline_entries_per_s": round(rehashed as f64 / (rehash_ms / 1e3)),
               "export_ms": round(export_ms), "exported": exported, "export_mib": round(file_mib),
               "note": "both read and parse the same export file; ours also builds the tree, checks every checkpoint's signature and root and every consistency proof"}),
    );
    let _ = std::fs::remove_file(&path);
    app.close().await;
}
