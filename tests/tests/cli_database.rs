//! The database commands of the real binary on both backends: failures that leave the
//! database at the revision before, concurrent upgrades, integrity checks, bad
//! connections, and the remaining commands (stamp, current, sql, reset, check --database).

use schema_e2e::{Fixture, TestDb};

use schema_e2e::HALF_GOOD_REVISION as BAD_REVISION;

#[test]
fn a_failing_revision_leaves_the_database_at_the_revision_before() {
    for db in TestDb::both("failing") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.write(
            "models/migrations/20251124_0008_half_good.toml",
            BAD_REVISION,
        );
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(3);
        let err = r.stderr();
        assert!(err.contains("revision 0008"), "{err}");
        assert!(
            err.contains("statement: UPDATE no_such_table SET x = 1"),
            "{err}"
        );
        assert!(
            err.contains("no_such_table"),
            "the database's message: {err}"
        );
        let r = f.schema(&["current", "--database-url", &url]);
        r.expect(0);
        assert_eq!(r.stdout().trim(), "0007");
        let has_nickname = db.introspect().tables["users"].column("nickname").is_some();
        assert!(
            !has_nickname,
            "the first step of 0008 was rolled back on {:?}",
            db.dialect()
        );
        let history = db.rows("SELECT revision FROM _schema_history ORDER BY revision");
        assert_eq!(history.len(), 7);
    }
}

#[test]
fn eight_processes_upgrading_at_once_apply_each_revision_once() {
    for db in TestDb::all("concurrent") {
        let f = Fixture::new("blog");
        let url = db.url();
        let children: Vec<_> = (0..8)
            .map(|_| {
                std::process::Command::new(schema_e2e::binary())
                    .args(["schema", "upgrade", "--database-url", &url])
                    .current_dir(&f.dir)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let mut applied = Vec::new();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            applied.extend(
                stdout
                    .lines()
                    .filter_map(|l| l.strip_prefix("Applied ").map(str::to_string)),
            );
        }
        applied.sort();
        assert_eq!(
            applied,
            ["0001", "0002", "0003", "0004", "0005", "0006", "0007"],
            "on {:?}",
            db.dialect()
        );
        let history = db.rows("SELECT revision FROM _schema_history ORDER BY revision");
        assert_eq!(history.len(), 7);
    }
}

#[test]
fn an_edited_applied_revision_is_refused_but_line_endings_are_not_an_edit() {
    for db in TestDb::all("edited") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "0005", "--database-url", &url])
            .expect(0);
        // A checkout on Windows: every file with CRLF endings, and a BOM on one.
        for name in f.migrations("models/migrations") {
            let rel = format!("models/migrations/{name}");
            let text = f.read(&rel).replace('\n', "\r\n");
            f.write(
                &rel,
                &if name.contains("0001") {
                    format!("\u{feff}{text}")
                } else {
                    text
                },
            );
        }
        f.schema(&["current", "--database-url", &url]).expect(0);
        // A comment and a new message change the file, not what it does: no edit.
        f.edit(
            "models/migrations/20251108_0003_tags_and_post_tags.toml",
            "message = \"tags and post_tags\"",
            "# reviewed by Ann\nmessage = \"tags\"",
        );
        f.schema(&["current", "--database-url", &url]).expect(0);
        f.schema(&["upgrade", "0005", "--database-url", &url])
            .expect(0);
        // A changed operation is an edit: refused until `repair --accept` records it.
        f.edit(
            "models/migrations/20251108_0003_tags_and_post_tags.toml",
            "{ name = \"name\", type = \"varchar(64)\" },",
            "{ name = \"name\", type = \"varchar(65)\" },",
        );
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(2);
        assert!(
            r.stderr().contains("revision 0003")
                && r.stderr().contains("was edited after it was applied")
                && r.stderr().contains("cargo schema repair --accept 0003"),
            "{}",
            r.stderr()
        );
        let r = f.schema(&["repair", "--database-url", &url]);
        r.expect(1);
        assert!(
            r.stderr().contains("0003: its operations differ")
                && r.stderr().contains("+ create table tags"),
            "{}",
            r.stderr()
        );
        f.schema(&["upgrade", "--allow-edited", "0005", "--database-url", &url])
            .expect(0);
        let r = f.schema(&["repair", "--accept", "0003", "--database-url", &url]);
        r.expect(0);
        assert!(
            r.stdout()
                .contains("0003: its operations changed: re-recorded"),
            "{}",
            r.stdout()
        );
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("up to date"), "{}", r.stdout());
    }
}

