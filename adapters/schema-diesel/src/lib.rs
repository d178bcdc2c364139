//! cargo-schema's migration runner on diesel connections (PostgreSQL and SQLite, by
//! feature): a blocking `upgrade`, as diesel is synchronous, with the runner's guarantees
//! (the migration lock, one transaction per revision with its history row, checksums).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # fn start() -> Result<(), Box<dyn std::error::Error>> {
//! use diesel::Connection;
//! # #[cfg(any())]
//! schema::include_migrations!(); // build.rs: schema_build::Embed::new().run_or_exit()
//! # static MIGRATIONS: schema::EmbeddedMigrations = schema::EmbeddedMigrations::generated(&[], "");
//!
//! let mut conn = diesel::SqliteConnection::establish("app.db")?;
//! let report = schema_diesel::upgrade(&mut conn, &MIGRATIONS)?;
//! println!("applied {} revision(s)", report.revisions.len());
//! # Ok(())
//! # }
//! ```

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::RunQueryDsl;
use schema::embed::block_on;
use schema::runner::{RunError, RunOptions, RunReport};
use schema::session::{SessionBackend, SessionError, SqlSession};
use schema::{Dialect, EmbeddedMigrations};

/// A diesel connection lent to the runner for one run.
pub struct DieselSession<'c, C>(pub &'c mut C);

/// One row of the runner's queries: five text columns (`SESSION_COLUMNS`).
#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Nullable<Text>)]
    c0: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
}

fn session_error(e: diesel::result::Error) -> SessionError {
    match &e {
        diesel::result::Error::DatabaseError(_, info) => {
            // diesel does not hand out the SQLSTATE; PostgreSQL's lock timeout is told by
            // its message, so the runner can retry the revision.
            let code = info
                .message()
                .contains("due to lock timeout")
                .then(|| "55P03".to_string());
            let mut message = info.message().to_string();
            if let Some(d) = info.details() {
                message.push_str(&format!("; {d}"));
            }
            SessionError::new(code, message)
        }
        _ => SessionError::new(None, e.to_string()),
    }
}

macro_rules! diesel_session {
    ($feature:literal, $conn:ty, $dialect:expr) => {
        #[cfg(feature = $feature)]
        impl SqlSession for DieselSession<'_, $conn> {
            fn dialect(&self) -> Dialect {
                $dialect
            }

            async fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
                self.0.batch_execute(sql).map_err(session_error)
            }

            async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SessionError> {
                let rows: Vec<TextRow> = diesel::sql_query(sql)
                    .load(&mut *self.0)
                    .map_err(session_error)?;
                Ok(rows
                    .into_iter()
                    .map(|r| vec![r.c0, r.c1, r.c2, r.c3, r.c4])
                    .collect())
            }
        }
    };
}

diesel_session!("postgres", diesel::PgConnection, Dialect::Postgres);
diesel_session!("sqlite", diesel::SqliteConnection, Dialect::Sqlite);

/// Applies every pending embedded revision; blocks until done.
pub fn upgrade<C>(conn: &mut C, migrations: &EmbeddedMigrations) -> Result<RunReport, RunError>
where
    for<'c> DieselSession<'c, C>: SqlSession,
{
    upgrade_with(conn, migrations, &RunOptions::default())
}

/// [`upgrade`] with options (lock timeout, what to do when the database is ahead, the
/// history table's PostgreSQL schema).
pub fn upgrade_with<C>(
    conn: &mut C,
    migrations: &EmbeddedMigrations,
    options: &RunOptions,
) -> Result<RunReport, RunError>
where
    for<'c> DieselSession<'c, C>: SqlSession,
{
    let mut db = SessionBackend::new(DieselSession(conn))
        .with_history_schema(options.history_schema.clone());
    // Nothing underneath waits on a runtime: diesel's calls block.
    block_on(migrations.upgrade_with(&mut db, options))
}
