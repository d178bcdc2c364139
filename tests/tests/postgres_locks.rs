//! PostgreSQL without downtime, on a real server: an index declared `concurrently` is
//! built outside the revision's transaction while writes go on, a failed build leaves
//! nothing behind and a re-run resumes; a constraint on an existing table is added
//! `NOT VALID` and validated in a step of its own.

use std::time::{Duration, Instant};

use schema_e2e::{Fixture, TestDb};

const USERS_MODEL: &str = "models/src/users.rs";

/// The blog at its head with rows, on a fresh PostgreSQL database.
fn blog_with_users(name: &str) -> (Fixture, TestDb, String) {
    let db = TestDb::postgres(name);
    let f = Fixture::new("blog");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    db.execute(
        "INSERT INTO users (id, email, display_name) VALUES \
         (1, 'ann@example.com', 'Ann'), (2, 'ann@example.org', 'Ann'), (3, 'bob@example.com', 'Bob')",
    );
    (f, db, url)
}

fn history_of(db: &TestDb, id: &str) -> Vec<Vec<String>> {
    db.rows(&format!(
        "SELECT revision, progress FROM _schema_history WHERE revision = '{id}'"
    ))
}

fn index_state(db: &TestDb, name: &str) -> Vec<Vec<String>> {
    db.rows(&format!(
        "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = '{name}'"
    ))
}