#[test]
fn a_database_ahead_of_the_code_is_refused() {
    for db in TestDb::all("ahead") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        std::fs::remove_file(f.path("models/migrations/20251123_0007_user_karma.toml"))
            .expect("rm");
        for cmd in ["upgrade", "current"] {
            let r = f.schema(&[cmd, "--database-url", &url]);
            r.expect(2);
            assert!(
                r.stderr().contains("0007") && r.stderr().contains("ahead of the code"),
                "{}",
                r.stderr()
            );
        }
    }
}

/// MariaDB commits each DDL statement: a revision that fails halfway keeps what ran. The
/// message lists it, the history row says how far the revision got, and the next run
/// either continues it (once the cause is fixed) or `downgrade` reverts the part that ran.
#[test]
fn a_revision_that_fails_halfway_on_mariadb_is_recorded_and_can_go_either_way() {
    let db = TestDb::mysql("halfway");
    let f = Fixture::new("blog");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    f.write(
        "models/migrations/20251124_0008_half_good.toml",
        BAD_REVISION,
    );
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(3);
    let err = r.stderr();
    for part in [
        "revision 0008",
        "stopped halfway",
        "ran and kept:\n    ALTER TABLE `users` ADD COLUMN `nickname` longtext",
        "failed: UPDATE no_such_table SET x = 1",
        "no_such_table' doesn't exist",
        "partly applied: 1 of its 2 operations ran",
        "`cargo schema downgrade 0007` reverts them",
    ] {
        assert!(err.contains(part), "{part:?} in:\n{err}");
    }
    let progress =
        db.rows("SELECT revision, progress FROM _schema_history WHERE revision = '0008'");
    assert_eq!(progress, [["0008", "upgrade 1"]]);
    let r = f.schema(&["current", "--database-url", &url]);
    r.expect(0);
    assert_eq!(r.stdout().trim(), "0007");
    assert!(
        r.stderr().contains("0008 (upgrade 1) stopped halfway"),
        "{}",
        r.stderr()
    );
    assert!(db.introspect().tables["users"].column("nickname").is_some());
    // Stamping over it would record a state no revision describes.
    let r = f.schema(&["stamp", "0008", "--database-url", &url]);
    r.expect(2);
    assert!(r.stderr().contains("stopped halfway"), "{}", r.stderr());

    // Revert the part that ran.
    f.schema(&["downgrade", "0007", "--database-url", &url])
        .expect(0);
    assert!(db.introspect().tables["users"].column("nickname").is_none());
    assert_eq!(
        db.rows("SELECT count(*) FROM _schema_history")[0][0],
        "7",
        "0008 is forgotten"
    );

    // Or fix the cause and let the next run continue where it stopped.
    f.schema(&["upgrade", "--database-url", &url]).expect(3);
    db.execute("CREATE TABLE no_such_table (x int)");
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(0);
    assert!(r.stdout().contains("0008"), "{}", r.stdout());
    assert_eq!(
        db.rows("SELECT revision, progress FROM _schema_history WHERE revision = '0008'"),
        [["0008", "NULL"]]
    );
    let users = &db.introspect().tables["users"];
    assert!(users.column("nickname").is_some());
}

