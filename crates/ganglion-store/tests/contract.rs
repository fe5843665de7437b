//! The store's contract, run against every backend of this run as a test of its own
//! per backend: SQLite always, PostgreSQL when `GANGLION_TEST_POSTGRES` is set.

use ganglion_core::tracking::{PostRule, Target};
use ganglion_core::{DirectiveId, ItemId, Kind, TreeIndex, UnitId};
use ganglion_store::{
    child_path, root_path, DirectiveDraft, ItemMove, MetricRow, NewItem, OpenMode, SourceRef,
    Store, StoreError, TargetFilter, UnitFilter, UnitRow,
};
use ganglion_testkit::{TestBackend, TestDatabase};
use rand::{Rng, SeedableRng};

fn id(raw: i64) -> UnitId {
    UnitId::new(raw).unwrap()
}

fn new_unit(unit: i64, parent: Option<(&UnitRow, i64)>, code: &str) -> UnitRow {
    UnitRow {
        id: id(unit),
        parent: parent.map(|(p, _)| p.id),
        parent_code: parent.map(|(p, _)| p.code.clone()),
        kind: "k".into(),
        name: format!("unit {unit}"),
        code: code.into(),
        tags: if unit % 3 == 0 {
            "rural".into()
        } else {
            String::new()
        },
        depth: parent.map_or(0, |(p, _)| p.depth + 1),
        path: match parent {
            Some((p, _)) => child_path(&p.path, id(unit)),
            None => root_path(id(unit)),
        },
    }
}

async fn a_missing_database_is_never_silently_created(backend: TestBackend) {
    {
        let database = TestDatabase::new(backend);
        let error = Store::open(&database.url, OpenMode::Existing)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::NotInitialized(_) | StoreError::Unreachable { .. }
            ),
            "{backend:?}: {error}"
        );
        // Creating it, then opening it as existing, works.
        Store::open(&database.url, OpenMode::Create)
            .await
            .unwrap()
            .close()
            .await;
        Store::open(&database.url, OpenMode::Existing)
            .await
            .unwrap()
            .close()
            .await;
    }
}

async fn settings_that_could_lose_a_write_are_refused(backend: TestBackend) {
    if backend == TestBackend::Sqlite {
        let error = Store::open("sqlite::memory:", OpenMode::Create)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Unsafe(_)), "{error}");
        return;
    }
    {
        let database = TestDatabase::new(TestBackend::Postgres);
        Store::open(&database.url, OpenMode::Create)
            .await
            .unwrap()
            .close()
            .await;
        let unsafe_url = format!("{}?options=-c%20synchronous_commit%3Doff", database.url);
        let error = Store::open(&unsafe_url, OpenMode::Existing)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Unsafe(message) if message.contains("synchronous_commit")),
            "{error}"
        );
    }
    let error = Store::open("postgres://nobody@127.0.0.1:1/none", OpenMode::Existing)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error}");
}

/// Random trees, random moves: the store's listing under every unit is exactly the
/// subtree the tree index computes, in the same order.
async fn subtree_listings_agree_with_the_tree_index_after_random_moves(backend: TestBackend) {
    {
        let database = TestDatabase::new(backend);
        let store = Store::open(&database.url, OpenMode::Create).await.unwrap();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut units: Vec<UnitRow> = Vec::new();
        for unit in 1..=120i64 {
            let parent = (unit > 1).then(|| rng.gen_range(0..units.len()));
            let row = new_unit(unit, parent.map(|p| (&units[p], 0)), &format!("U{unit}"));
            units.push(row);
        }
        let mut tx = store.write().await.unwrap();
        tx.insert_units(&units).await.unwrap();
        tx.commit().await.unwrap();
        let mut index = TreeIndex::build(units.iter().map(|u| (u.id, u.parent))).unwrap();

        for round in 0..40 {
            let unit = id(rng.gen_range(2..=120));
            let parent = id(rng.gen_range(1..=120));
            if index.is_within(parent, unit) {
                continue;
            }
            index.move_unit(unit, Some(parent)).unwrap();
            let mut tx = store.write().await.unwrap();
            let row = tx.unit(unit).await.unwrap().unwrap();
            let parent_row = tx.unit(parent).await.unwrap().unwrap();
            tx.move_unit(&row, Some(&parent_row)).await.unwrap();
            tx.commit().await.unwrap();
            if round % 8 != 0 {
                continue;
            }
            for raw in 1..=120 {
                let top = store.unit(id(raw)).await.unwrap().unwrap();
                assert_eq!(top.parent, index.parent(id(raw)));
                assert_eq!(Some(top.depth as u16), index.depth(id(raw)));
                let filter = UnitFilter {
                    path_range: Some((top.path.clone(), top.subtree_end())),
                    ..UnitFilter::default()
                };
                let listed: Vec<UnitId> = store
                    .units(&filter, 1000)
                    .await
                    .unwrap()
                    .iter()
                    .map(|u| u.id)
                    .collect();
                let expected: Vec<UnitId> = index.subtree_units(id(raw)).collect();
                assert_eq!(listed, expected, "{backend:?}: subtree of {raw}");
            }
        }
        let labels = store.unit_labels().await.unwrap();
        assert_eq!(labels.len(), 120);
        assert!(labels
            .iter()
            .any(|(_, _, name, code)| name == "unit 7" && code == "U7"));
        store.close().await;
    }
}