#[test]
fn a_concurrent_index_is_built_while_writes_go_on_and_a_failed_build_resumes() {
    let (f, db, url) = blog_with_users("concurrent_index");
    f.edit(
        USERS_MODEL,
        "#[table(check(",
        "#[table(index(name = \"ix_users_display_name\", columns(\"display_name\"), unique, concurrently))]\n#[table(check(",
    );
    f.edit(
        USERS_MODEL,
        "    pub created_at: NaiveDateTime,\n",
        "    pub created_at: NaiveDateTime,\n    pub nickname: Option<String>,\n",
    );
    f.schema(&["revision", "-m", "nicknames"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("index = { name = \"ix_users_display_name\", columns = [\"display_name\"], unique = true, concurrently = true }"),
        "{text}"
    );

    // Two users share a name: the unique build fails after the column was committed.
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(3);
    let err = r.stderr();
    for part in [
        "revision 0008",
        "stopped halfway",
        "ran and kept:\n    ALTER TABLE \"users\" ADD COLUMN \"nickname\" text",
        "failed: CREATE UNIQUE INDEX CONCURRENTLY \"ix_users_display_name\"",
        "could not create unique index",
        "partly applied: 1 of its 2 operations ran",
        "`cargo schema downgrade 0007` reverts them",
    ] {
        assert!(err.contains(part), "{part:?} in:\n{err}");
    }
    assert_eq!(history_of(&db, "0008"), [["0008", "upgrade 1"]]);
    assert!(
        index_state(&db, "ix_users_display_name").is_empty(),
        "the INVALID index the failed build left is dropped"
    );
    let r = f.schema(&["current", "--database-url", &url]);
    assert_eq!(r.stdout().trim(), "0007");
    assert!(r.stderr().contains("0008 (upgrade 1) stopped halfway"));

    // A build killed before it could clean up leaves an INVALID index behind.
    let rt = schema_e2e::runtime();
    let other = schema_e2e::pg_connect(&rt, &url);
    rt.block_on(other.batch_execute(
        "CREATE UNIQUE INDEX CONCURRENTLY ix_users_display_name ON users (display_name)",
    ))
    .expect_err("duplicates");
    assert_eq!(index_state(&db, "ix_users_display_name"), [["false"]]);

    // Fix the data; another session holds rows of users locked in an open transaction.
    db.execute("UPDATE users SET display_name = 'Ann B' WHERE id = 2");
    rt.block_on(other.batch_execute("BEGIN; UPDATE users SET karma = karma + 1 WHERE id = 1"))
        .expect("hold rows");
    let upgrade = std::process::Command::new(schema_e2e::binary())
        .args(["schema", "upgrade", "--database-url", &url])
        .current_dir(&f.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The resumed step (dropping the INVALID index, then building) waits for that
    // transaction, and writes to users still go through.
    let waiting = Instant::now();
    loop {
        let building = db.rows(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '% INDEX CONCURRENTLY %' \
             AND wait_event_type = 'Lock'",
        );
        if building[0][0] == "1" {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the build never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let writer = schema_e2e::pg_connect(&rt, &url);
    rt.block_on(writer.batch_execute(
        "SET statement_timeout = '5s'; \
         INSERT INTO users (id, email, display_name) VALUES (4, 'cy@example.com', 'Cy'); \
         UPDATE users SET bio = 'written during the build' WHERE id = 3",
    ))
    .expect("writes are not blocked by a concurrent build");
    rt.block_on(other.batch_execute("COMMIT")).expect("release");
    let out = upgrade.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(history_of(&db, "0008"), [["0008", "NULL"]]);
    assert_eq!(index_state(&db, "ix_users_display_name"), [["true"]]);
    assert_eq!(
        db.rows("SELECT id::text, display_name, coalesce(bio, '') FROM users ORDER BY id"),
        [
            ["1", "Ann", ""],
            ["2", "Ann B", ""],
            ["3", "Bob", "written during the build"],
            ["4", "Cy", ""],
        ]
    );
    f.schema(&["check", "--database", "--database-url", &url])
        .expect(0);

    // Downgrading drops it concurrently too; upgrading again builds it again.
    f.schema(&["downgrade", "0007", "--database-url", &url])
        .expect(0);
    assert!(index_state(&db, "ix_users_display_name").is_empty());
    assert!(db.introspect().tables["users"].column("nickname").is_none());
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    assert_eq!(index_state(&db, "ix_users_display_name"), [["true"]]);

    // The offline script does what the runner does: run through psql on a copy at 0007,
    // it gives the same schema and history.
    let copy = TestDb::postgres("concurrent_index_script");
    let copy_url = copy.url();
    f.schema(&["upgrade", "0007", "--database-url", &copy_url])
        .expect(0);
    let script = f.schema(&["upgrade", "--sql", "--database-url", &copy_url]);
    script.expect(0);
    let sql = script.stdout();
    assert!(sql.contains("-- upgrade 0008 (in parts)"), "{sql}");
    let mut psql = std::process::Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f", "-", &copy_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql");
    use std::io::Write;
    psql.stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("write");
    let out = psql.wait_with_output().expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    schema_e2e::assert_schema(&copy, &db.introspect(), "the script's result");
    assert_eq!(history_of(&copy, "0008"), [["0008", "NULL"]]);
    assert_eq!(index_state(&copy, "ix_users_display_name"), [["true"]]);

    // An application's runner on one connection (no second one for the run lock) holds
    // the lock at session level across the parts.
    let app = TestDb::postgres("concurrent_index_app");
    let graph = schema_core::resolver::load_graph(&[f.dir.join("models/migrations")])
        .expect("the fixture's history");
    let applied = app.upgrade(&graph, "heads").expect("upgrade");
    assert_eq!(applied.last().map(String::as_str), Some("0008"));
    assert_eq!(index_state(&app, "ix_users_display_name"), [["true"]]);
    assert_eq!(history_of(&app, "0008"), [["0008", "NULL"]]);
}

#[test]
fn a_constraint_on_an_existing_table_is_added_not_valid_and_validated_apart() {
    let (f, db, url) = blog_with_users("not_valid");
    f.edit(
        USERS_MODEL,
        "#[table(check(name = \"ck_users_karma\", expr = \"karma >= 0\"))]",
        "#[table(check(name = \"ck_users_karma\", expr = \"karma >= 0\"))]\n#[table(check(name = \"ck_users_name\", expr = \"display_name <> ''\"))]",
    );
    let r = f.schema(&["revision", "-m", "names required"]);
    r.expect(0);
    let text = f.newest_migration("models/migrations");
    let upgrade = text.split("[[downgrade]]").next().unwrap_or_default();
    assert!(
        upgrade.contains(
            "op = \"add_constraint\"\ntable = \"users\"\nconstraint = { type = \"check\", name = \"ck_users_name\", expr = \"display_name <> ''\" }\nnot_valid = true\n"
        ) && upgrade.contains("op = \"validate_constraint\"\ntable = \"users\"\nname = \"ck_users_name\"\n"),
        "{text}"
    );
    assert!(
        !r.stderr().contains("check-without-not-valid"),
        "the safe form raises no lock risk: {}",
        r.stderr()
    );

    // A row breaks the rule: the constraint is in place (new rows are checked), and the
    // validation fails in its own step.
    db.execute("UPDATE users SET display_name = '' WHERE id = 3");
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(3);
    assert!(
        r.stderr()
            .contains("failed: ALTER TABLE \"users\" VALIDATE CONSTRAINT \"ck_users_name\"")
            && r.stderr()
                .contains("partly applied: 1 of its 2 operations ran"),
        "{}",
        r.stderr()
    );
    assert_eq!(history_of(&db, "0008"), [["0008", "upgrade 1"]]);
    assert_eq!(
        db.rows("SELECT convalidated::text FROM pg_constraint WHERE conname = 'ck_users_name'"),
        [["false"]]
    );
    let rt = schema_e2e::runtime();
    let c = schema_e2e::pg_connect(&rt, &url);
    rt.block_on(c.batch_execute(
        "INSERT INTO users (id, email, display_name) VALUES (9, 'x@example.com', '')",
    ))
    .expect_err("a NOT VALID check still checks new rows");

    // Reverting the part that ran drops the constraint and forgets the revision.
    f.schema(&["downgrade", "0007", "--database-url", &url])
        .expect(0);
    assert!(db
        .rows("SELECT 1 FROM pg_constraint WHERE conname = 'ck_users_name'")
        .is_empty());
    assert!(history_of(&db, "0008").is_empty());

    // Fixed data: the add commits, then the validation, and the history says complete.
    f.schema(&["upgrade", "--database-url", &url]).expect(3);
    db.execute("UPDATE users SET display_name = 'Bob' WHERE id = 3");
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(0);
    assert_eq!(history_of(&db, "0008"), [["0008", "NULL"]]);
    assert_eq!(
        db.rows("SELECT convalidated::text FROM pg_constraint WHERE conname = 'ck_users_name'"),
        [["true"]]
    );
    f.schema(&["check", "--database", "--database-url", &url])
        .expect(0);

    // The other dialects add it the plain way, from the same file.
    for other in [TestDb::sqlite("not_valid"), TestDb::mysql("not_valid")] {
        let u = other.url();
        f.schema(&["upgrade", "--database-url", &u]).expect(0);
        f.schema(&["check", "--database", "--database-url", &u])
            .expect(0);
        assert!(other.introspect().tables["users"]
            .checks
            .iter()
            .any(|c| c.name == "ck_users_name"));
    }
}

/// The workspace's `ddl-lock-timeout` is the default of `--ddl-lock-timeout`.
#[test]
fn the_workspace_sets_the_ddl_lock_timeout() {
    let db = TestDb::postgres("ddl_setting");
    let f = Fixture::new("blog");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    f.edit(
        "Cargo.toml",
        "[workspace.metadata.schema]\n",
        "[workspace.metadata.schema]\nddl-lock-timeout = \"100ms\"\n",
    );
    f.write(
        "models/migrations/20251124_0008_wider_karma.toml",
        schema_e2e::WIDER_KARMA_REVISION,
    );
    let rt = schema_e2e::runtime();
    let holder = schema_e2e::pg_connect(&rt, &url);
    rt.block_on(holder.batch_execute("BEGIN; SELECT count(*) FROM users"))
        .expect("hold");
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(3);
    assert!(
        r.stderr().contains("gave up after 3 retries"),
        "{}",
        r.stderr()
    );
    rt.block_on(holder.batch_execute("ROLLBACK"))
        .expect("release");
    f.edit(
        "Cargo.toml",
        "ddl-lock-timeout = \"100ms\"",
        "ddl-lock-timeout = 5",
    );
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(2);
    assert!(
        r.stderr().contains("ddl-lock-timeout must be a string"),
        "{}",
        r.stderr()
    );
}