#[test]
fn bad_urls_and_unreachable_servers() {
    let f = Fixture::new("blog");
    let r = f.schema(&[
        "upgrade",
        "--database-url",
        "oracle://root:hunter2@localhost/db",
    ]);
    r.expect(2);
    assert!(
        r.stderr().contains("unsupported database URL") && !r.stderr().contains("hunter2"),
        "{}",
        r.stderr()
    );
    f.schema(&["upgrade"]).expect(2);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let r = f.schema(&[
        "upgrade",
        "--database-url",
        &format!("postgres://app:s3cret@127.0.0.1:{port}/app"),
    ]);
    r.expect(3);
    assert!(
        r.stderr()
            .contains("cannot connect to postgres://app:***@127.0.0.1"),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("s3cret"));
    // A wrong password for a real role.
    let db = TestDb::postgres("pw");
    let url = db.url();
    db.execute("CREATE ROLE app LOGIN PASSWORD 'right-one'");
    let port = url
        .split("localhost:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("port");
    let r = f.schema(&[
        "current",
        "--database-url",
        &format!("postgresql://app:wrong-one@127.0.0.1:{port}/postgres"),
    ]);
    r.expect(3);
    assert!(
        r.stderr().contains("password authentication failed"),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("wrong-one"));
    f.schema(&[
        "current",
        "--database-url",
        &format!("postgresql://app:right-one@127.0.0.1:{port}/postgres"),
    ])
    .expect(0);
}

#[test]
fn database_url_comes_from_the_environment_and_dotenv() {
    let f = Fixture::new("blog");
    let db = TestDb::sqlite("env");
    let url = db.url();
    f.schema_env(&["upgrade", "0002"], &[("DATABASE_URL", &url)])
        .expect(0);
    f.write(".env", &format!("# local settings\nDATABASE_URL={url}\n"));
    let r = f.schema(&["current"]);
    r.expect(0);
    assert_eq!(r.stdout().trim(), "0002");
}

#[test]
fn stamp_current_downgrade_targets_sql_reset_and_drift() {
    for db in TestDb::all("cmds") {
        let f = Fixture::new("blog");
        let url = db.url();
        let at = |f: &Fixture| {
            f.schema(&["current", "--database-url", &url])
                .stdout()
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        };
        f.schema(&["upgrade", "blog@head", "--database-url", &url])
            .expect(0);
        f.schema(&["downgrade", "-2", "--database-url", &url])
            .expect(0);
        assert_eq!(at(&f), "0005");
        f.schema(&["downgrade", "0003", "--database-url", &url])
            .expect(0);
        assert_eq!(at(&f), "0003");
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let r = f.schema(&["current", "--format", "json", "--database-url", &url]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
        assert_eq!(v["at_head"], true);
        // stamp records without running: the schema stays.
        f.schema(&["stamp", "0004", "--database-url", &url])
            .expect(0);
        assert_eq!(at(&f), "0004");
        assert!(db.introspect().tables["users"].column("karma").is_some());
        f.schema(&["stamp", "heads", "--database-url", &url])
            .expect(0);
        // check --database: no drift, then a hand-made change is drift.
        f.schema(&["check", "--database", &url]).expect(0);
        db.execute("CREATE INDEX ix_by_hand ON users (bio)");
        let r = f.schema(&["check", "--database", &url]);
        r.expect(1);
        assert!(
            r.stdout().contains("drop index ix_by_hand"),
            "{}",
            r.stdout()
        );
        // reset drops what the migrations made and upgrades again.
        db.execute("INSERT INTO tags (name) VALUES ('rust')");
        f.schema(&["reset", "--database-url", &url]).expect(0);
        assert!(db.rows("SELECT * FROM tags").is_empty());
        assert_eq!(at(&f), "0007");
        f.schema(&["check", "--database", &url]).expect(0);
    }
}

#[test]
fn reset_refuses_a_remote_database() {
    let f = Fixture::new("blog");
    let r = f.schema(&[
        "reset",
        "--database-url",
        "postgres://u:p@db.example.com/prod",
    ]);
    r.expect(2);
    assert!(
        r.stderr().contains("not a local database"),
        "{}",
        r.stderr()
    );
}

#[test]
fn sql_renders_ranges_offline_for_both_dialects() {
    let f = Fixture::new("blog");
    let pg = f.schema(&["sql", "0005:0006", "--dialect", "postgres"]);
    pg.expect(0);
    assert_eq!(
        pg.stdout(),
        "-- upgrade 0006: slugs are required and unique\nALTER TABLE \"posts\" ALTER COLUMN \"slug\" SET NOT NULL;\nALTER TABLE \"posts\" ADD CONSTRAINT \"uq_posts_slug\" UNIQUE (\"slug\");\n"
    );
    let lite = f.schema(&["sql", "0005:0006", "--dialect", "sqlite"]);
    lite.expect(0);
    let out = lite.stdout();
    assert!(out.contains("CREATE TABLE \"_schema_new_posts\""), "{out}");
    assert!(out.contains("INSERT INTO \"_schema_new_posts\""), "{out}");
    assert!(
        out.contains("PRAGMA foreign_key_check(\"posts\");"),
        "{out}"
    );
    let down = f.schema(&["sql", "0007:0006", "--dialect", "postgres"]);
    assert!(down.stdout().starts_with("-- downgrade 0007: user karma\nALTER TABLE \"users\" DROP CONSTRAINT \"ck_users_karma\";"), "{}", down.stdout());
    // The whole chain applies in one go to a fresh database when run as a script.
    let all = f.schema(&["sql", "heads", "--dialect", "sqlite"]).stdout();
    let db = TestDb::sqlite("script");
    db.execute(&all);
    assert!(db.introspect().tables.contains_key("post_tags"));
}

#[test]
fn a_held_migration_lock_times_out_with_a_clear_message() {
    let f = Fixture::new("blog");
    // PostgreSQL: another session holds the advisory lock.
    let locked = TestDb::postgres("locked");
    let url = locked.url();
    let rt = schema_e2e::runtime();
    let holder = schema_e2e::pg_connect(&rt, &url);
    rt.block_on(holder.batch_execute(&format!(
        "SELECT pg_advisory_lock({})",
        schema::postgres::LOCK_KEY
    )))
    .expect("lock");
    let r = f.schema(&["upgrade", "--lock-timeout", "1", "--database-url", &url]);
    r.expect(3);
    assert!(
        r.stderr()
            .contains("timed out waiting for the migration lock"),
        "{}",
        r.stderr()
    );
    drop(holder);
    // SQLite: another connection holds the write lock.
    let db = TestDb::sqlite("locked");
    let TestDb::Sqlite(path) = &db else {
        unreachable!()
    };
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
        .expect("lock");
    let r = f.schema(&[
        "upgrade",
        "--lock-timeout",
        "1",
        "--database-url",
        &db.url(),
    ]);
    r.expect(3);
    assert!(
        r.stderr()
            .contains("timed out waiting for the migration lock"),
        "{}",
        r.stderr()
    );
}

#[test]
fn single_transaction_is_all_or_nothing_and_names_the_failing_revision() {
    for db in TestDb::both("single") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.write(
            "models/migrations/20251124_0008_half_good.toml",
            BAD_REVISION,
        );
        let r = f.schema(&["upgrade", "--single-transaction", "--database-url", &url]);
        r.expect(3);
        let err = r.stderr();
        assert!(err.contains("revision 0008"), "{err}");
        assert!(
            err.contains("statement: UPDATE no_such_table SET x = 1"),
            "{:?}: {err}",
            db.dialect()
        );
        let tables: Vec<String> = db.introspect().tables.into_keys().collect();
        assert!(
            tables.is_empty(),
            "nothing of 0001-0007 was kept on {:?}: {tables:?}",
            db.dialect()
        );
        std::fs::remove_file(f.path("models/migrations/20251124_0008_half_good.toml")).expect("rm");
        let r = f.schema(&["upgrade", "--single-transaction", "--database-url", &url]);
        r.expect(0);
        assert_eq!(r.stdout().lines().count(), 7);
        f.schema(&["check", "--database", &url]).expect(0);
    }
}

/// Runs a script through the database's own client, as a DBA would.
fn run_client(db: &TestDb, script: &str) {
    use std::io::Write;
    let mut cmd = match db {
        TestDb::Sqlite(p) => {
            let mut c = std::process::Command::new("sqlite3");
            c.arg("-bail").arg(p);
            c
        }
        TestDb::Postgres(u) => {
            let mut c = std::process::Command::new("psql");
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", u, "-f", "-"]);
            c
        }
        TestDb::Mysql(u) => {
            // mysql://root@127.0.0.1:PORT/DB
            let rest = u.split_once('@').map(|(_, r)| r).unwrap_or(u);
            let (host_port, name) = rest.split_once('/').expect("a database");
            let (host, port) = host_port.split_once(':').expect("a port");
            let mut c = std::process::Command::new("mariadb");
            c.args(["--no-defaults", "-u", "root", "-h", host, "-P", port, name]);
            c
        }
    };
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the client runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        db.dialect(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `upgrade --sql` and `downgrade --sql` print what the runner would run, transactions and
/// history rows included. Run by each database's own client, they leave the database
/// exactly where the runner would: at the target, in step with its history.
#[test]
fn sql_scripts_run_through_each_databases_own_client() {
    for db in TestDb::all("script") {
        let f = Fixture::new("blog");
        let url = db.url();
        let dialect = db.dialect().name();
        // No database needed: from base, for the dialect given.
        let r = f.schema(&["upgrade", "--sql", "--from", "base", "--dialect", dialect]);
        r.expect(0);
        let script = r.stdout();
        assert!(script.contains("_schema_history"), "{script}");
        assert!(script.contains("-- upgrade 0007: user karma"), "{script}");
        run_client(&db, &script);
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("up to date"), "{}", r.stdout());
        f.schema(&["check", "--database", "--database-url", &url])
            .expect(0);
        // From what the database records.
        let r = f.schema(&["downgrade", "--sql", "0005", "--database-url", &url]);
        r.expect(0);
        run_client(&db, &r.stdout());
        let r = f.schema(&["current", "--database-url", &url]);
        assert_eq!(r.stdout().trim(), "0005", "{:?}", db.dialect());
        f.schema(&["check", "--database", "--database-url", &url])
            .expect(0);
        let r = f.schema(&["upgrade", "--sql", "--database-url", &url]);
        r.expect(0);
        let out = r.stdout();
        let revisions: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("-- upgrade "))
            .map(|l| &l[11..15])
            .collect();
        assert_eq!(revisions, ["0006", "0007"], "{}", r.stdout());
        // The other direction is refused and nothing is printed.
        let r = f.schema(&["upgrade", "--sql", "0003", "--database-url", &url]);
        r.expect(2);
        assert!(
            r.stderr().contains("use `downgrade --sql`"),
            "{}",
            r.stderr()
        );
        assert!(r.stdout().is_empty());
        // `sql` takes its dialect from the URL.
        let r = f.schema(&["sql", "0001", "--database-url", &url]);
        r.expect(0);
        assert_eq!(
            r.stdout().contains("CREATE TABLE `users`"),
            db.dialect() == schema_core::Dialect::Mysql,
            "{}",
            r.stdout()
        );
    }
}

/// `upgrade --backup PATH`: taken under the lock before the first statement, and only when
/// something is pending. Restored (a SQLite file as it is; `pg_restore` into a fresh
/// database), it is the database before the upgrade: schema, rows and history. Without
/// `pg_dump` it is refused and nothing runs.
#[test]
fn a_backup_before_the_upgrade_restores_the_database_as_it_was() {
    for db in TestDb::both("backup") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "0005", "--database-url", &url])
            .expect(0);
        db.execute("INSERT INTO users (email, display_name) VALUES ('ann@example.com', 'Ann')");
        let before = db.introspect();
        let path = f.path("before-upgrade.backup");
        let path_arg = path.display().to_string();
        if matches!(db, TestDb::Postgres(_)) {
            let r = f.schema_env(
                &["upgrade", "--backup", &path_arg, "--database-url", &url],
                &[("PATH", "/nonexistent")],
            );
            r.expect(2);
            assert!(
                r.stderr().contains("pg_dump is not on PATH")
                    && r.stderr().contains("nothing was run"),
                "{}",
                r.stderr()
            );
            assert!(!path.exists());
            let r = f.schema(&["current", "--database-url", &url]);
            assert_eq!(r.stdout().trim(), "0005");
        }
        let r = f.schema(&["upgrade", "--backup", &path_arg, "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("Applied 0007"), "{}", r.stdout());
        assert!(path.is_file(), "the backup was written");
        let restored = match &db {
            TestDb::Sqlite(_) => TestDb::Sqlite(path.clone()),
            _ => {
                let restored = TestDb::postgres("restored");
                let out = std::process::Command::new("pg_restore")
                    .args(["--no-owner", "-d", &restored.url()])
                    .arg(&path)
                    .output()
                    .expect("pg_restore runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                restored
            }
        };
        schema_e2e::assert_schema(&restored, &before, "the restored backup");
        assert_eq!(
            restored.rows("SELECT email FROM users"),
            [["ann@example.com"]]
        );
        assert_eq!(
            restored.rows("SELECT count(*) FROM _schema_history")[0][0],
            "5"
        );
        // At head nothing is pending, and no backup is taken.
        let again = f.path("at-head.backup");
        f.schema(&[
            "upgrade",
            "--backup",
            &again.display().to_string(),
            "--database-url",
            &url,
        ])
        .expect(0);
        assert!(!again.exists());
    }
}

/// Two people each wrote 0008; ours was applied, then renumbered to 0009 after theirs.
/// The database is told so (not "edited"), `repair` records ours as 0009, and the next
/// upgrade applies theirs: no duplicate column, no hand-editing of the history.
#[test]
fn a_renumbered_revision_is_recognised_and_repaired() {
    for db in TestDb::all("renumbered") {
        let f = Fixture::new("blog");
        let url = db.url();
        let ours = "revision = \"0008\"\ndown_revision = \"0007\"\nmessage = \"ours\"\n\n[[upgrade]]\nop = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"nickname\", type = \"text\", nullable = true }\n\n[[downgrade]]\nop = \"drop_column\"\ntable = \"users\"\ncolumn = { name = \"nickname\", type = \"text\", nullable = true }\n";
        f.write("models/migrations/20251124_0008_ours.toml", ours);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let theirs = ours.replace("ours", "theirs").replace("nickname", "mood");
        f.write("models/migrations/20251124_0008_theirs.toml", &theirs);
        let path = f.path("models/migrations/20251124_0008_ours.toml");
        f.schema(&["renumber", path.to_str().expect("utf-8")])
            .expect(0);
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(2);
        assert!(
            r.stderr()
                .contains("recorded revision 0008, which is 0009 now")
                && r.stderr().contains("cargo schema repair"),
            "{}",
            r.stderr()
        );
        let r = f.schema(&["repair", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("0008 is 0009 now"), "{}", r.stdout());
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("Applied 0008"), "{}", r.stdout());
        let users = &db.introspect().tables["users"];
        assert!(users.column("nickname").is_some() && users.column("mood").is_some());
        f.schema(&["check", "--database", "--database-url", &url])
            .expect(1); // the models lack both columns; the database part matches
        let r = f.schema(&["check", "--database", "--database-url", &url]);
        assert!(
            r.stdout()
                .contains("database: matches the schema of its recorded revisions"),
            "{}",
            r.stdout()
        );
    }
}

/// A history table an earlier release made (no content checksums) works as it is: read,
/// upgraded in place by the next run that writes, and filled in by `repair`.
#[test]
fn a_history_table_from_the_previous_release_works_unchanged() {
    for db in TestDb::all("old_history") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "0005", "--database-url", &url])
            .expect(0);
        db.execute("ALTER TABLE _schema_history DROP COLUMN content_checksum");
        let r = f.schema(&["current", "--database-url", &url]);
        r.expect(0);
        assert_eq!(r.stdout().trim(), "0005");
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let filled = db.rows(
            "SELECT revision FROM _schema_history WHERE content_checksum IS NULL ORDER BY revision",
        );
        assert_eq!(
            filled.len(),
            5,
            "rows the earlier release wrote: {filled:?}"
        );
        let r = f.schema(&["repair", "--database-url", &url]);
        r.expect(0);
        assert!(db
            .rows("SELECT revision FROM _schema_history WHERE content_checksum IS NULL")
            .is_empty());
    }
}

