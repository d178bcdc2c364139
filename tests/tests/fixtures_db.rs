//! Every revision of every fixture on both dialects: up, down, up again, with rows that
//! survive each step; and `create_all` from the models gives the same schema as replaying
//! the whole chain.

use std::collections::BTreeSet;

use schema_core::replay::replay_revisions;
use schema_core::Schema;
use schema_e2e::{assert_schema, fixture_graph, repo_root, CreateAll, TestDb};

fn replayed_through(graph: &schema_core::MigrationGraph, id: &str) -> Schema {
    let set = graph.ancestors([id]);
    let mut s = Schema::new();
    replay_revisions(&mut s, graph.in_order(&set)).expect("replays");
    s
}

/// Rows seeded once the blog has users and posts, and read back after every step.
const SEED: &str = "INSERT INTO users (email, fullname) VALUES ('ann@example.com', 'Ann'), ('bob@example.com', 'Bob');
INSERT INTO posts (author_id, title, body, published) VALUES (1, 'Hello world', 'First!', true), (2, 'Second post', 'More', false)";

fn blog_rows(db: &TestDb) -> Vec<Vec<String>> {
    let mut rows = db.rows("SELECT id, email FROM users ORDER BY id");
    rows.extend(db.rows("SELECT id, author_id, title, body FROM posts ORDER BY id"));
    rows
}

#[test]
fn blog_every_revision_up_down_up_keeps_rows() {
    let graph = fixture_graph(&["blog/models/migrations"]);
    let ids: Vec<String> = graph.ordered().map(|r| r.id().to_string()).collect();
    assert!(ids.len() >= 6);
    for db in TestDb::all("blog_stairs") {
        let mut seeded: Option<Vec<Vec<String>>> = None;
        for (i, id) in ids.iter().enumerate() {
            db.upgrade(&graph, id).expect("upgrade");
            assert_schema(&db, &replayed_through(&graph, id), &format!("blog at {id}"));
            if i == 0 {
                db.execute(SEED);
                seeded = Some(blog_rows(&db));
                continue;
            }
            let rows = seeded.clone().expect("seeded");
            assert_eq!(blog_rows(&db), rows, "{id} up on {:?}", db.dialect());
            db.downgrade(&graph, "-1").expect("downgrade");
            assert_schema(
                &db,
                &replayed_through(&graph, &ids[i - 1]),
                &format!("blog back at {}", ids[i - 1]),
            );
            assert_eq!(blog_rows(&db), rows, "{id} down on {:?}", db.dialect());
            db.upgrade(&graph, id).expect("re-upgrade");
            assert_eq!(blog_rows(&db), rows, "{id} up again on {:?}", db.dialect());
        }
        // The hand-written data step of 0005 gave every post a slug.
        let slugs = db.rows("SELECT slug FROM posts ORDER BY id");
        assert_eq!(slugs.len(), 2);
        assert!(slugs[0][0].starts_with("1-hello"), "{slugs:?}");
    }
}

#[test]
fn plugins_every_revision_up_down_up() {
    let graph = fixture_graph(&["plugins/core/migrations", "plugins/audit/migrations"]);
    let ids: Vec<String> = graph.ordered().map(|r| r.id().to_string()).collect();
    for db in TestDb::all("plugin_stairs") {
        for (i, id) in ids.iter().enumerate() {
            db.upgrade(&graph, id).expect("upgrade");
            assert_schema(
                &db,
                &replayed_through(&graph, id),
                &format!("plugins at {id}"),
            );
            if i > 0 {
                // `-1` alone concerns two branches here: step back on this one's.
                let branch = graph.branch_of(id).expect("every revision is on a branch");
                db.downgrade(&graph, &format!("{branch}@-1"))
                    .expect("downgrade");
                db.upgrade(&graph, id).expect("re-upgrade");
                assert_schema(
                    &db,
                    &replayed_through(&graph, id),
                    &format!("plugins again at {id}"),
                );
            }
        }
    }
}

/// The models of a fixture crate, read from its source as the CLI and the derive do.
fn models(crate_dirs: &[&str]) -> Schema {
    let mut tables = Vec::new();
    let mut known = BTreeSet::new();
    for dir in crate_dirs {
        let dir = repo_root().join("fixtures").join(dir);
        let settings = schema_syntax::config::crate_settings(&dir).expect("settings");
        let found =
            schema_syntax::source::crate_models(&settings.roots[0], &settings.model, &known, &[])
                .expect("models");
        for f in found.tables {
            known.insert(f.model.table.name.clone());
            tables.push(f.model.table);
        }
    }
    Schema::from_tables(tables).without_hints()
}

#[test]
fn create_all_and_full_replay_give_the_same_schema() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["blog/models"], &["blog/models/migrations"]),
        (
            &["plugins/core", "plugins/audit"],
            &["plugins/core/migrations", "plugins/audit/migrations"],
        ),
    ];
    for (crates, dirs) in cases {
        let models = models(crates);
        let graph = fixture_graph(dirs);
        for (a, b) in TestDb::all("create_all")
            .into_iter()
            .zip(TestDb::all("replay"))
        {
            a.with(CreateAll(&models));
            b.upgrade(&graph, "heads").expect("upgrade");
            let (from_models, from_chain) = (a.introspect(), b.introspect());
            assert!(!from_models.tables.is_empty());
            let diff = schema::compare::differences(a.dialect(), &from_chain, &from_models);
            assert!(
                diff.is_empty(),
                "{crates:?} on {:?}: create_all differs from replay: {diff:?}",
                a.dialect()
            );
            assert_schema(&a, &models, "create_all has the models");
        }
    }
}

/// The embedded at-head check is one query on PostgreSQL: the server digests its history
/// table, and the digest must be the one computed at build time from the files.
#[test]
fn postgres_digests_its_history_as_the_build_does() {
    let graph = fixture_graph(&["blog/models/migrations"]);
    let expected = schema_core::checksum::history_digest(
        graph.ordered().map(|r| (r.id(), r.checksum.as_str())),
    );
    let db = TestDb::postgres("digest");
    let TestDb::Postgres(url) = &db else {
        unreachable!()
    };
    let rt = schema_e2e::runtime();
    let client = schema_e2e::pg_connect(&rt, url);
    let digest = |client: &tokio_postgres::Client| {
        let mut b = schema::postgres::PostgresBackend::new(client);
        rt.block_on(schema::Backend::history_digest(&mut b))
            .expect("digest")
    };
    assert_eq!(digest(&client), None, "no history table yet");
    db.upgrade(&graph, "0006").expect("upgrade");
    assert_ne!(
        digest(&client).as_deref(),
        Some(expected.as_str()),
        "not at head"
    );
    db.upgrade(&graph, "heads").expect("upgrade");
    assert_eq!(digest(&client).as_deref(), Some(expected.as_str()));
}