async fn codes_are_unique_and_a_failed_transaction_leaves_nothing(backend: TestBackend) {
    {
        let database = TestDatabase::new(backend);
        let store = Store::open(&database.url, OpenMode::Create).await.unwrap();
        let top = new_unit(1, None, "TOP");
        let mut tx = store.write().await.unwrap();
        tx.insert_units(std::slice::from_ref(&top)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.write().await.unwrap();
        tx.insert_units(&[new_unit(2, Some((&top, 0)), "A")])
            .await
            .unwrap();
        let error = tx
            .insert_units(&[new_unit(3, Some((&top, 0)), "TOP")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Duplicate(ganglion_store::Constraint::UnitCode)
            ),
            "{error}"
        );
        drop(tx);
        assert_eq!(
            store.unit_count().await.unwrap(),
            1,
            "the dropped transaction rolled back"
        );

        // Tags are searchable and replaced as a whole.
        let mut tx = store.write().await.unwrap();
        tx.update_unit(id(1), "Top", "a;rural").await.unwrap();
        tx.commit().await.unwrap();
        let tagged = UnitFilter {
            tag: Some("rural".into()),
            ..UnitFilter::default()
        };
        assert_eq!(store.units(&tagged, 10).await.unwrap().len(), 1);
        let mut tx = store.write().await.unwrap();
        tx.update_unit(id(1), "Top", "a").await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.units(&tagged, 10).await.unwrap().is_empty());
        store.close().await;
    }
}

/// How a batch of transitions may be written: on a pooled transaction, or by the batch
/// writer (on SQLite a connection of its own). Both are held to the same contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchWay {
    Pooled,
    Writer,
}

/// A store with two units and a directive conveyed to both (items 1 and 2).
async fn store_with_two_assignments(database: &TestDatabase) -> (Store, DirectiveId) {
    let store = Store::open(&database.url, OpenMode::Create).await.unwrap();
    let top = new_unit(1, None, "TOP");
    let child = new_unit(2, Some((&top, 0)), "A");
    let mut tx = store.write().await.unwrap();
    tx.insert_units(&[top.clone(), child]).await.unwrap();
    let target = Target {
        under: Some(id(1)),
        ..Target::default()
    };
    let metric = MetricRow {
        name: "ha".into(),
        unit: String::new(),
        target_per_unit: 10.0,
    };
    let directive = tx
        .insert_directive(
            &DirectiveDraft {
                kind: Kind::Directive,
                issuer: id(1),
                parent: None,
                title: "Sow",
                body: "",
                due: time::macros::date!(2099 - 01 - 01),
                target: &target,
                metric: Some(&metric),
                programme: None,
            },
            "2026-01-01T00:00:00Z",
        )
        .await
        .unwrap();
    let filter = TargetFilter {
        range: top.subtree_range(),
        kinds: &[],
        tags: &[],
        units: &[],
        posts: None,
        on: None,
    };
    assert_eq!(
        tx.convey(source(directive), &filter, None, "2026-01-01T00:00:00Z")
            .await
            .unwrap(),
        (1, 2)
    );
    tx.append_audit(draft("before")).await.unwrap();
    tx.commit().await.unwrap();
    (store, directive)
}

