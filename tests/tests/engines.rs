//! PostgreSQL run with what distributed PostgreSQL-compatible engines lack switched off
//! (`engine=cockroachdb`: no advisory locks, no DDL inside transactions), the simulation
//! docs/distributed-engines.md describes: the lock table, progress operation by
//! operation, and a lock row left behind by a killed run.

use schema_e2e::{Fixture, TestDb};

/// The URL with `engine=cockroachdb` added.
fn as_cockroach(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}engine=cockroachdb")
}

use schema_e2e::HALF_GOOD_REVISION as HALF_GOOD;

#[test]
fn eight_processes_share_the_lock_table_and_apply_each_revision_once() {
    let db = TestDb::postgres("engine_lock");
    let f = Fixture::new("blog");
    let url = as_cockroach(&db.url());
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(schema_e2e::binary())
                .args([
                    "schema",
                    "upgrade",
                    "--format",
                    "json",
                    "--database-url",
                    &url,
                ])
                .current_dir(&f.dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    // While they run, no advisory lock is ever taken.
    let mut advisory = 0;
    for _ in 0..20 {
        advisory += db.rows("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0][0]
            .parse::<usize>()
            .unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(advisory, 0);
    let mut applied = Vec::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        for r in v["applied"].as_array().into_iter().flatten() {
            applied.push(r.as_str().unwrap_or_default().to_string());
        }
    }
    applied.sort();
    assert_eq!(
        applied,
        ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]
    );
    assert_eq!(
        db.rows("SELECT count(*), count(progress) FROM _schema_history"),
        [["7", "0"]]
    );
    assert!(
        db.rows("SELECT holder FROM _schema_lock").is_empty(),
        "the lock row is released"
    );
    f.schema(&["check", "--database", "--database-url", &db.url()])
        .expect(0);
}

#[test]
fn without_transactional_ddl_a_failure_halfway_is_recorded_reverted_and_resumed() {
    let db = TestDb::postgres("engine_halfway");
    let f = Fixture::new("blog");
    let url = as_cockroach(&db.url());
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    f.write("models/migrations/20251124_0008_half_good.toml", HALF_GOOD);
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(3);
    let err = r.stderr();
    for part in [
        "stopped halfway",
        "ran and kept:\n    ALTER TABLE \"users\" ADD COLUMN \"nickname\" text",
        "failed: UPDATE no_such_table SET x = 1",
        "partly applied: 1 of its 2 operations ran",
    ] {
        assert!(err.contains(part), "{part:?} in:\n{err}");
    }
    assert_eq!(
        db.rows("SELECT progress FROM _schema_history WHERE revision = '0008'"),
        [["upgrade 1"]]
    );
    assert!(db.introspect().tables["users"].column("nickname").is_some());
    f.schema(&["downgrade", "0007", "--database-url", &url])
        .expect(0);
    assert!(db.introspect().tables["users"].column("nickname").is_none());
    assert!(db
        .rows("SELECT 1 FROM _schema_history WHERE revision = '0008'")
        .is_empty());
    f.schema(&["upgrade", "--database-url", &url]).expect(3);
    db.execute("CREATE TABLE no_such_table (x int)");
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    assert_eq!(
        db.rows("SELECT progress FROM _schema_history WHERE revision = '0008'"),
        [["NULL"]]
    );
    // A bad engine name is an input error.
    let bad = as_cockroach(&db.url()).replace("cockroachdb", "oracle");
    f.schema(&["current", "--database-url", &bad]).expect(2);
}

#[test]
fn a_lock_row_left_by_a_killed_run_is_taken_over_once_it_expires() {
    let db = TestDb::postgres("engine_stale");
    let f = Fixture::new("blog");
    let url = as_cockroach(&db.url());
    db.execute(
        "CREATE TABLE _schema_lock (id integer PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL); \
         INSERT INTO _schema_lock VALUES (1, 'a killed run', now() + interval '1 hour')",
    );
    let r = f.schema(&["upgrade", "--lock-timeout", "1", "--database-url", &url]);
    r.expect(3);
    assert!(
        r.stderr()
            .contains("timed out waiting for the migration lock")
            && r.stderr().contains("_schema_lock"),
        "{}",
        r.stderr()
    );
    assert!(db
        .rows("SELECT 1 FROM pg_tables WHERE tablename = '_schema_history'")
        .is_empty());
    db.execute("UPDATE _schema_lock SET expires_at = now() - interval '1 second'");
    f.schema(&["upgrade", "--lock-timeout", "1", "--database-url", &url])
        .expect(0);
    assert_eq!(db.rows("SELECT count(*) FROM _schema_history"), [["7"]]);
    assert!(db.rows("SELECT holder FROM _schema_lock").is_empty());
}
