//! `cargo schema import`: a history of twelve migrations (tables, columns, constraints,
//! indexes, renames, drops and data steps) is migrated by the original tool itself
//! (refinery, sqlx, diesel, as their libraries), then imported. The imported history must
//! replay to the database that tool made (a fresh database upgraded by cargo-schema
//! compares equal to it, rows included), and the tool's database is adopted without
//! re-running anything (stamped; its rows unchanged; `check --database` finds no drift).
//! The generated downgrades take the replayed database back to nothing.

use schema::Dialect;
use schema_e2e::{runtime, Fixture, TestDb};

/// (name, up, down) of a PostgreSQL history.
const POSTGRES: &[(&str, &str, &str)] = &[
    (
        "create_users",
        "CREATE TABLE users (\n  id SERIAL PRIMARY KEY,\n  email VARCHAR(255) NOT NULL UNIQUE,\n  karma INTEGER NOT NULL DEFAULT 0 CHECK (karma >= 0)\n);",
        "DROP TABLE users;",
    ),
    (
        "seed_users",
        "INSERT INTO users (email, karma) VALUES ('ann@example.com', 3), ('bob@example.com', 0);",
        "DELETE FROM users;",
    ),
    (
        "create_posts",
        "CREATE TABLE posts (\n  id BIGSERIAL PRIMARY KEY,\n  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n  title TEXT NOT NULL,\n  body TEXT\n);\nCREATE INDEX ix_posts_user ON posts (user_id);",
        "DROP INDEX ix_posts_user;\nDROP TABLE posts;",
    ),
    (
        "seed_posts",
        "INSERT INTO posts (user_id, title, body) SELECT id, 'hello from ' || email, 'first' FROM users;",
        "DELETE FROM posts;",
    ),
    (
        "user_bio",
        "ALTER TABLE users ADD COLUMN bio TEXT;\nUPDATE users SET bio = 'writes' WHERE karma > 0;",
        "ALTER TABLE users DROP COLUMN bio;",
    ),
    (
        "rename_body",
        "ALTER TABLE posts RENAME COLUMN body TO content;",
        "ALTER TABLE posts RENAME COLUMN content TO body;",
    ),
    (
        "longer_titles",
        "ALTER TABLE posts ALTER COLUMN title TYPE VARCHAR(300);\nALTER TABLE posts ALTER COLUMN content SET DEFAULT '';",
        "ALTER TABLE posts ALTER COLUMN content DROP DEFAULT;\nALTER TABLE posts ALTER COLUMN title TYPE TEXT;",
    ),
    (
        "create_tags",
        "CREATE TABLE tags (id SERIAL PRIMARY KEY, name TEXT NOT NULL);\nCREATE UNIQUE INDEX ix_tags_name ON tags (name);\nINSERT INTO tags (name) VALUES ('rust'), ('sql'), ('news');",
        "DROP TABLE tags;",
    ),
    (
        "rename_tags",
        "ALTER TABLE tags RENAME TO labels;\nALTER TABLE users ADD CONSTRAINT ck_users_bio CHECK (length(bio) < 1000);",
        "ALTER TABLE users DROP CONSTRAINT ck_users_bio;\nALTER TABLE labels RENAME TO tags;",
    ),
    (
        "post_labels",
        "CREATE TABLE post_labels (\n  post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,\n  label_id INTEGER NOT NULL,\n  PRIMARY KEY (post_id, label_id)\n);\nALTER TABLE post_labels ADD CONSTRAINT fk_post_labels_label FOREIGN KEY (label_id) REFERENCES labels (id);\nINSERT INTO post_labels SELECT p.id, l.id FROM posts p, labels l WHERE l.name = 'rust';",
        "DROP TABLE post_labels;",
    ),
    (
        "reindex_posts",
        "DROP INDEX ix_posts_user;\nCREATE INDEX ix_posts_user_title ON posts (user_id, title);\nUPDATE users SET bio = '' WHERE bio IS NULL;\nALTER TABLE users ALTER COLUMN bio SET NOT NULL;",
        "ALTER TABLE users ALTER COLUMN bio DROP NOT NULL;\nDROP INDEX ix_posts_user_title;\nCREATE INDEX ix_posts_user ON posts (user_id);",
    ),
    (
        "drafts",
        "ALTER TABLE posts ADD COLUMN draft BOOLEAN NOT NULL DEFAULT false;\nALTER TABLE posts DROP COLUMN draft;\nCREATE TABLE scratch (id INTEGER PRIMARY KEY);\nDROP TABLE scratch;",
        "",
    ),
];