/// A change that mixes compatible and breaking operations is called out, and `--split`
/// writes it as two revisions: the compatible one (a NOT NULL column added nullable)
/// ships first and the database works with rows written in between; the breaking one
/// (the column made NOT NULL, a column dropped) follows once a backfill is added.
#[test]
fn split_writes_the_compatible_part_first_and_the_breaking_part_after() {
    for db in TestDb::both("split") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.edit(
            "models/src/users.rs",
            "    pub bio: Option<String>,\n",
            "    pub nickname: String,\n",
        );
        let r = f.schema(&["revision", "-m", "nicknames", "--dry-run"]);
        r.expect(0);
        assert!(
            r.stderr().contains("mixes compatible and breaking changes")
                && r.stderr().contains("--split"),
            "{}",
            r.stderr()
        );
        let r = f.schema(&["revision", "-m", "nicknames", "--split"]);
        r.expect(0);
        let first = f.read("models/migrations/20251124_0008_nicknames_compatible.toml");
        let second = f.read("models/migrations/20251124_0009_nicknames_breaking.toml");
        assert!(
            first.contains("breaking = false") && first.contains("nullable = true"),
            "{first}"
        );
        assert!(
            !first.contains("\"bio\""),
            "bio is dropped in the second part: {first}"
        );
        assert!(
            second.contains("breaking = true")
                && second.contains("down_revision = \"0008\"")
                && second.contains("nullable = { from = true, to = false }")
                && second.contains("op = \"drop_column\""),
            "{second}"
        );
        // The first part ships before the code: rows written meanwhile have no nickname.
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        db.execute("INSERT INTO users (email, display_name) VALUES ('ann@example.com', 'Ann')");
        // The second part, with the backfill its author adds, ships after it.
        f.edit(
            "models/migrations/20251124_0009_nicknames_breaking.toml",
            "[[upgrade]]\nop = \"alter_column\"",
            "[[upgrade]]\nop = \"execute\"\nsql = \"UPDATE users SET nickname = email WHERE nickname IS NULL\"\n\n[[upgrade]]\nop = \"alter_column\"",
        );
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let users = &db.introspect().tables["users"];
        let nickname = users.column("nickname").expect("nickname");
        assert!(!nickname.nullable);
        assert!(users.column("bio").is_none());
        assert_eq!(db.rows("SELECT nickname FROM users"), [["ann@example.com"]]);
        f.schema(&["check", "--database", "--database-url", &url])
            .expect(0);
    }
}

