//! What both demo applications' tests check: two instances started at once on one fresh
//! database migrate it once between them, and the database then has exactly what the
//! models say, the seeded row and one note from each instance.

use std::process::{Command, Stdio};

use schema::testing::{drop_test_database, sqlite_test_dir};
use schema::Dialect;

/// What one start printed.
#[derive(Debug)]
pub struct Started {
    pub applied: usize,
    pub notes: usize,
}

fn number(out: &str, key: &str) -> usize {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` line in {out:?}"))
}

/// Starts `bin` twice at once on `url` and waits for both.
pub fn start_two(bin: &str, url: &str) -> Vec<Started> {
    let children: Vec<_> = ["first", "second"]
        .iter()
        .map(|title| {
            Command::new(bin)
                .args([url, title])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the application")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait for the application");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{bin} failed: {}\n{stdout}",
                String::from_utf8_lossy(&out.stderr)
            );
            Started {
                applied: number(&stdout, "applied "),
                notes: number(&stdout, "notes "),
            }
        })
        .collect()
}

/// The history's revisions and the live schema's differences from the models, read back
/// with the project's own drivers (the applications have only theirs).
fn read_back(url: &str) -> (Vec<String>, Vec<String>, i64) {
    let models = demo_models::models();
    let history = "SELECT revision FROM _schema_history ORDER BY revision";
    let notes = "SELECT count(*) FROM notes WHERE title IN ('welcome', 'first', 'second')";
    if url.starts_with("postgres") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(conn);
            let revs = client
                .query(history, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let live = schema::postgres::introspect(&client).await.unwrap();
            let n: i64 = client.query_one(notes, &[]).await.unwrap().get(0);
            drop(client);
            let _ = task.await;
            (
                revs,
                schema::compare::differences(Dialect::Postgres, &models, &live),
                n,
            )
        })
    } else if url.starts_with("mysql") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use mysql_async::prelude::Queryable;
            let mut conn = schema::mysql::connect(url).await.unwrap();
            let revs: Vec<String> = conn.query(history).await.unwrap();
            let live = schema::mysql::introspect(&mut conn).await.unwrap();
            let n: Option<i64> = conn.query_first(notes).await.unwrap();
            let _ = conn.disconnect().await;
            (
                revs,
                schema::compare::differences(Dialect::Mysql, &models, &live),
                n.unwrap_or_default(),
            )
        })
    } else {
        let path = url.trim_start_matches("sqlite://");
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn.prepare(history).unwrap();
        let revs = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        let live = schema::sqlite::introspect(&conn).unwrap();
        let n: i64 = conn.query_row(notes, [], |r| r.get(0)).unwrap();
        (
            revs,
            schema::compare::differences(Dialect::Sqlite, &models, &live),
            n,
        )
    }
}

/// Two instances at once on `url`: the two revisions applied once between them, the
/// schema the models', the seeded row and both notes there. The database is dropped.
pub fn check_two_instances(bin: &str, url: &str) {
    let started = start_two(bin, url);
    let (history, drift, notes) = read_back(url);
    if url.starts_with("postgres") || url.starts_with("mysql") {
        drop_test_database(url);
    }
    assert_eq!(
        started.iter().map(|s| s.applied).sum::<usize>(),
        2,
        "each revision applied once between the two: {started:?}"
    );
    assert_eq!(history, ["0001", "0002"]);
    assert!(
        drift.is_empty(),
        "the database differs from the models: {drift:?}"
    );
    assert_eq!(notes, 3, "the seeded note and one from each instance");
    // Each instance saw the seeded note and its own, at least.
    assert!(started.iter().all(|s| s.notes >= 2), "{started:?}");
}

/// A SQLite file path in this test process's temporary directory (removed at exit).
pub fn sqlite_file(prefix: &str, name: &str) -> String {
    let dir = sqlite_test_dir(prefix).unwrap();
    dir.join(name).display().to_string()
}