/// The same history for SQLite, which has no ALTER COLUMN or ADD CONSTRAINT.
const SQLITE: &[(&str, &str, &str)] = &[
    (
        "create_users",
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  email VARCHAR(255) NOT NULL UNIQUE,\n  karma INTEGER NOT NULL DEFAULT 0 CHECK (karma >= 0)\n);",
        "DROP TABLE users;",
    ),
    (
        "seed_users",
        "INSERT INTO users (email, karma) VALUES ('ann@example.com', 3), ('bob@example.com', 0);",
        "DELETE FROM users;",
    ),
    (
        "create_posts",
        "CREATE TABLE posts (\n  id INTEGER PRIMARY KEY,\n  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n  title TEXT NOT NULL,\n  body TEXT\n);\nCREATE INDEX ix_posts_user ON posts (user_id);",
        "DROP INDEX ix_posts_user;\nDROP TABLE posts;",
    ),
    (
        "seed_posts",
        "INSERT INTO posts (user_id, title, body) SELECT id, 'hello from ' || email, 'first' FROM users;",
        "DELETE FROM posts;",
    ),
    (
        "user_bio",
        "ALTER TABLE users ADD COLUMN bio TEXT;\nUPDATE users SET bio = 'writes' WHERE karma > 0;",
        "ALTER TABLE users DROP COLUMN bio;",
    ),
    (
        "rename_body",
        "ALTER TABLE posts RENAME COLUMN body TO content;",
        "ALTER TABLE posts RENAME COLUMN content TO body;",
    ),
    (
        "post_ranks",
        "ALTER TABLE posts ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;\nUPDATE posts SET rank = id;",
        "ALTER TABLE posts DROP COLUMN rank;",
    ),
    (
        "create_tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE UNIQUE INDEX ix_tags_name ON tags (name);\nINSERT INTO tags (name) VALUES ('rust'), ('sql'), ('news');",
        "DROP TABLE tags;",
    ),
    (
        "rename_tags",
        "ALTER TABLE tags RENAME TO labels;",
        "ALTER TABLE labels RENAME TO tags;",
    ),
    (
        "post_labels",
        "CREATE TABLE post_labels (\n  post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,\n  label_id INTEGER NOT NULL REFERENCES labels (id),\n  PRIMARY KEY (post_id, label_id)\n);\nINSERT INTO post_labels SELECT p.id, l.id FROM posts p, labels l WHERE l.name = 'rust';",
        "DROP TABLE post_labels;",
    ),
    (
        "reindex_posts",
        "DROP INDEX ix_posts_user;\nCREATE INDEX ix_posts_user_title ON posts (user_id, title);",
        "DROP INDEX ix_posts_user_title;\nCREATE INDEX ix_posts_user ON posts (user_id);",
    ),
    (
        "drop_rank",
        "ALTER TABLE posts DROP COLUMN rank;\nCREATE TABLE scratch (id INTEGER PRIMARY KEY);\nDROP TABLE scratch;",
        "",
    ),
];

/// What the rows must be wherever the history ran once: two users, two posts, three
/// labels, two post labels; a second run of the data steps would change it.
const ROWS: &str =
    "SELECT (SELECT count(*) FROM users) * 1000 + (SELECT count(*) FROM posts) * 100 \
                    + (SELECT count(*) FROM labels) * 10 + (SELECT count(*) FROM post_labels)";
const EXPECTED_ROWS: i64 = 2232;

