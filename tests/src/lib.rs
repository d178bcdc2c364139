//! Support for the end-to-end tests: copies of the fixture workspaces, the real
//! `cargo-schema` binary, snapshots, and databases (SQLite files, throwaway PostgreSQL
//! and MariaDB servers).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The shared target directory (fixtures build into it too, to reuse compiled crates).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The `cargo-schema` binary, built once per test process so it is never stale.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "cargo-schema",
                "--bin",
                "cargo-schema",
            ])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building cargo-schema failed");
        target_dir().join("debug").join("cargo-schema")
    })
    .clone()
}

/// A copy of a fixture workspace in a temporary directory, removed on drop.
pub struct Fixture {
    pub dir: PathBuf,
}

/// Copies a fixture workspace (without `target/` and `Cargo.lock`), turning its path
/// dependencies on this repository's crates (`../../../`) into absolute ones under `root`.
pub fn copy_fixture(from: &Path, to: &Path, root: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_fixture(&src, &dst, root)?;
        } else if name == "Cargo.toml" {
            let text = std::fs::read_to_string(&src)?;
            std::fs::write(
                &dst,
                text.replace("path = \"../../../", &format!("path = \"{root}/")),
            )?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

impl Fixture {
    pub fn new(name: &str) -> Fixture {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schema-e2e-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        copy_fixture(
            &repo_root().join("fixtures").join(name),
            &dir,
            &repo_root().display().to_string(),
        )
        .expect("copy the fixture");
        Fixture { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }

    /// Replaces `from` with `to` in a file; the text must be there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// The text of the newest migration file of a directory.
    pub fn newest_migration(&self, rel_dir: &str) -> String {
        let files = self.migrations(rel_dir);
        self.read(&format!("{rel_dir}/{}", files.last().expect("a revision")))
    }

    /// Migration files of a directory, sorted.
    pub fn migrations(&self, rel_dir: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(rel_dir))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".toml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Runs `cargo schema ARGS` in the fixture, with a fixed clock.
    pub fn schema(&self, args: &[&str]) -> Run {
        self.schema_env(args, &[])
    }

    pub fn schema_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(binary());
        c.arg("schema")
            .args(args)
            .current_dir(&self.dir)
            .env("SOURCE_DATE_EPOCH", "1764000000")
            .env("NO_COLOR", "1");
        c.env_remove("DATABASE_URL");
        for (k, v) in env {
            c.env(k, v);
        }
        Run(c.output().expect("cargo-schema runs"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The outcome of one run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        assert!(
            !self.stderr().contains("panicked"),
            "the binary panicked: {}",
            self.stderr()
        );
        self
    }
}

/// Compares `actual` with `tests/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites it.
#[track_caller]
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = repo_root().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1 to record it",
            path.display()
        )
    });
    assert_eq!(
        expected, actual,
        "snapshot {name} differs (UPDATE_SNAPSHOTS=1 to accept)"
    );
}

/// A fresh SQLite file path in a temporary directory.
pub fn sqlite_path(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    // Removed when the test process exits, whatever happened.
    let dir = schema::testing::sqlite_test_dir("schema-e2e-db").expect("temp dir");
    dir.join(format!("{name}-{}.db", N.fetch_add(1, Ordering::SeqCst)))
}

