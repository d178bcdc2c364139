//! `cargo schema import`: a history of twelve migrations (tables, columns, constraints,
//! indexes, renames, drops and data steps) is migrated by the original tool itself
//! (refinery, sqlx, diesel, as their libraries), then imported. The imported history must
//! replay to the database that tool made (a fresh database upgraded by cargo-schema
//! compares equal to it, rows included), and the tool's database is adopted without
//! re-running anything (stamped; its rows unchanged; `check --database` finds no drift).
//! The generated downgrades take the replayed database back to nothing.

use schema::testing::{drop_test_database, fresh_postgres_database, sqlite_test_dir};
use schema::Dialect;
use schema_interop::{differences, read_back, Project};

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn fresh_pg(prefix: &str) -> String {
    runtime().block_on(fresh_postgres_database(prefix)).unwrap()
}

/// Imports the project's migrations with `tool`, adopting `migrated` (a database the tool
/// migrated), then checks everything the module says, replaying into `replay`.
fn import_and_check(
    p: &Project,
    tool: &str,
    dialect: Dialect,
    history: &[(&str, &str, &str)],
    migrated: &str,
    replay: &str,
) {
    let dir = p.migrations().display().to_string();
    let text = p.ok(&[
        "import",
        "--from",
        tool,
        &dir,
        "-p",
        "models",
        "--database",
        migrated,
    ]);
    assert!(text.contains("Stamped"), "{text}");
    // One revision per migration, in order, named after it.
    let revisions = p.revisions();
    assert_eq!(revisions.len(), history.len(), "{revisions:?}");
    for (file, (name, _, _)) in revisions.iter().zip(history) {
        assert!(file.contains(name), "{file} is not {name}");
    }
    // The written models agree with the imported history, offline.
    p.ok(&["check"]);
    // Adopted: stamped at the last revision, no drift, nothing re-run.
    p.ok(&["check", "--database", migrated]);
    let current = p.ok(&["current", "--database-url", migrated]);
    assert!(
        current.contains(&format!("{:04}", history.len())),
        "{current}"
    );
    let (tool_schema, rows) = read_back(migrated, ROWS);
    assert_eq!(rows, EXPECTED_ROWS, "the tool's rows changed on adoption");
    // Replayed: a fresh database upgraded through the imported history is the one the
    // tool made, and its data steps ran once.
    p.ok(&["upgrade", "--database-url", replay]);
    let (replayed, rows) = read_back(replay, ROWS);
    assert_eq!(rows, EXPECTED_ROWS);
    // Compared as `check --database` compares: the replay is what is expected.
    let diff = differences(dialect, &replayed, &tool_schema);
    assert!(
        diff.is_empty(),
        "replay differs from the {tool} database: {diff:?}"
    );
    // The downgrades (converted, or generated where the tool had none) undo it all.
    p.ok(&["downgrade", "base", "--database-url", replay]);
    let (empty, _) = read_back(replay, "SELECT CAST(0 AS BIGINT)");
    let left: Vec<&String> = empty
        .tables
        .keys()
        .filter(|t| !t.starts_with('_'))
        .collect();
    assert!(left.is_empty(), "left after downgrading to base: {left:?}");
}