/// The schemas of two databases, compared as `check --database` compares (empty: the
/// same), without the tools' own history tables.
fn differences(d: Dialect, expected: &schema::Schema, actual: &schema::Schema) -> Vec<String> {
    let mut expected = expected.clone();
    expected.tables.retain(|t, _| !t.starts_with('_'));
    schema::compare::differences(d, &expected, actual)
}

/// The rows check of [`ROWS`] on a database.
fn rows(db: &TestDb) -> i64 {
    db.rows(ROWS)[0][0].parse().expect("a number")
}

/// Runs sqlx's own migrator over the fixture's `mig` directory on `db`.
fn sqlx_migrate(f: &Fixture, db: &TestDb) {
    let dir = f.path("mig");
    runtime().block_on(async {
        let migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
        match db {
            TestDb::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                migrator.run(&pool).await.unwrap();
                pool.close().await;
            }
            _ => {
                let options = db
                    .url()
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()
                    .unwrap()
                    .create_if_missing(true);
                let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                migrator.run(&pool).await.unwrap();
                pool.close().await;
            }
        }
    });
}

/// Imports the fixture's `mig` directory with `tool`, adopting `migrated` (a database
/// the tool migrated), then checks everything the module says, replaying into `replay`.
fn import_and_check(
    f: &Fixture,
    tool: &str,
    history: &[(&str, &str, &str)],
    migrated: &TestDb,
    replay: &TestDb,
) {
    let (url, replay_url) = (migrated.url(), replay.url());
    let r = f.schema(&[
        "import",
        "--from",
        tool,
        "mig",
        "-p",
        "adopted",
        "--database",
        &url,
    ]);
    r.expect(0);
    assert!(r.stdout().contains("Stamped"), "{}", r.stdout());
    // One revision per migration, in order, named after it.
    let revisions = f.migrations("adopted/migrations");
    assert_eq!(revisions.len(), history.len(), "{revisions:?}");
    for (file, (name, _, _)) in revisions.iter().zip(history) {
        assert!(file.contains(name), "{file} is not {name}");
    }
    // The written models agree with the imported history, offline.
    f.schema(&["check"]).expect(0);
    // Adopted: stamped at the last revision, no drift, nothing re-run.
    f.schema(&["check", "--database", &url]).expect(0);
    let current = f.schema(&["current", "--database-url", &url]);
    current.expect(0);
    assert!(
        current.stdout().contains(&format!("{:04}", history.len())),
        "{}",
        current.stdout()
    );
    assert_eq!(
        rows(migrated),
        EXPECTED_ROWS,
        "the tool's rows changed on adoption"
    );
    // Replayed: a fresh database upgraded through the imported history is the one the
    // tool made, and its data steps ran once.
    f.schema(&["upgrade", "--database-url", &replay_url])
        .expect(0);
    assert_eq!(rows(replay), EXPECTED_ROWS);
    let diff = differences(
        migrated.dialect(),
        &replay.introspect(),
        &migrated.introspect(),
    );
    assert!(
        diff.is_empty(),
        "replay differs from the {tool} database: {diff:?}"
    );
    // The downgrades (converted, or generated where the tool had none) undo it all.
    f.schema(&["downgrade", "base", "--database-url", &replay_url])
        .expect(0);
    let left: Vec<String> = replay
        .introspect()
        .tables
        .into_keys()
        .filter(|t| !t.starts_with('_'))
        .collect();
    assert!(left.is_empty(), "left after downgrading to base: {left:?}");
}