fn source(directive: DirectiveId) -> SourceRef<'static> {
    SourceRef {
        kind: Kind::Directive,
        source: directive.get(),
        period: "",
    }
}

fn item(raw: i64) -> ItemId {
    ItemId::new(raw).unwrap()
}

fn step(
    directive: DirectiveId,
    moved: i64,
    from_state: u8,
    to_state: u8,
    metrics: &'static [Option<f64>],
) -> ItemMove<'static> {
    ItemMove {
        item: item(moved),
        kind: Kind::Directive,
        source: directive.get(),
        from_state,
        to_state,
        metrics,
        reported: metrics,
        done_at: None,
        note: "it's \"done\"; really",
        actor: "account:1",
        actor_name: Some("Kim Chol"),
        at: "2026-01-02T00:00:00Z",
    }
}

/// A batch of moves, some of one assignment, is written in order: every move in the
/// history, the last one deciding where each assignment stands; the batch's audit
/// entries chain on from the trail as it was, and its change follows the last one.
async fn a_batch_of_moves_keeps_every_step_and_the_chain(backend: TestBackend) {
    {
        for way in [BatchWay::Pooled, BatchWay::Writer] {
            let database = TestDatabase::new(backend);
            let (store, directive) = store_with_two_assignments(&database).await;
            let mut tx = store.write().await.unwrap();
            tx.append_change("units", "{}", "2026-01-01T00:00:00Z")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let mut writer = store.batch_writer();
            let mut tx = match way {
                BatchWay::Pooled => store.write_batch().await.unwrap(),
                BatchWay::Writer => writer.begin().await.unwrap(),
            };
            let items = tx
                .items_by_ids(&[item(1), item(2), item(99)])
                .await
                .unwrap();
            assert_eq!(items.len(), 2, "an unknown id is simply absent");
            let directives = tx.directives_by_ids(&[directive]).await.unwrap();
            let metric = directives[&directive].metric.clone().unwrap();
            assert_eq!((metric.name.as_str(), metric.target_per_unit), ("ha", 10.0));
            tx.move_items(&[
                step(directive, 1, 0, 1, &[]),
                step(directive, 2, 0, 1, &[]),
                step(directive, 1, 1, 2, &[Some(7.5)]),
                step(directive, 1, 2, 3, &[None]),
            ])
            .await
            .unwrap();
            let drafts = (0..3).map(|n| draft(&format!("batch {n}"))).collect();
            tx.append_audits(drafts).await.unwrap();
            tx.append_change("items", "{\"items\":[]}", "2026-01-02T00:00:00Z")
                .await
                .unwrap();
            let histories = tx.events_of_items(&[item(1), item(2)]).await.unwrap();
            let committed = tx.commit().await.unwrap();
            // The writer leaves the flush to its caller, so that the next batch can be
            // written meanwhile: on SQLite its own connection's log is flushed, on
            // PostgreSQL a later synchronous commit vouches for it; a pooled commit
            // flushes as it returns.
            assert_eq!(
                committed.is_durable(),
                way == BatchWay::Pooled,
                "{backend:?} {way:?}"
            );
            assert_eq!(
                committed.needs_vouching(),
                way == BatchWay::Writer && backend == TestBackend::Postgres
            );
            committed.flush().unwrap();
            store.vouch_for_earlier_commits().await.unwrap();

            let first: Vec<(u8, u8, Vec<Option<f64>>)> = histories[&item(1)]
                .iter()
                .map(|e| (e.from_state, e.to_state, e.metrics.clone()))
                .collect();
            assert_eq!(
                first,
                vec![(0, 1, vec![]), (1, 2, vec![Some(7.5)]), (2, 3, vec![])],
                "{backend:?} {way:?}"
            );
            assert_eq!(
                histories[&item(1)][0].actor_name.as_deref(),
                Some("Kim Chol"),
                "who acted is kept with the move: {backend:?} {way:?}"
            );
            assert_eq!(histories[&item(1)][0].note, "it's \"done\"; really");
            assert_eq!(histories[&item(2)].len(), 1);
            let now = store.item(item(1)).await.unwrap().unwrap();
            assert_eq!(
                (now.state, now.metrics),
                (3, vec![]),
                "the last move decides"
            );
            assert_eq!(store.item(item(2)).await.unwrap().unwrap().state, 1);
            let trail = store.audit_entries(0, 100).await.unwrap();
            let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["before", "batch 0", "batch 1", "batch 2"]);
            assert_eq!(ganglion_core::audit::verify_chain(&trail), Ok(4));
            let changes = store.changes_after(0, 10).await.unwrap();
            let feed: Vec<(i64, &str)> = changes.iter().map(|c| (c.seq, c.kind.as_str())).collect();
            assert_eq!(feed, [(1, "units"), (2, "items")], "{backend:?} {way:?}");
            drop(writer);
            store.close().await;
        }
    }
}

