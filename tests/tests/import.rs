//! `cargo schema import` as a user meets it: the files it writes (snapshots), its JSON
//! report, a history that replays on every dialect it was written for, and bad input
//! refused with exit 2 and nothing written. The imports of databases refinery, sqlx and
//! diesel migrated themselves are in `adapters/interop`.

use schema_e2e::{assert_snapshot, Fixture, TestDb};

/// A sqlx directory for SQLite: a table with every kind of constraint, a data step, a
/// rename, an index, a view, and a pragma (which stays SQL).
fn write_sqlx(f: &Fixture) {
    f.write(
        "mig/20240101000000_users.up.sql",
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  email VARCHAR(255) NOT NULL UNIQUE,\n  karma INTEGER NOT NULL DEFAULT 0 CHECK (karma >= 0)\n);\nINSERT INTO users (email) VALUES ('ann@example.com');\n",
    );
    f.write("mig/20240101000000_users.down.sql", "DROP TABLE users;\n");
    f.write(
        "mig/20240102000000_posts.sql",
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE, title TEXT NOT NULL);\nCREATE INDEX ix_posts_user ON posts (user_id);\nCREATE VIEW recent AS SELECT id, title FROM posts;\n",
    );
    f.write(
        "mig/20240103000000_rename.sql",
        "ALTER TABLE posts RENAME COLUMN title TO headline;\nPRAGMA user_version = 3;\n",
    );
}

#[test]
fn import_writes_revisions_models_and_a_report() {
    let f = Fixture::new("adopt");
    write_sqlx(&f);
    let r = f.schema(&[
        "--format",
        "json",
        "import",
        "--from",
        "sqlx",
        "mig",
        "-p",
        "adopted",
        "--dialect",
        "sqlite",
    ]);
    r.expect(0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", r.stdout()));
    let revisions = report["revisions"].as_array().expect("revisions");
    let summary: Vec<(&str, &str, &str)> = revisions
        .iter()
        .map(|r| {
            (
                r["revision"].as_str().unwrap_or(""),
                r["version"].as_str().unwrap_or(""),
                r["downgrade"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("0001", "20240101000000", "converted"),
            ("0002", "20240102000000", "generated"),
            ("0003", "20240103000000", "generated"),
        ]
    );
    assert_eq!(revisions[1]["kept_as_sql"], serde_json::json!([]));
    assert_eq!(
        revisions[2]["kept_as_sql"],
        serde_json::json!(["PRAGMA user_version = 3"])
    );
    assert_eq!(report["stamped"], serde_json::Value::Null);
    let files = f.migrations("adopted/migrations");
    assert_eq!(files.len(), 3, "{files:?}");
    assert_snapshot(
        "import_sqlx_0002_posts.toml",
        &f.read("adopted/migrations/20251124_0002_sqlx_20240102000000_posts.toml"),
    );
    assert_snapshot("import_sqlx_tables.rs", &f.read("adopted/src/tables.rs"));
    f.schema(&["check"]).expect(0);
    // The history runs where it was written for, and back down.
    let db = TestDb::sqlite("import");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    assert_eq!(db.rows("SELECT email FROM users"), [["ann@example.com"]]);
    assert_eq!(
        db.rows("SELECT name FROM sqlite_master WHERE name = 'recent'")
            .len(),
        1
    );
    f.schema(&["check", "--database", &url]).expect(0);
    f.schema(&["downgrade", "base", "--database-url", &url])
        .expect(0);
    assert!(db.introspect().tables.is_empty());
}

#[test]
fn bad_input_is_refused_with_nothing_written() {
    let f = Fixture::new("adopt");
    // An unknown tool: the command line refuses it.
    let r = f.schema(&["import", "--from", "flyway", "mig", "-p", "adopted"]);
    r.expect(2);
    // A directory that is not there.
    let r = f.schema(&[
        "import",
        "--from",
        "sqlx",
        "nowhere",
        "-p",
        "adopted",
        "--dialect",
        "sqlite",
    ]);
    r.expect(2);
    assert!(r.stderr().contains("nowhere"), "{}", r.stderr());
    // A migration written in Rust, named with its file.
    f.write(
        "refinery/V1__init.sql",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
    );
    f.write(
        "refinery/V2__backfill.rs",
        "pub fn migration() -> String { String::new() }",
    );
    let r = f.schema(&[
        "import",
        "--from",
        "refinery",
        "refinery",
        "-p",
        "adopted",
        "--dialect",
        "sqlite",
    ]);
    r.expect(2);
    assert!(r.stderr().contains("V2__backfill.rs"), "{}", r.stderr());
    // Not said which database the SQL is for (the crate lists every dialect).
    write_sqlx(&f);
    let r = f.schema(&["import", "--from", "sqlx", "mig", "-p", "adopted"]);
    r.expect(2);
    assert!(r.stderr().contains("--dialect"), "{}", r.stderr());
    // A database sqlx never migrated.
    let db = TestDb::sqlite("import-not-sqlx");
    db.execute("CREATE TABLE t (id INTEGER)");
    let r = f.schema(&[
        "import",
        "--from",
        "sqlx",
        "mig",
        "-p",
        "adopted",
        "--database",
        &db.url(),
    ]);
    r.expect(2);
    assert!(r.stderr().contains("_sqlx_migrations"), "{}", r.stderr());
    assert!(f.migrations("adopted/migrations").is_empty());
    assert!(!f.path("adopted/src/tables.rs").exists());
    // Once imported, a second import into the same crate is refused.
    f.schema(&[
        "import",
        "--from",
        "sqlx",
        "mig",
        "-p",
        "adopted",
        "--dialect",
        "sqlite",
    ])
    .expect(0);
    let r = f.schema(&[
        "import",
        "--from",
        "sqlx",
        "mig",
        "-p",
        "adopted",
        "--dialect",
        "sqlite",
    ]);
    r.expect(2);
    assert!(
        r.stderr().contains("has revisions already"),
        "{}",
        r.stderr()
    );
    assert_eq!(f.migrations("adopted/migrations").len(), 3);
}