/// `upgrade --rehearse` runs the pending revisions in a transaction that is rolled back:
/// it reports each step (on PostgreSQL with the locks it took: a type change takes an
/// AccessExclusiveLock), and history and schema stay as they were. MariaDB commits DDL
/// itself, so there it is refused.
#[test]
fn a_rehearsal_reports_steps_and_locks_and_changes_nothing() {
    for db in TestDb::all("rehearse") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.write(
            "models/migrations/20251124_0008_wider_karma.toml",
            schema_e2e::WIDER_KARMA_REVISION,
        );
        let before = db.introspect();
        let r = f.schema(&[
            "upgrade",
            "--rehearse",
            "--format",
            "json",
            "--database-url",
            &url,
        ]);
        if db.dialect() == schema_core::Dialect::Mysql {
            r.expect(2);
            assert!(
                r.stderr()
                    .contains("--rehearse needs DDL inside a transaction"),
                "{}",
                r.stderr()
            );
            continue;
        }
        r.expect(0);
        let report: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
        assert_eq!(report["rolled_back"], true);
        assert_eq!(report["revisions"][0]["revision"], "0008");
        let steps = report["revisions"][0]["steps"].as_array().expect("steps");
        assert!(!steps.is_empty());
        if db.dialect() == schema_core::Dialect::Postgres {
            let locks = steps[0]["locks"].as_array().expect("locks");
            assert!(
                locks
                    .iter()
                    .any(|l| l["relation"] == "users" && l["mode"] == "AccessExclusiveLock"),
                "{locks:?}"
            );
        }
        let r = f.schema(&["current", "--database-url", &url]);
        assert_eq!(r.stdout().trim(), "0007");
        schema_e2e::assert_schema(&db, &before, "after the rehearsal");
    }
}