/// A fresh PostgreSQL database on the test server.
pub fn postgres_database(prefix: &str) -> String {
    runtime()
        .block_on(schema::testing::fresh_postgres_database(prefix))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A single-threaded runtime for PostgreSQL work in tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A connected client; the connection task runs on the given runtime.
pub fn pg_connect(rt: &tokio::runtime::Runtime, url: &str) -> tokio_postgres::Client {
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
        .expect("connect");
    rt.spawn(conn);
    client
}

/// A fresh MySQL/MariaDB database on the test server.
pub fn mysql_database(prefix: &str) -> String {
    runtime()
        .block_on(schema::testing::fresh_mysql_database(prefix))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A connection to a MySQL/MariaDB database.
pub fn my_connect(rt: &tokio::runtime::Runtime, url: &str) -> mysql_async::Conn {
    rt.block_on(schema::mysql::connect(url))
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// One test database on any backend, with the runner's operations.
pub enum TestDb {
    Sqlite(PathBuf),
    Postgres(String),
    Mysql(String),
}

/// A test's database is removed when the test is done with it (its file, or the
/// database on the server).
impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite(p) => {
                for suffix in ["", "-wal", "-shm", "-journal", ".schema-lock"] {
                    let mut name = p.clone().into_os_string();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
            }
            TestDb::Postgres(u) | TestDb::Mysql(u) => schema::testing::drop_test_database(u),
        }
    }
}

impl TestDb {
    pub fn sqlite(name: &str) -> TestDb {
        TestDb::Sqlite(sqlite_path(name))
    }

    pub fn postgres(name: &str) -> TestDb {
        TestDb::Postgres(postgres_database(name))
    }

    pub fn mysql(name: &str) -> TestDb {
        TestDb::Mysql(mysql_database(name))
    }

    /// SQLite and PostgreSQL, fresh.
    pub fn both(name: &str) -> Vec<TestDb> {
        vec![TestDb::sqlite(name), TestDb::postgres(name)]
    }

    /// Every backend (SQLite, PostgreSQL, MariaDB), fresh.
    pub fn all(name: &str) -> Vec<TestDb> {
        vec![
            TestDb::sqlite(name),
            TestDb::postgres(name),
            TestDb::mysql(name),
        ]
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(p) => format!("sqlite://{}", p.display()),
            TestDb::Postgres(u) | TestDb::Mysql(u) => u.clone(),
        }
    }

    pub fn dialect(&self) -> schema_core::Dialect {
        match self {
            TestDb::Sqlite(_) => schema_core::Dialect::Sqlite,
            TestDb::Postgres(_) => schema_core::Dialect::Postgres,
            TestDb::Mysql(_) => schema_core::Dialect::Mysql,
        }
    }

    /// Runs `f` with a backend for this database.
    pub fn with<T>(&self, f: impl AsyncBackendFn<T>) -> T {
        match self {
            TestDb::Sqlite(p) => {
                let mut conn = rusqlite::Connection::open(p).expect("open sqlite");
                let mut db = schema::sqlite::SqliteBackend::new(&mut conn);
                schema::embed::block_on(f.call(&mut db))
            }
            TestDb::Postgres(u) => {
                let rt = runtime();
                let client = pg_connect(&rt, u);
                let mut db = schema::postgres::PostgresBackend::new(&client);
                rt.block_on(f.call(&mut db))
            }
            TestDb::Mysql(u) => {
                let rt = runtime();
                let mut conn = my_connect(&rt, u);
                let mut db = schema::mysql::MysqlBackend::new(&mut conn);
                let out = rt.block_on(f.call(&mut db));
                let _ = rt.block_on(conn.disconnect());
                out
            }
        }
    }

    pub fn upgrade(
        &self,
        graph: &schema_core::MigrationGraph,
        target: &str,
    ) -> Result<Vec<String>, schema::RunError> {
        self.with(Upgrade(graph, target, true))
    }

    pub fn downgrade(
        &self,
        graph: &schema_core::MigrationGraph,
        target: &str,
    ) -> Result<Vec<String>, schema::RunError> {
        self.with(Upgrade(graph, target, false))
    }

    pub fn introspect(&self) -> schema_core::Schema {
        self.with(Introspect)
    }

    /// Runs SQL statements (no results).
    pub fn execute(&self, sql: &str) {
        if let Err(e) = self.try_execute(sql) {
            panic!("execute {sql}: {e}");
        }
    }

    /// Runs SQL, giving the database's refusal back as text.
    pub fn try_execute(&self, sql: &str) -> Result<(), String> {
        match self {
            TestDb::Sqlite(p) => rusqlite::Connection::open(p)
                .expect("open")
                .execute_batch(sql)
                .map_err(|e| e.to_string()),
            TestDb::Postgres(u) => {
                let rt = runtime();
                let c = pg_connect(&rt, u);
                rt.block_on(c.batch_execute(sql))
                    .map_err(|e| format!("{e:?}"))
            }
            TestDb::Mysql(u) => {
                use mysql_async::prelude::Queryable;
                let rt = runtime();
                let mut c = my_connect(&rt, u);
                let r = rt.block_on(c.query_drop(sql)).map_err(|e| e.to_string());
                let _ = rt.block_on(c.disconnect());
                r
            }
        }
    }

    /// The rows of a query, each column as text (NULL as "NULL").
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            TestDb::Sqlite(p) => {
                let conn = rusqlite::Connection::open(p).expect("open");
                let mut stmt = conn.prepare(sql).expect("prepare");
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            let v: rusqlite::types::Value = r.get(i)?;
                            Ok(match v {
                                rusqlite::types::Value::Null => "NULL".to_string(),
                                rusqlite::types::Value::Integer(i) => i.to_string(),
                                rusqlite::types::Value::Real(f) => f.to_string(),
                                rusqlite::types::Value::Text(t) => t,
                                rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
            }
            TestDb::Postgres(u) => {
                let rt = runtime();
                let c = pg_connect(&rt, u);
                rt.block_on(c.simple_query(sql))
                    .expect("query")
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL").to_string())
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect()
            }
            TestDb::Mysql(u) => {
                use mysql_async::prelude::Queryable;
                let rt = runtime();
                let mut c = my_connect(&rt, u);
                let rows: Vec<mysql_async::Row> = rt.block_on(c.query(sql)).expect("query");
                let _ = rt.block_on(c.disconnect());
                rows.into_iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.as_ref(i) {
                                None | Some(mysql_async::Value::NULL) => "NULL".to_string(),
                                Some(mysql_async::Value::Bytes(b)) => {
                                    String::from_utf8_lossy(b).into_owned()
                                }
                                Some(v) => v.as_sql(true).trim_matches('\'').to_string(),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }
}

/// A body that runs on any backend (closures cannot be generic over the backend).
pub trait AsyncBackendFn<T> {
    fn call<B: schema::Backend>(self, db: &mut B) -> impl std::future::Future<Output = T>;
}

struct Upgrade<'a>(&'a schema_core::MigrationGraph, &'a str, bool);

impl AsyncBackendFn<Result<Vec<String>, schema::RunError>> for Upgrade<'_> {
    async fn call<B: schema::Backend>(self, db: &mut B) -> Result<Vec<String>, schema::RunError> {
        let m = schema::Migrator::new(self.0, schema::RunOptions::default());
        let r = if self.2 {
            m.upgrade(db, self.1).await?
        } else {
            m.downgrade(db, self.1).await?
        };
        Ok(r.revisions)
    }
}

struct Introspect;

impl AsyncBackendFn<schema_core::Schema> for Introspect {
    async fn call<B: schema::Backend>(self, db: &mut B) -> schema_core::Schema {
        db.introspect().await.expect("introspect")
    }
}

/// Creates the schema's tables straight from it.
pub struct CreateAll<'a>(pub &'a schema_core::Schema);

impl AsyncBackendFn<()> for CreateAll<'_> {
    async fn call<B: schema::Backend>(self, db: &mut B) {
        schema::create_all(db, self.0).await.expect("create_all");
    }
}