#[test]
fn refinery_on_postgres() {
    let f = Fixture::new("adopt");
    let mut migrations = Vec::new();
    for (i, (name, up, _)) in POSTGRES.iter().enumerate() {
        let file = format!("V{}__{name}", i + 1);
        f.write(&format!("mig/{file}.sql"), up);
        migrations.push(refinery::Migration::unapplied(&file, up).unwrap());
    }
    let (migrated, replay) = (
        TestDb::postgres("import_refinery"),
        TestDb::postgres("import_refinery_replay"),
    );
    runtime().block_on(async {
        let (mut client, conn) = tokio_postgres::connect(&migrated.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(conn);
        refinery::Runner::new(&migrations)
            .run_async(&mut client)
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
    });
    import_and_check(&f, "refinery", POSTGRES, &migrated, &replay);
}

/// Writes a sqlx directory: reversible migrations where there is a down, else simple.
fn write_sqlx(f: &Fixture, history: &[(&str, &str, &str)]) {
    for (i, (name, up, down)) in history.iter().enumerate() {
        let version = 20240101000000u64 + i as u64;
        if down.is_empty() {
            f.write(&format!("mig/{version}_{name}.sql"), up);
        } else {
            f.write(&format!("mig/{version}_{name}.up.sql"), up);
            f.write(&format!("mig/{version}_{name}.down.sql"), down);
        }
    }
}

#[test]
fn sqlx_on_postgres() {
    let f = Fixture::new("adopt");
    write_sqlx(&f, POSTGRES);
    let (migrated, replay) = (
        TestDb::postgres("import_sqlx"),
        TestDb::postgres("import_sqlx_replay"),
    );
    sqlx_migrate(&f, &migrated);
    import_and_check(&f, "sqlx", POSTGRES, &migrated, &replay);
}

#[test]
fn sqlx_on_sqlite() {
    let f = Fixture::new("adopt");
    write_sqlx(&f, SQLITE);
    let (migrated, replay) = (
        TestDb::sqlite("import_sqlx"),
        TestDb::sqlite("import_sqlx_replay"),
    );
    sqlx_migrate(&f, &migrated);
    import_and_check(&f, "sqlx", SQLITE, &migrated, &replay);
}

#[test]
fn diesel_on_postgres() {
    use diesel::Connection;
    use diesel_migrations::MigrationHarness;
    let f = Fixture::new("adopt");
    for (i, (name, up, down)) in POSTGRES.iter().enumerate() {
        let dir = format!("mig/2024-01-01-0000{i:02}_{name}");
        f.write(&format!("{dir}/up.sql"), up);
        f.write(
            &format!("{dir}/down.sql"),
            if down.is_empty() { "SELECT 1;" } else { down },
        );
    }
    let (migrated, replay) = (
        TestDb::postgres("import_diesel"),
        TestDb::postgres("import_diesel_replay"),
    );
    let mut conn = diesel::PgConnection::establish(&migrated.url()).unwrap();
    let source = diesel_migrations::FileBasedMigrations::from_path(f.path("mig")).unwrap();
    conn.run_pending_migrations(source).unwrap();
    drop(conn);
    import_and_check(&f, "diesel", POSTGRES, &migrated, &replay);
}

/// A database the tool migrated only part way is stamped at the part it applied; one
/// that applied a migration the directory lacks is refused, with nothing written.
#[test]
fn partly_migrated_and_foreign_databases() {
    let f = Fixture::new("adopt");
    write_sqlx(&f, &SQLITE[..4]);
    let db = TestDb::sqlite("import_part");
    sqlx_migrate(&f, &db);
    let url = db.url();
    // The directory gained a migration the database does not have yet.
    f.write("mig/20240101000004_user_bio.sql", SQLITE[4].1);
    // A migration the database applied that is not in the directory: refused.
    std::fs::remove_file(f.path("mig/20240101000000_create_users.up.sql")).unwrap();
    let args = [
        "import",
        "--from",
        "sqlx",
        "mig",
        "-p",
        "adopted",
        "--database",
        url.as_str(),
    ];
    let r = f.schema(&args);
    r.expect(2);
    assert!(
        r.stderr().contains("not in the directory"),
        "{}",
        r.stderr()
    );
    assert!(
        f.migrations("adopted/migrations").is_empty(),
        "nothing is written on refusal"
    );
    f.write("mig/20240101000000_create_users.up.sql", SQLITE[0].1);
    f.schema(&args).expect(0);
    assert_eq!(f.migrations("adopted/migrations").len(), 5);
    let current = f.schema(&["current", "--database-url", &url]);
    assert!(current.stdout().contains("0004"), "{}", current.stdout());
    // The rest is pending, and applies.
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    f.schema(&["check", "--database", &url]).expect(0);
}
