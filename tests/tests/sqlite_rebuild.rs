//! A SQLite table rebuild keeps what depends on the table though no model describes it:
//! views, an expression index and triggers made by `execute` steps, with 100,000 rows.

use schema_e2e::{Fixture, TestDb};

const DEPENDENTS: &str = r#"revision = "0008"
down_revision = "0007"
message = "objects no model describes"

[[upgrade]]
op = "execute"
sql = "CREATE VIEW active_users AS SELECT id, email FROM users WHERE karma >= 0"

[[upgrade]]
op = "execute"
sql = "CREATE VIEW active_user_count AS SELECT count(*) AS n FROM active_users"

[[upgrade]]
op = "execute"
sql = "CREATE INDEX ix_users_lower_email ON users (lower(email))"

[[upgrade]]
op = "execute"
sql = "CREATE TRIGGER trg_users_karma AFTER UPDATE OF karma ON users BEGIN UPDATE users SET bio = 'karma changed' WHERE id = NEW.id; END"

[[upgrade]]
op = "execute"
sql = "CREATE TRIGGER trg_posts_count AFTER INSERT ON posts BEGIN UPDATE users SET karma = karma + 1 WHERE id = NEW.author_id; END"

[[downgrade]]
op = "execute"
sql = "DROP TRIGGER trg_posts_count; DROP TRIGGER trg_users_karma; DROP INDEX ix_users_lower_email; DROP VIEW active_user_count; DROP VIEW active_users"
"#;

/// Changes the default of users.bio: on SQLite, a rebuild of `users`.
const REBUILD: &str = r#"revision = "0009"
down_revision = "0008"
message = "bio default"

[[upgrade]]
op = "alter_column"
table = "users"
column = "bio"
default = { to = "'-'" }

[[downgrade]]
op = "alter_column"
table = "users"
column = "bio"
default = { from = "'-'" }
"#;

fn names(db: &TestDb, kind: &str) -> Vec<String> {
    db.rows(&format!(
        "SELECT name FROM sqlite_master WHERE type = '{kind}' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ))
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

#[test]
fn a_rebuild_keeps_views_triggers_and_indexes_made_by_execute_steps() {
    let db = TestDb::sqlite("rebuild-keeps");
    let TestDb::Sqlite(path) = &db else {
        unreachable!()
    };
    let url = db.url();
    let f = Fixture::new("blog");
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    {
        let mut conn = rusqlite::Connection::open(path).expect("open");
        let tx = conn.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare("INSERT INTO users (email, display_name) VALUES (?1, ?2)")
                .expect("prepare");
            for i in 0..100_000 {
                insert
                    .execute(rusqlite::params![
                        format!("u{i}@example.com"),
                        format!("User {i}")
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    f.write("models/migrations/20251124_0008_objects.toml", DEPENDENTS);
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    let views = names(&db, "view");
    let triggers = names(&db, "trigger");
    let indexes_before = names(&db, "index");
    f.write("models/migrations/20251125_0009_bio_default.toml", REBUILD);
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(0);
    assert!(r.stdout().contains("Applied 0009"), "{}", r.stdout());
    assert_eq!(names(&db, "view"), views);
    assert_eq!(names(&db, "trigger"), triggers);
    assert_eq!(names(&db, "index"), indexes_before);
    assert!(indexes_before.contains(&"ix_users_lower_email".to_string()));
    assert_eq!(
        db.rows("SELECT count(*) FROM users"),
        vec![vec!["100000".to_string()]]
    );
    assert_eq!(
        db.rows("SELECT n FROM active_user_count"),
        vec![vec!["100000".to_string()]]
    );
    assert!(db.rows("PRAGMA foreign_key_check").is_empty());
    // The rebuild happened (the default is new) and the kept objects still work.
    assert_eq!(
        db.introspect().tables["users"]
            .column("bio")
            .and_then(|c| c.default.clone()),
        Some("'-'".to_string())
    );
    db.execute(
        "INSERT INTO posts (author_id, title, slug, body, published) VALUES (7, 't', 's', 'b', 0)",
    );
    assert_eq!(
        db.rows("SELECT karma, bio FROM users WHERE id = 7"),
        vec![vec!["1".to_string(), "karma changed".to_string()]]
    );
    let plan =
        db.rows("EXPLAIN QUERY PLAN SELECT id FROM users WHERE lower(email) = 'u5@example.com'");
    assert!(
        plan.iter()
            .flatten()
            .any(|c| c.contains("ix_users_lower_email")),
        "{plan:?}"
    );
    // And back down: another rebuild, everything kept again.
    f.schema(&["downgrade", "0008", "--database-url", &url])
        .expect(0);
    assert_eq!(names(&db, "view"), views);
    assert_eq!(names(&db, "trigger"), triggers);
    assert_eq!(names(&db, "index"), indexes_before);
}