/// A batch dropped before its commit leaves nothing behind, and the writer goes on to
/// the next batch; a key already stored is found, and storing it twice is refused as
/// the same duplicate whichever way the batch is written.
async fn a_batch_rolls_back_whole_and_refuses_a_stored_key(backend: TestBackend) {
    {
        for way in [BatchWay::Pooled, BatchWay::Writer] {
            let database = TestDatabase::new(backend);
            let (store, directive) = store_with_two_assignments(&database).await;
            let mut writer = store.batch_writer();
            let response = ganglion_store::StoredResponse {
                fingerprint: "f".into(),
                status: 200,
                body: "{}".into(),
            };
            {
                let mut tx = match way {
                    BatchWay::Pooled => store.write_batch().await.unwrap(),
                    BatchWay::Writer => writer.begin().await.unwrap(),
                };
                tx.move_items(&[step(directive, 1, 0, 1, &[])])
                    .await
                    .unwrap();
                tx.append_audits(vec![draft("lost")]).await.unwrap();
                tx.save_idempotent_response("k", &response).await.unwrap();
            }
            assert_eq!(store.item(item(1)).await.unwrap().unwrap().state, 0);
            assert!(store.item_events(item(1)).await.unwrap().is_empty());
            assert_eq!(store.audit_entries(0, 100).await.unwrap().len(), 1);
            assert_eq!(store.idempotent_response("k").await.unwrap(), None);

            let mut tx = match way {
                BatchWay::Pooled => store.write_batch().await.unwrap(),
                BatchWay::Writer => writer.begin().await.unwrap(),
            };
            assert!(tx.used_idempotency_keys(&["k"]).await.unwrap().is_empty());
            tx.save_idempotent_response("k", &response).await.unwrap();
            let first = tx.commit().await.unwrap();
            let mut tx = match way {
                BatchWay::Pooled => store.write_batch().await.unwrap(),
                BatchWay::Writer => writer.begin().await.unwrap(),
            };
            assert_eq!(
                tx.used_idempotency_keys(&["k", "other"]).await.unwrap(),
                ["k"]
            );
            let error = tx
                .save_idempotent_response("k", &response)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    StoreError::Duplicate(ganglion_store::Constraint::IdempotencyKey)
                ),
                "{backend:?} {way:?}: {error}"
            );
            drop(tx);
            assert_eq!(
                store.idempotent_response("k").await.unwrap(),
                Some(response)
            );
            // A later batch's flush takes the earlier one with it: both are in one log.
            let later = match way {
                BatchWay::Pooled => store.write_batch().await.unwrap(),
                BatchWay::Writer => writer.begin().await.unwrap(),
            };
            let later = later.commit().await.unwrap();
            assert!(first.flushed_with(&later), "{backend:?} {way:?}");
            later.flush().unwrap();
            drop(writer);
            store.close().await;
        }
    }
}

fn draft(action: &str) -> ganglion_store::AuditDraft {
    ganglion_store::AuditDraft {
        at: "2026-01-02T00:00:00Z".into(),
        actor: "operator".into(),
        action: action.into(),
        object: "thing:1".into(),
        unit: Some(1),
        before_digest: None,
        after_digest: Some("d".into()),
        request_id: "r".into(),
    }
}