/// The graph of a fixture's (or any) migration directories.
pub fn fixture_graph(dirs: &[&str]) -> schema_core::MigrationGraph {
    let dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| repo_root().join("fixtures").join(d))
        .collect();
    schema_core::resolver::load_graph(&dirs).expect("fixture migrations load")
}

/// Asserts that the database has exactly `expected` (normalised for its dialect).
#[track_caller]
pub fn assert_schema(db: &TestDb, expected: &schema_core::Schema, context: &str) {
    let actual = db.introspect();
    let diff = schema::compare::differences(db.dialect(), expected, &actual);
    assert!(
        diff.is_empty(),
        "{context} on {:?}: the database differs from the expected schema:\n  {}\nexpected: {:#?}\nactual: {:#?}",
        db.dialect(),
        diff.join("\n  "),
        db.dialect().normalize(expected),
        db.dialect().normalize(&actual),
    );
    assert_eq!(
        db.dialect().normalize(expected),
        db.dialect().normalize(&actual),
        "{context}"
    );
}

/// A revision for the blog after 0007 whose first step works and whose second fails
/// (a table that does not exist): for failures halfway.
pub const HALF_GOOD_REVISION: &str = r#"revision = "0008"
down_revision = "0007"
message = "half good"

[[upgrade]]
op = "add_column"
table = "users"
column = { name = "nickname", type = "text", nullable = true }

[[upgrade]]
op = "execute"
sql = "UPDATE no_such_table SET x = 1"

[[downgrade]]
op = "drop_column"
table = "users"
column = { name = "nickname", type = "text", nullable = true }
"#;

/// A revision for the blog after 0007 that widens `users.karma` (a type change that takes
/// an ACCESS EXCLUSIVE lock on PostgreSQL).
pub const WIDER_KARMA_REVISION: &str = "revision = \"0008\"\ndown_revision = \"0007\"\nmessage = \"wider karma\"\n\n[[upgrade]]\nop = \"alter_column\"\ntable = \"users\"\ncolumn = \"karma\"\ntype = { from = \"integer\", to = \"bigint\" }\n\n[[downgrade]]\nop = \"alter_column\"\ntable = \"users\"\ncolumn = \"karma\"\ntype = { from = \"bigint\", to = \"integer\" }\n";
