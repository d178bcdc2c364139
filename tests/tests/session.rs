//! The runner over a SQL-text session (`schema::session`), which the sqlx and diesel
//! adapters implement: rusqlite's (`schema::sqlite::RusqliteSession`) and sessions written
//! here over tokio-postgres and mysql_async take the blog's whole history up with rows in the tables (a data step and a
//! SQLite table rebuild among it) and back down, on every dialect, read back from the
//! catalog. The adapters themselves are tested in `adapters/`.

use schema::runner::{Migrator, RunOptions};
use schema::session::{SessionBackend, SessionError, SqlSession};
use schema::sqlite::RusqliteSession;
use schema::Dialect;
use schema_core::replay::replay_revisions;
use schema_e2e::{
    assert_schema, fixture_graph, my_connect, pg_connect, runtime, Fixture, TestDb,
    HALF_GOOD_REVISION,
};

struct Postgres(tokio_postgres::Client);

impl SqlSession for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        self.0.batch_execute(sql).await.map_err(pg_error)
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SessionError> {
        let msgs = self.0.simple_query(sql).await.map_err(pg_error)?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect())
    }
}

fn pg_error(e: tokio_postgres::Error) -> SessionError {
    let code = e.code().map(|c| c.code().to_string());
    SessionError::new(code, schema::postgres::pg_message(&e))
}

struct Mysql(mysql_async::Conn);

impl SqlSession for Mysql {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    async fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        use mysql_async::prelude::Queryable;
        self.0
            .query_drop(sql)
            .await
            .map_err(|e| SessionError::new(None, schema::mysql::my_message(&e)))
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SessionError> {
        use mysql_async::prelude::Queryable;
        let rows: Vec<mysql_async::Row> = self
            .0
            .query(sql)
            .await
            .map_err(|e| SessionError::new(None, schema::mysql::my_message(&e)))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<Option<String>, _>(i).flatten())
                    .collect()
            })
            .collect())
    }
}

async fn drive<S: SqlSession>(
    m: &Migrator<'_>,
    session: S,
    target: &str,
    up: bool,
) -> Result<schema::RunReport, schema::RunError> {
    let mut backend = SessionBackend::new(session);
    if up {
        m.upgrade(&mut backend, target).await
    } else {
        m.downgrade(&mut backend, target).await
    }
}

/// Runs the migrator over a session on `db` to `target` (up, or down with `up` false).
fn migrate(db: &TestDb, graph: &schema_core::MigrationGraph, target: &str, up: bool) {
    if let Err(e) = try_migrate(db, graph, target, up) {
        panic!("{target} on {:?}: {e}", db.dialect());
    }
}

fn try_migrate(
    db: &TestDb,
    graph: &schema_core::MigrationGraph,
    target: &str,
    up: bool,
) -> Result<schema::RunReport, schema::RunError> {
    let m = Migrator::new(graph, RunOptions::default());
    match db {
        TestDb::Sqlite(p) => {
            let conn = rusqlite::Connection::open(p).expect("open");
            schema::embed::block_on(drive(&m, RusqliteSession(&conn), target, up))
        }
        TestDb::Postgres(u) => {
            let rt = runtime();
            let client = pg_connect(&rt, u);
            rt.block_on(drive(&m, Postgres(client), target, up))
        }
        TestDb::Mysql(u) => {
            let rt = runtime();
            let conn = my_connect(&rt, u);
            rt.block_on(drive(&m, Mysql(conn), target, up))
        }
    }
}

#[test]
fn the_blog_history_up_with_rows_and_back_down_through_a_session() {
    let graph = fixture_graph(&["blog/models/migrations"]);
    let mut head = schema_core::Schema::new();
    replay_revisions(&mut head, graph.ordered()).expect("replay");
    for db in TestDb::all("session") {
        migrate(&db, &graph, "0001", true);
        db.execute("INSERT INTO users (email, fullname) VALUES ('ann@example.com', 'Ann')");
        db.execute(
            "INSERT INTO posts (author_id, title, body) SELECT id, 'Hello World', 'first' FROM users",
        );
        migrate(&db, &graph, "heads", true);
        assert_schema(&db, &head, "the blog at head through a session");
        let history = db.rows("SELECT revision FROM _schema_history ORDER BY revision");
        assert_eq!(history.len(), graph.ordered().count(), "{history:?}");
        // The rows survived the rebuilds; the data step filled the slug.
        let slug = db.rows("SELECT slug FROM posts");
        assert_eq!(slug.len(), 1, "{:?}", db.dialect());
        assert!(slug[0][0].contains("hello"), "{:?}: {slug:?}", db.dialect());
        // At head, a second run has nothing to do.
        migrate(&db, &graph, "heads", true);
        migrate(&db, &graph, "base", false);
        let left: Vec<String> = db
            .introspect()
            .tables
            .into_keys()
            .filter(|t| !t.starts_with('_'))
            .collect();
        assert!(left.is_empty(), "{:?}: {left:?}", db.dialect());
        assert!(db.rows("SELECT revision FROM _schema_history").is_empty());
    }
}

/// A revision that fails halfway is rolled back whole (MariaDB: recorded as far as it
/// got), and the error names the statement that failed, through a session as through the
/// built-in backends.
#[test]
fn a_failing_revision_names_its_statement_and_leaves_the_database_before_it() {
    let f = Fixture::new("blog");
    f.write(
        "models/migrations/20251124_0008_half_good.toml",
        HALF_GOOD_REVISION,
    );
    let graph = schema_core::resolver::load_graph(&[f.path("models/migrations")]).expect("load");
    for db in TestDb::all("session_fail") {
        let e = try_migrate(&db, &graph, "heads", true).expect_err("0008 fails");
        let text = e.to_string();
        assert!(
            text.contains("UPDATE no_such_table"),
            "{:?}: {text}",
            db.dialect()
        );
        assert!(text.contains("0008"), "{:?}: {text}", db.dialect());
        let complete = db.rows("SELECT revision FROM _schema_history WHERE revision = '0007'");
        assert_eq!(complete.len(), 1, "{:?}", db.dialect());
        if db.dialect() != Dialect::Mysql {
            // Rolled back whole: no row for 0008, no new column.
            assert!(db
                .rows("SELECT revision FROM _schema_history WHERE revision = '0008'")
                .is_empty());
            let users = db.introspect().tables["users"].clone();
            assert!(users.column("nickname").is_none(), "{:?}", db.dialect());
        }
    }
}