/// DDL waits for another session's lock only `--ddl-lock-timeout` long: the revision is
/// rolled back and retried with backoff, then fails cleanly, leaving the database at the
/// revision before it; once the lock is gone the upgrade goes through.
#[test]
fn a_ddl_lock_timeout_retries_then_fails_cleanly() {
    let db = TestDb::postgres("ddl_lock");
    let f = Fixture::new("blog");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    f.write(
        "models/migrations/20251124_0008_wider_karma.toml",
        schema_e2e::WIDER_KARMA_REVISION,
    );
    // Another session reads users in an open transaction (an AccessShareLock).
    let rt = schema_e2e::runtime();
    let holder = schema_e2e::pg_connect(&rt, &url);
    rt.block_on(holder.batch_execute("BEGIN; SELECT count(*) FROM users"))
        .expect("hold");
    let started = std::time::Instant::now();
    let r = f.schema(&[
        "upgrade",
        "--ddl-lock-timeout",
        "200ms",
        "--database-url",
        &url,
    ]);
    r.expect(3);
    assert!(
        r.stderr().contains("revision 0008")
            && r.stderr().contains("lock timeout")
            && r.stderr().contains("gave up after 3 retries"),
        "{}",
        r.stderr()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(
        f.schema(&["current", "--database-url", &url])
            .stdout()
            .trim(),
        "0007"
    );
    rt.block_on(holder.batch_execute("ROLLBACK"))
        .expect("release");
    f.schema(&[
        "upgrade",
        "--ddl-lock-timeout",
        "200ms",
        "--database-url",
        &url,
    ])
    .expect(0);
    assert_eq!(
        f.schema(&["current", "--database-url", &url])
            .stdout()
            .trim(),
        "0008 (head)"
    );
    // A bad duration is a usage error.
    f.schema(&[
        "upgrade",
        "--ddl-lock-timeout",
        "soon",
        "--database-url",
        &url,
    ])
    .expect(2);
}

/// `-v` prints each revision and each step with its time; on a pipe without `-v`, and
/// with `--format json`, an upgrade prints no progress.
#[test]
fn verbose_upgrades_print_each_step_with_its_time() {
    for db in TestDb::both("verbose") {
        let f = Fixture::new("blog");
        let url = db.url();
        let r = f.schema(&["upgrade", "0002", "--database-url", &url]);
        r.expect(0);
        assert!(!r.stderr().contains("revision 0001"), "{}", r.stderr());
        let r = f.schema(&["upgrade", "-v", "--database-url", &url]);
        r.expect(0);
        let err = r.stderr();
        assert!(err.contains("revision 0003 (1 of 5)"), "{err}");
        assert!(err.contains("revision 0007 (5 of 5)"), "{err}");
        assert!(
            err.lines()
                .any(|l| l.contains(" ms  ALTER TABLE") && l.contains("karma")),
            "{err}"
        );
        assert_eq!(
            db.rows("SELECT count(*) FROM _schema_history")[0][0],
            "7",
            "every revision recorded as usual"
        );
        f.schema(&["check", "--database", "--database-url", &url])
            .expect(0);
    }
}
