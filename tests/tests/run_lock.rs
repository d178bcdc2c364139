//! One lock for the whole run, taken before the history is read: an upgrade racing a
//! downgrade ends with an unbroken history and the schema it describes, on every
//! backend; and nothing is sent when a pending revision cannot apply.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use schema_e2e::{Fixture, TestDb};

fn spawn(f: &Fixture, args: &[&str]) -> Child {
    Command::new(schema_e2e::binary())
        .arg("schema")
        .args(args)
        .current_dir(f.path("."))
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo-schema starts")
}

fn finish(child: Child, what: &str) {
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every recorded revision's parent is recorded: the blog's history is one chain, so
/// the recorded ids are a prefix of it.
fn assert_unbroken(db: &TestDb, context: &str) -> usize {
    let ids: Vec<String> = db
        .rows("SELECT revision FROM _schema_history ORDER BY revision")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let prefix: Vec<String> = (1..=ids.len()).map(|n| format!("{n:04}")).collect();
    assert_eq!(ids, prefix, "{context}: a gap in the history");
    ids.len()
}

#[test]
fn an_upgrade_racing_a_downgrade_leaves_an_unbroken_history() {
    for db in TestDb::all("race") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "0005", "--database-url", &url])
            .expect(0);
        // Another session holds the lock while both commands start.
        let rt = schema_e2e::runtime();
        let mut pg_holder = None;
        let mut sqlite_holder = None;
        let mut my_holder = None;
        match &db {
            TestDb::Mysql(u) => {
                use mysql_async::prelude::Queryable;
                let mut holder = schema_e2e::my_connect(&rt, u);
                let got: Option<i64> = rt
                    .block_on(holder.query_first(
                        "SELECT GET_LOCK(CONCAT('cargo_schema:', SHA1(DATABASE())), 10)",
                    ))
                    .expect("lock");
                assert_eq!(got, Some(1));
                my_holder = Some(holder);
            }
            TestDb::Postgres(u) => {
                let holder = schema_e2e::pg_connect(&rt, u);
                rt.block_on(holder.batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({})",
                    schema::postgres::LOCK_KEY
                )))
                .expect("lock");
                pg_holder = Some(holder);
            }
            TestDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).expect("open");
                conn.execute_batch("BEGIN IMMEDIATE").expect("lock");
                sqlite_holder = Some(conn);
            }
        }
        let down = spawn(&f, &["downgrade", "0003", "--database-url", &url]);
        std::thread::sleep(Duration::from_millis(500));
        let up = spawn(&f, &["upgrade", "--database-url", &url]);
        std::thread::sleep(Duration::from_millis(1500));
        if let Some(holder) = pg_holder {
            rt.block_on(holder.batch_execute("ROLLBACK"))
                .expect("unlock");
        }
        if let Some(conn) = sqlite_holder {
            conn.execute_batch("ROLLBACK").expect("unlock");
        }
        if let Some(holder) = my_holder {
            rt.block_on(holder.disconnect()).expect("unlock");
        }
        finish(down, "downgrade");
        finish(up, "upgrade");
        let at = assert_unbroken(&db, &format!("{:?}", db.dialect()));
        assert!(at == 3 || at == 7, "ended at {at}");
        // The schema is the one the recorded history describes.
        f.schema(&["check", "--database", "--database-url", &url])
            .expect(0);
    }
}

#[test]
fn a_pending_revision_that_cannot_apply_stops_the_run_before_its_first_statement() {
    for db in TestDb::both("validate") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "0005", "--database-url", &url])
            .expect(0);
        // 0006 and 0007 are fine; a new 0008 names a table that does not exist.
        f.write(
            "models/migrations/20251124_0008_nope.toml",
            "revision = \"0008\"\ndown_revision = \"0007\"\n\n[[upgrade]]\nop = \"drop_column\"\ntable = \"nope\"\ncolumn = { name = \"x\", type = \"text\" }\n",
        );
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(2);
        assert!(r.stderr().contains("0008"), "{}", r.stderr());
        assert_eq!(assert_unbroken(&db, "after the refused run"), 5);
    }
}

