//! cargo-schema's migration runner on the sqlx pools and connections an application already
//! holds (PostgreSQL, SQLite and MySQL, by feature), with the runner's guarantees: the
//! migration lock, one transaction per revision with its history row, checksums.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! // In the application: build.rs runs `schema_build::Embed::new().run_or_exit()`.
//! # #[cfg(any())]
//! schema::include_migrations!();
//! # static MIGRATIONS: schema::EmbeddedMigrations = schema::EmbeddedMigrations::generated(&[], "");
//!
//! let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
//! let report = schema_sqlx::upgrade_pool(&pool, &MIGRATIONS).await?;
//! println!("applied {} revision(s)", report.revisions.len());
//! # Ok(())
//! # }
//! ```

use schema::runner::{RunError, RunOptions, RunReport};
use schema::session::{SessionBackend, SessionError, SqlSession, SESSION_COLUMNS};
use schema::{Dialect, EmbeddedMigrations};

/// A sqlx connection lent to the runner for one run.
pub struct SqlxSession<'c, C>(pub &'c mut C);

fn session_error(e: sqlx::Error) -> SessionError {
    match &e {
        sqlx::Error::Database(db) => {
            SessionError::new(db.code().map(|c| c.into_owned()), db.message())
        }
        _ => SessionError::new(None, e.to_string()),
    }
}

/// Every value as text: the runner's queries cast their columns to text, and `raw_sql`
/// uses the text protocol where the server has one.
macro_rules! sqlx_session {
    ($feature:literal, $conn:ty, $dialect:expr) => {
        #[cfg(feature = $feature)]
        impl SqlSession for SqlxSession<'_, $conn> {
            fn dialect(&self) -> Dialect {
                $dialect
            }

            async fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
                sqlx::raw_sql(sql)
                    .execute(&mut *self.0)
                    .await
                    .map(drop)
                    .map_err(session_error)
            }

            async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SessionError> {
                use sqlx::Row;
                let rows = sqlx::raw_sql(sql)
                    .fetch_all(&mut *self.0)
                    .await
                    .map_err(session_error)?;
                rows.iter()
                    .map(|r| {
                        (0..SESSION_COLUMNS.min(r.len()))
                            .map(|i| r.try_get_unchecked::<Option<String>, _>(i))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(session_error)
                    })
                    .collect()
            }
        }
    };
}

sqlx_session!("postgres", sqlx::PgConnection, Dialect::Postgres);
sqlx_session!("sqlite", sqlx::SqliteConnection, Dialect::Sqlite);
sqlx_session!("mysql", sqlx::MySqlConnection, Dialect::Mysql);

/// Applies every pending embedded revision on one connection.
pub async fn upgrade<C>(
    conn: &mut C,
    migrations: &EmbeddedMigrations,
) -> Result<RunReport, RunError>
where
    for<'c> SqlxSession<'c, C>: SqlSession,
{
    upgrade_with(conn, migrations, &RunOptions::default()).await
}

/// [`upgrade`] with options (lock timeout, what to do when the database is ahead, the
/// history table's PostgreSQL schema).
pub async fn upgrade_with<C>(
    conn: &mut C,
    migrations: &EmbeddedMigrations,
    options: &RunOptions,
) -> Result<RunReport, RunError>
where
    for<'c> SqlxSession<'c, C>: SqlSession,
{
    let mut db =
        SessionBackend::new(SqlxSession(conn)).with_history_schema(options.history_schema.clone());
    migrations.upgrade_with(&mut db, options).await
}

/// Applies every pending embedded revision on a connection taken from the pool for the
/// run (PostgreSQL's session lock, when a revision needs one, stays on it).
pub async fn upgrade_pool<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    migrations: &EmbeddedMigrations,
) -> Result<RunReport, RunError>
where
    for<'c> SqlxSession<'c, DB::Connection>: SqlSession,
{
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| RunError::Database(format!("cannot take a connection from the pool: {e}")))?;
    upgrade(&mut *conn, migrations).await
}