#[test]
fn refinery_on_postgres() {
    let p = Project::new("refinery");
    let mut migrations = Vec::new();
    for (i, (name, up, _)) in POSTGRES.iter().enumerate() {
        let file = format!("V{}__{name}", i + 1);
        p.write(&format!("{file}.sql"), up);
        migrations.push(refinery::Migration::unapplied(&file, up).unwrap());
    }
    let (migrated, replay) = (
        fresh_pg("import_refinery"),
        fresh_pg("import_refinery_replay"),
    );
    runtime().block_on(async {
        let (mut client, conn) = tokio_postgres::connect(&migrated, tokio_postgres::NoTls)
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
    import_and_check(
        &p,
        "refinery",
        Dialect::Postgres,
        POSTGRES,
        &migrated,
        &replay,
    );
    drop_test_database(&migrated);
    drop_test_database(&replay);
}

/// Writes a sqlx directory: reversible migrations where there is a down, else simple.
fn write_sqlx(p: &Project, history: &[(&str, &str, &str)]) {
    for (i, (name, up, down)) in history.iter().enumerate() {
        let version = 20240101000000u64 + i as u64;
        if down.is_empty() {
            p.write(&format!("{version}_{name}.sql"), up);
        } else {
            p.write(&format!("{version}_{name}.up.sql"), up);
            p.write(&format!("{version}_{name}.down.sql"), down);
        }
    }
}

#[test]
fn sqlx_on_postgres() {
    let p = Project::new("sqlx-pg");
    write_sqlx(&p, POSTGRES);
    let (migrated, replay) = (fresh_pg("import_sqlx"), fresh_pg("import_sqlx_replay"));
    runtime().block_on(async {
        let pool = sqlx::PgPool::connect(&migrated).await.unwrap();
        sqlx::migrate::Migrator::new(p.migrations())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    import_and_check(&p, "sqlx", Dialect::Postgres, POSTGRES, &migrated, &replay);
    drop_test_database(&migrated);
    drop_test_database(&replay);
}

#[test]
fn sqlx_on_sqlite() {
    let p = Project::new("sqlx-sqlite");
    write_sqlx(&p, SQLITE);
    let dir = sqlite_test_dir("schema-import").unwrap();
    let migrated = format!("sqlite://{}", dir.join("sqlx.db").display());
    let replay = format!("sqlite://{}", dir.join("replay.db").display());
    runtime().block_on(async {
        let options = migrated
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(p.migrations())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    import_and_check(&p, "sqlx", Dialect::Sqlite, SQLITE, &migrated, &replay);
}

#[test]
fn diesel_on_postgres() {
    use diesel::Connection;
    use diesel_migrations::MigrationHarness;
    let p = Project::new("diesel");
    for (i, (name, up, down)) in POSTGRES.iter().enumerate() {
        let dir = format!("2024-01-01-0000{i:02}_{name}");
        p.write(&format!("{dir}/up.sql"), up);
        p.write(
            &format!("{dir}/down.sql"),
            if down.is_empty() { "SELECT 1;" } else { down },
        );
    }
    let (migrated, replay) = (fresh_pg("import_diesel"), fresh_pg("import_diesel_replay"));
    let mut conn = diesel::PgConnection::establish(&migrated).unwrap();
    let source = diesel_migrations::FileBasedMigrations::from_path(p.migrations()).unwrap();
    conn.run_pending_migrations(source).unwrap();
    drop(conn);
    import_and_check(
        &p,
        "diesel",
        Dialect::Postgres,
        POSTGRES,
        &migrated,
        &replay,
    );
    drop_test_database(&migrated);
    drop_test_database(&replay);
}

/// A database the tool migrated only part way is stamped at the part it applied; one
/// that applied a migration the directory lacks is refused, with nothing written.
#[test]
fn partly_migrated_and_foreign_databases() {
    let p = Project::new("sqlx-part");
    write_sqlx(&p, &SQLITE[..4]);
    let dir = sqlite_test_dir("schema-import-part").unwrap();
    let migrated = format!("sqlite://{}", dir.join("part.db").display());
    runtime().block_on(async {
        let options = migrated
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(p.migrations())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    // The directory gained a migration the database does not have yet.
    p.write("20240101000004_user_bio.sql", SQLITE[4].1);
    let dirs = p.migrations().display().to_string();
    // A migration the database applied that is not in the directory: refused.
    std::fs::remove_file(p.migrations().join("20240101000000_create_users.up.sql")).unwrap();
    let out = p.cli(&[
        "import",
        "--from",
        "sqlx",
        &dirs,
        "-p",
        "models",
        "--database",
        &migrated,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not in the directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(p.revisions().is_empty(), "nothing is written on refusal");
    p.write("20240101000000_create_users.up.sql", SQLITE[0].1);
    p.ok(&[
        "import",
        "--from",
        "sqlx",
        &dirs,
        "-p",
        "models",
        "--database",
        &migrated,
    ]);
    assert_eq!(p.revisions().len(), 5);
    let current = p.ok(&["current", "--database-url", &migrated]);
    assert!(current.contains("0004"), "{current}");
    // The rest is pending, and applies.
    p.ok(&["upgrade", "--database-url", &migrated]);
    p.ok(&["check", "--database", &migrated]);
}