/// Items of one source: several at one unit, numbered in tree order when conveyed,
/// conveyed to an explicit list of units, or to the people holding posts there — and
/// conveying again reaches only new matches.
async fn items_are_several_per_unit_and_conveyed_once(backend: TestBackend) {
    let database = TestDatabase::new(backend);
    let (store, directive) = store_with_two_assignments(&database).await;
    let mut tx = store.write().await.unwrap();
    // Two more items at unit 2, one at unit 1, added with ids of their own.
    let first = tx.next_item_id().await.unwrap();
    assert_eq!(first, 3);
    let new = |raw: i64, unit: i64| NewItem {
        id: item(raw),
        unit: id(unit),
        person: None,
        state: 0,
        metrics: vec![Some(1.5), None],
        due: Some(time::macros::date!(2030 - 06 - 30)),
        due_at: None,
    };
    tx.insert_items(
        source(directive),
        &[new(3, 2), new(4, 2), new(5, 1)],
        "2026-01-03T00:00:00Z",
    )
    .await
    .unwrap();
    // An explicit list of units; conveying again adds nothing.
    let other = SourceRef {
        kind: Kind::Pledge,
        source: 77,
        period: "",
    };
    let units = [id(2)];
    let top = tx.unit(id(1)).await.unwrap().unwrap();
    let explicit = TargetFilter {
        range: top.subtree_range(),
        kinds: &[],
        tags: &[],
        units: &units,
        posts: None,
        on: None,
    };
    assert_eq!(
        tx.convey(other, &explicit, None, "2026-01-03T00:00:00Z")
            .await
            .unwrap(),
        (6, 1)
    );
    assert_eq!(
        tx.convey(other, &explicit, None, "2026-01-03T00:00:00Z")
            .await
            .unwrap()
            .1,
        0,
        "a unit that holds an item of the source is not reached again"
    );
    // Over posts: the people holding a secretary's post, whatever its title's case.
    let kim = tx
        .insert_person("Kim", None, "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let ri = tx
        .insert_person("Ri", None, "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    for (person, unit, role, title) in [
        (kim, 1, "secretary", "Chief Secretary"),
        (ri, 2, "official", ""),
    ] {
        tx.insert_post(&ganglion_store::NewPost {
            person,
            unit: id(unit),
            role,
            title,
            start: "2026-01-01",
        })
        .await
        .unwrap();
    }
    let rule = PostRule {
        roles: vec![ganglion_core::Role::Secretary],
        titles: vec!["chief secretary".into()],
    };
    let invitations = SourceRef {
        kind: Kind::Invitation,
        source: 5,
        period: "",
    };
    let everyone = TargetFilter {
        range: top.subtree_range(),
        kinds: &[],
        tags: &[],
        units: &[],
        posts: Some(&rule),
        on: Some(time::macros::date!(2026 - 02 - 01)),
    };
    assert_eq!(
        store_count(&store, &everyone).await,
        0,
        "a count outside the write sees only what is committed"
    );
    assert_eq!(
        tx.convey(invitations, &everyone, None, "2026-01-03T00:00:00Z")
            .await
            .unwrap()
            .1,
        1
    );
    let conveyed = tx.conveyed(invitations, 1).await.unwrap();
    assert_eq!(conveyed.len(), 1);
    assert_eq!(conveyed[0].1, id(1));
    assert!(
        conveyed[0].2.is_some(),
        "an invitation is addressed to a person"
    );
    assert_eq!(
        tx.convey(invitations, &everyone, None, "2026-01-03T00:00:00Z")
            .await
            .unwrap()
            .1,
        0,
        "inviting again reaches only new matches"
    );
    tx.commit().await.unwrap();
    assert_eq!(store_count(&store, &everyone).await, 1);

    let mut items = Vec::new();
    store
        .for_each_item_of(source(directive), |row| items.push(row))
        .await
        .unwrap();
    items.sort_by_key(|row| row.id);
    let at_two: Vec<i64> = items
        .iter()
        .filter(|row| row.unit == id(2))
        .map(|row| row.id.get())
        .collect();
    assert_eq!(at_two, [2, 3, 4], "several items at one unit");
    assert_eq!(items[2].metrics, [Some(1.5), None]);
    assert_eq!(items[2].due, Some(time::macros::date!(2030 - 06 - 30)));
    assert_eq!(
        store
            .items_at(source(directive), id(2))
            .await
            .unwrap()
            .len(),
        3
    );
    // The unit's inbox holds its items of issued directives only (this one is a draft).
    assert!(store
        .items_of_unit(id(2), &[], None, 10)
        .await
        .unwrap()
        .is_empty());
    store.close().await;
}

async fn store_count(store: &Store, target: &TargetFilter<'_>) -> u64 {
    store.count_targets(target).await.unwrap()
}

async fn every_column_that_names_a_unit_is_checked_before_a_unit_is_removed(backend: TestBackend) {
    {
        let database = TestDatabase::new(backend);
        let store = Store::open(&database.url, OpenMode::Create).await.unwrap();
        let columns = store.unit_columns().await.unwrap();
        assert!(
            columns.contains(&("posts".to_owned(), "unit_id".to_owned())),
            "{backend:?}: the schema is read: {columns:?}"
        );
        let covered = |table: &str, column: &str| {
            ganglion_store::UNIT_REFERENCES
                .iter()
                .any(|(t, c, _)| *t == table && *c == column)
                || ganglion_store::UNIT_REFERENCES_EXEMPT
                    .iter()
                    .any(|(t, c)| *t == table && *c == column)
        };
        let missing: Vec<&(String, String)> = columns
            .iter()
            .filter(|(table, column)| !covered(table, column))
            .collect();
        assert!(
            missing.is_empty(),
            "{backend:?}: these columns name units but are not in UNIT_REFERENCES: {missing:?}"
        );
        // And every listed reference is a real column.
        for (table, column, _) in ganglion_store::UNIT_REFERENCES {
            assert!(
                columns.contains(&(table.to_string(), column.to_string())),
                "{backend:?}: {table}.{column} is not in the schema"
            );
        }
        store.close().await;
    }
}

async fn the_search_index_finds_the_same_on_both_backends(backend: TestBackend) {
    use ganglion_core::text::query_tokens;
    use ganglion_store::{ExperienceFilter, NewExperienceRow, SubtreeAccess};
    {
        let database = TestDatabase::new(backend);
        let store = Store::open(&database.url, OpenMode::Create).await.unwrap();
        let top = new_unit(1, None, "T");
        let a = new_unit(2, Some((&top, 0)), "A");
        let b = new_unit(3, Some((&top, 0)), "B");
        let mut tx = store.write().await.unwrap();
        tx.insert_units(&[top.clone(), a.clone(), b.clone()])
            .await
            .unwrap();
        let texts = [
            (
                2,
                "질소비료를 제때에",
                "협동농장은 질소비료를 제때에 날라 쌀 생산을 높였다.",
                "organization",
            ),
            (
                2,
                "Raising output",
                "How the limestone mine raised its output.",
                "organization",
            ),
            (3, "햅쌀", "햅쌀을 거두었다.", "subtree"),
            (3, "비 오는 날", "비 오는 날 료금을 냈다.", "organization"),
        ];
        for (unit, title, body, audience) in texts {
            tx.insert_experience(&NewExperienceRow {
                unit: id(unit),
                title,
                body,
                tags: &["farm".to_owned()],
                audience,
                directive: None,
                programme: None,
                event: None,
                media: &[],
                created_by: "operator",
                created_at: "2026-01-01T00:00:00Z",
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let everyone = ExperienceFilter::default();
        let titles = |page: ganglion_store::ExperiencePage| {
            let mut titles: Vec<String> = page.rows.into_iter().map(|row| row.title).collect();
            titles.sort();
            titles
        };
        for (query, expected) in [
            ("비료", vec!["질소비료를 제때에"]),
            ("쌀", vec!["질소비료를 제때에", "햅쌀"]),
            ("raising", vec!["Raising output"]),
            ("mines RAISED", vec!["Raising output"]),
            ("비료 raised", vec![]),
        ] {
            let page = store
                .experiences(&everyone, Some(&query_tokens(query)), 0, 10)
                .await
                .unwrap();
            assert_eq!(page.total as usize, expected.len(), "{backend:?}: {query}");
            assert_eq!(titles(page), expected, "{backend:?}: {query}");
        }
        // A unit's own subtree sees its subtree experience; another's never does, in
        // the rows or in the count.
        let outsider = ExperienceFilter {
            access: Some(SubtreeAccess {
                authority: vec![a.id],
                units: vec![id(1), id(2)],
            }),
            ..ExperienceFilter::default()
        };
        let page = store
            .experiences(&outsider, Some(&query_tokens("쌀")), 0, 10)
            .await
            .unwrap();
        assert_eq!(
            (page.total, titles(page)),
            (1, vec!["질소비료를 제때에".to_owned()])
        );
        let insider = ExperienceFilter {
            access: Some(SubtreeAccess {
                authority: Vec::new(),
                units: vec![id(1), id(3)],
            }),
            ..ExperienceFilter::default()
        };
        let page = store
            .experiences(&insider, Some(&query_tokens("쌀")), 0, 10)
            .await
            .unwrap();
        assert_eq!(page.total, 2);
        let above = ExperienceFilter {
            access: Some(SubtreeAccess {
                authority: vec![id(1)],
                units: vec![id(1)],
            }),
            ..ExperienceFilter::default()
        };
        let page = store
            .experiences(&above, Some(&query_tokens("쌀")), 0, 10)
            .await
            .unwrap();
        assert_eq!(
            page.total, 2,
            "{backend:?}: authority over the writer's parent"
        );
        // Filters: a tag, a subtree, and without a query the newest first.
        let tagged = ExperienceFilter {
            tag: Some("farm".into()),
            under: Some(id(3)),
            ..ExperienceFilter::default()
        };
        let page = store.experiences(&tagged, None, 0, 10).await.unwrap();
        assert_eq!(titles(page), vec!["비 오는 날", "햅쌀"], "{backend:?}");
        let page = store
            .experiences(&ExperienceFilter::default(), None, 0, 3)
            .await
            .unwrap();
        assert_eq!((page.total, page.rows.len(), page.more), (4, 3, true));
        assert_eq!(page.rows[0].title, "비 오는 날", "newest first");
        // Pages follow the ranking and add up to the count.
        let first = store
            .experiences(&everyone, Some(&query_tokens("쌀")), 0, 1)
            .await
            .unwrap();
        let second = store
            .experiences(&everyone, Some(&query_tokens("쌀")), 1, 1)
            .await
            .unwrap();
        assert_eq!(
            (first.total, first.rows.len(), second.rows.len()),
            (2, 1, 1)
        );
        assert_ne!(first.rows[0].id, second.rows[0].id);
        // A unit that moves takes its experiences' facets with it: B under A.
        let mut tx = store.write().await.unwrap();
        tx.move_unit(&b, Some(&a)).await.unwrap();
        tx.commit().await.unwrap();
        let under_a = ExperienceFilter {
            under: Some(id(2)),
            ..ExperienceFilter::default()
        };
        let page = store
            .experiences(&under_a, Some(&query_tokens("쌀")), 0, 10)
            .await
            .unwrap();
        assert_eq!(page.total, 2, "{backend:?}: 햅쌀 moved under A with B");
        // Rebuilt from the experiences, the index answers the same.
        let mut tx = store.write().await.unwrap();
        assert_eq!(tx.reindex_experiences().await.unwrap(), 4);
        tx.commit().await.unwrap();
        let page = store
            .experiences(&everyone, Some(&query_tokens("비료")), 0, 10)
            .await
            .unwrap();
        assert_eq!(page.total, 1, "{backend:?}");
        store.close().await;
    }
}

/// The audit log's tree: entries appended in bulk chain as one by one do, subtrees and
/// checkpoints are stored once (a second runner's copy is dropped), checkpoints are
/// append-only, and the leaves are read back by sequence range.
async fn the_audit_tree_and_checkpoints_are_stored_once_and_kept(backend: TestBackend) {
    let database = TestDatabase::new(backend);
    let store = Store::open(&database.url, OpenMode::Create).await.unwrap();
    let draft = |n: usize| ganglion_store::AuditDraft {
        at: format!("2026-11-01T00:00:00.{n:06}Z"),
        actor: "operator".into(),
        action: "unit.create".into(),
        object: format!("unit:{n}"),
        unit: Some(n as i64),
        before_digest: None,
        after_digest: None,
        request_id: "cli".into(),
    };
    let mut tx = store.write().await.unwrap();
    tx.append_audit(draft(0)).await.unwrap();
    let (last, head) = tx
        .append_audits_in_bulk((1..2500).map(draft).collect())
        .await
        .unwrap();
    tx.append_audit(draft(2500)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(last, 2500);
    assert_eq!(store.audit_size().await.unwrap(), 2501);
    let entries = store.audit_entries(0, 10_000).await.unwrap();
    assert_eq!(ganglion_core::audit::verify_chain(&entries), Ok(2501));
    assert_eq!(entries[2499].hash, head);
    let hashes = store.audit_hashes(256, 512).await.unwrap();
    assert_eq!(hashes.len(), 256);
    assert_eq!(hashes[0], entries[256].hash);

    assert_eq!(store.audit_blocks_stored().await.unwrap(), 0);
    let nodes = vec![
        (8u8, 0u64, "a".repeat(64)),
        (8, 1, "b".repeat(64)),
        (9, 0, "c".repeat(64)),
    ];
    store.store_audit_nodes(&nodes).await.unwrap();
    // Stored again, with other hashes, by a runner that lost the race: the first stands.
    store
        .store_audit_nodes(&[(8, 1, "d".repeat(64)), (8, 2, "e".repeat(64))])
        .await
        .unwrap();
    assert_eq!(store.audit_blocks_stored().await.unwrap(), 3);
    let mut found = store.audit_nodes(&[(8, 1), (9, 0), (10, 0)]).await.unwrap();
    found.sort();
    assert_eq!(found, vec![(8, 1, "b".repeat(64)), (9, 0, "c".repeat(64))]);
    assert_eq!(store.all_audit_nodes().await.unwrap().len(), 4);

    assert_eq!(store.latest_audit_checkpoint().await.unwrap(), None);
    let checkpoint = |size: i64, note: &str| ganglion_store::CheckpointRow {
        size,
        root: "f".repeat(64),
        note: note.into(),
        at: "2026-11-01T00:00:00.000000Z".into(),
    };
    assert!(store
        .store_audit_checkpoint(&checkpoint(1000, "first"))
        .await
        .unwrap());
    assert!(store
        .store_audit_checkpoint(&checkpoint(2501, "second"))
        .await
        .unwrap());
    assert!(!store
        .store_audit_checkpoint(&checkpoint(1000, "again"))
        .await
        .unwrap());
    assert_eq!(
        store.latest_audit_checkpoint().await.unwrap().unwrap().note,
        "second"
    );
    assert_eq!(
        store.audit_checkpoint(1000).await.unwrap().unwrap().note,
        "first"
    );
    assert_eq!(store.audit_checkpoints().await.unwrap().len(), 2);

    // The database itself refuses to change or remove a checkpoint.
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    assert!(connection
        .execute("UPDATE audit_checkpoints SET note = 'x' WHERE size = 1000")
        .await
        .is_err());
    assert!(connection
        .execute("DELETE FROM audit_checkpoints WHERE size = 1000")
        .await
        .is_err());
    connection.close().await.unwrap();
    store.close().await;
}

ganglion_testkit::per_backend!(
    a_missing_database_is_never_silently_created,
    settings_that_could_lose_a_write_are_refused,
    subtree_listings_agree_with_the_tree_index_after_random_moves,
    codes_are_unique_and_a_failed_transaction_leaves_nothing,
    a_batch_of_moves_keeps_every_step_and_the_chain,
    a_batch_rolls_back_whole_and_refuses_a_stored_key,
    items_are_several_per_unit_and_conveyed_once,
    every_column_that_names_a_unit_is_checked_before_a_unit_is_removed,
    the_search_index_finds_the_same_on_both_backends,
    the_audit_tree_and_checkpoints_are_stored_once_and_kept,
);