#[test]
fn upgrade_refuses_what_check_refuses() {
    for db in TestDb::both("heads") {
        let url = db.url();
        // Two heads on one branch.
        let f = Fixture::new("blog");
        f.schema(&["upgrade", "0006", "--database-url", &url])
            .expect(0);
        f.schema(&["revision", "--empty", "-m", "side work", "--head", "0006"])
            .expect(0);
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(2);
        assert!(
            r.stderr().contains("branch `blog` has 2 heads: 0007"),
            "{}",
            r.stderr()
        );
        assert_eq!(assert_unbroken(&db, "two heads"), 6);
        f.schema(&["merge", "-m", "join", "0007", "0008"]).expect(0);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(db.rows("SELECT revision FROM _schema_history").len(), 9);
    }
    // A deleted down_revision makes a second root: refused the same way.
    let db = TestDb::sqlite("root");
    let f = Fixture::new("blog");
    f.edit(
        "models/migrations/20251116_0005_add_post_slugs.toml",
        "down_revision = \"0004\"\n",
        "",
    );
    let r = f.schema(&["upgrade", "--database-url", &db.url()]);
    r.expect(2);
    assert!(
        r.stderr().contains(
            "_0005_add_post_slugs.toml: revision `0005` has no `down_revision` and no branch label"
        ),
        "{}",
        r.stderr()
    );
    f.schema(&["check"]).expect(2);
    assert!(db
        .rows("SELECT name FROM sqlite_master WHERE name = 'users'")
        .is_empty());
}

#[test]
fn a_lost_connection_says_where_the_database_may_be() {
    let db = TestDb::postgres("lost");
    let TestDb::Postgres(url) = &db else {
        unreachable!()
    };
    let f = Fixture::new("blog");
    f.schema(&["upgrade", "0005", "--database-url", url])
        .expect(0);
    f.write(
        "models/migrations/20251124_0008_slow.toml",
        "revision = \"0008\"\ndown_revision = \"0007\"\n\n[[upgrade]]\nop = \"execute\"\nsql = \"SELECT pg_sleep(30)\"\n",
    );
    let up = spawn(&f, &["upgrade", "--database-url", url]);
    // Once 0008 is running, its connection goes away (as in a server crash).
    let mut killed = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let rows = db.rows(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
        );
        if !rows.is_empty() {
            killed = true;
            break;
        }
    }
    assert!(killed, "0008 never started");
    let out = up.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the connection was lost during revision 0008")
            && err.contains("up to 0007, did not wait for the disk")
            && err.contains("cargo schema current"),
        "{err}"
    );
    // No crash happened here, so the earlier commits are there.
    assert_eq!(assert_unbroken(&db, "after the lost connection"), 7);
}

#[test]
fn without_a_run_lock_each_revision_checks_the_history_it_needs() {
    // An embedded runner given one PostgreSQL client locks per revision; a CLI downgrade
    // that slips in between must not leave it applying on top of a gap.
    let db = TestDb::postgres("moved");
    let TestDb::Postgres(url) = &db else {
        unreachable!()
    };
    let f = Fixture::new("blog");
    f.schema(&["upgrade", "0005", "--database-url", url])
        .expect(0);
    let graph = schema_core::resolver::load_graph(&[f.path("models/migrations")]).expect("graph");
    let rt = schema_e2e::runtime();
    let holder = schema_e2e::pg_connect(&rt, url);
    rt.block_on(holder.batch_execute(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({})",
        schema::postgres::LOCK_KEY
    )))
    .expect("lock");
    let embedded = std::thread::scope(|s| {
        let up = s.spawn(|| db.upgrade(&graph, "heads"));
        std::thread::sleep(Duration::from_millis(500));
        let down = spawn(&f, &["downgrade", "0003", "--database-url", url]);
        std::thread::sleep(Duration::from_millis(500));
        rt.block_on(holder.batch_execute("ROLLBACK"))
            .expect("unlock");
        finish(down, "downgrade");
        up.join().expect("no panic")
    });
    match &embedded {
        Ok(applied) => assert!(!applied.is_empty()),
        Err(e) => assert!(
            e.to_string()
                .contains("another process changed the history during this run"),
            "{e}"
        ),
    }
    let at = assert_unbroken(&db, "embedded upgrade against a downgrade");
    assert!(at == 3 || at == 7, "ended at {at}: {embedded:?}");
}

#[test]
fn first_runs_racing_on_a_new_sqlite_file_both_succeed() {
    // Two processes' first runs: one creates the history table while the other looks
    // for it. Repeated, since the window is small.
    let graph = schema_e2e::fixture_graph(&["blog/models/migrations"]);
    for round in 0..40 {
        let db = TestDb::sqlite(&format!("first-run-{round}"));
        let results: Vec<_> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| db.upgrade(&graph, "heads")))
                .collect();
            runs.into_iter()
                .map(|r| r.join().expect("no panic"))
                .collect()
        });
        for r in &results {
            assert!(r.is_ok(), "round {round}: {r:?}");
        }
        assert_eq!(assert_unbroken(&db, "first runs"), 7);
    }
}
