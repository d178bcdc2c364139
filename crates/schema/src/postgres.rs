//! The PostgreSQL backend (tokio-postgres): history, a transaction-level advisory lock
//! (works behind a transaction-pooling proxy) with a lock timeout, and introspection.

use std::collections::BTreeSet;

use schema_core::dialect::{quote, Dialect, Step, VIEWS_TABLE};
use schema_core::model::{
    CheckDef, ColumnDef, ForeignKeyDef, IndexDef, PrimaryKeyDef, ReferentialAction, UniqueDef,
};
use schema_core::{Schema, SqlType, TableDef};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Socket};

use crate::runner::{
    AppliedRevision, Backend, PlannedRevision, Progress, Recorded, RunError, RunOptions,
    StatementError, HISTORY_TABLE,
};

/// The advisory lock key: "schema" in ASCII, so it is recognisable in pg_locks.
pub const LOCK_KEY: i64 = schema_core::dialect::POSTGRES_LOCK_KEY;

/// What a PostgreSQL-compatible engine offers the runner (docs/distributed-engines.md):
/// without transactional DDL a revision runs operation by operation with its progress
/// recorded, as on MariaDB; without advisory locks the migration lock is a row of
/// `_schema_lock` with an expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgCapabilities {
    pub transactional_ddl: bool,
    pub advisory_locks: bool,
}

impl PgCapabilities {
    /// PostgreSQL itself, and Citus through its coordinator.
    pub const POSTGRES: PgCapabilities = PgCapabilities {
        transactional_ddl: true,
        advisory_locks: true,
    };
    /// CockroachDB, and YugabyteDB as deployed by default: DDL commits statement by
    /// statement, and there are no advisory locks.
    pub const DISTRIBUTED: PgCapabilities = PgCapabilities {
        transactional_ddl: false,
        advisory_locks: false,
    };

    /// The profile of an engine by name (`postgres`, `citus`, `cockroachdb`, `yugabytedb`).
    pub fn for_engine(name: &str) -> Option<PgCapabilities> {
        match name {
            "postgres" | "postgresql" | "citus" => Some(PgCapabilities::POSTGRES),
            "cockroachdb" | "yugabytedb" => Some(PgCapabilities::DISTRIBUTED),
            _ => None,
        }
    }
}

/// The table holding the migration lock where there are no advisory locks.
pub const LOCK_TABLE: &str = "_schema_lock";

/// Opens a second connection (with the same TLS as the first), for the run lock.
type LockConnector = Box<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Client, tokio_postgres::Error>> + Send>,
        > + Send
        + Sync,
>;

pub struct PostgresBackend<'c> {
    client: &'c Client,
    /// Where a second connection for the run lock comes from (none: each revision's
    /// transaction takes the lock itself).
    lock_connector: Option<LockConnector>,
    /// The second connection, holding the run lock in an open transaction.
    lock_client: Option<Client>,
    /// Whether this connection holds the lock at session level (taken for a revision
    /// that runs in parts when there is no second connection).
    session_locked: bool,
    caps: PgCapabilities,
    /// The token of the lock row this run holds (engines without advisory locks), and
    /// how far each write pushes its expiry.
    lock_row: Option<(String, std::time::Duration)>,
    /// The connection settings, for `pg_dump` (none: backups are refused).
    config: Option<tokio_postgres::Config>,
    /// The PostgreSQL schema of the history table (none: the connection's own).
    history_schema: Option<String>,
}

impl<'c> PostgresBackend<'c> {
    pub fn new(client: &'c Client) -> PostgresBackend<'c> {
        PostgresBackend {
            client,
            lock_connector: None,
            lock_client: None,
            session_locked: false,
            caps: PgCapabilities::POSTGRES,
            lock_row: None,
            config: None,
            history_schema: None,
        }
    }

    /// Keeps the history table in PostgreSQL schema `schema` (created when missing)
    /// rather than the connection's own (none: there).
    pub fn with_history_schema(mut self, schema: Option<String>) -> PostgresBackend<'c> {
        self.history_schema = schema;
        self
    }

    /// The history table as statements name it.
    fn history(&self) -> String {
        Dialect::Postgres.history_ref(self.history_schema.as_deref())
    }

    /// A backend that holds the migration lock for a whole run on a second connection
    /// made from `config` with `tls` (the first connection's): a transaction-level advisory lock in a transaction left open
    /// for the run, so it also holds behind a transaction-pooling proxy.
    pub fn with_run_lock<T>(
        client: &'c Client,
        config: tokio_postgres::Config,
        tls: T,
    ) -> PostgresBackend<'c>
    where
        T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let lock_config = config.clone();
        let connector: LockConnector = Box::new(move || {
            let (config, tls) = (lock_config.clone(), tls.clone());
            Box::pin(async move {
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(client)
            })
        });
        PostgresBackend {
            lock_connector: Some(connector),
            config: Some(config),
            ..PostgresBackend::new(client)
        }
    }

    /// For an engine that lacks what PostgreSQL offers (see [`PgCapabilities`]).
    pub fn with_capabilities(mut self, caps: PgCapabilities) -> PostgresBackend<'c> {
        self.caps = caps;
        self
    }

    /// Takes the lock row: succeeds when there is none or its holder let it expire;
    /// retried until the lock timeout.
    async fn take_lock_row(&mut self, options: &RunOptions) -> Result<(), RunError> {
        let t = quote(LOCK_TABLE);
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {t} (id integer PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)"
        );
        match self.client.batch_execute(&create).await {
            Ok(()) => {}
            // Two first runs at once: IF NOT EXISTS does not stop the second from racing
            // the first on the catalog; the table is there either way.
            Err(e)
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    || e.code() == Some(&SqlState::DUPLICATE_TABLE) => {}
            Err(e) => return Err(db_err(e)),
        }
        let token = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let expiry = options.lock_expiry.as_millis().max(1);
        let take = format!(
            "INSERT INTO {t} (id, holder, expires_at) VALUES (1, {tok}, now() + interval '{expiry} milliseconds') \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE {t}.expires_at < now() RETURNING holder",
            tok = literal(&token)
        );
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_secs(options.lock_timeout_secs);
        loop {
            let msgs = self.client.simple_query(&take).await.map_err(db_err)?;
            if msgs
                .iter()
                .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
            {
                self.lock_row = Some((token, options.lock_expiry));
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(RunError::LockTimeout(format!(
                    "the lock row in {LOCK_TABLE} is held by another run until it expires"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Pushes the lock row's expiry forward; fails when this run no longer holds it (it
    /// expired and another run took it), so nothing more is recorded over that run.
    async fn renew_lock_row(&self) -> Result<(), RunError> {
        let Some((token, expiry)) = &self.lock_row else {
            return Ok(());
        };
        let sql = format!(
            "UPDATE {} SET expires_at = now() + interval '{} milliseconds' WHERE id = 1 AND holder = {}",
            quote(LOCK_TABLE),
            expiry.as_millis().max(1),
            literal(token)
        );
        let msgs = self.client.simple_query(&sql).await.map_err(db_err)?;
        let renewed = msgs
            .iter()
            .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(n) if *n > 0));
        if renewed {
            Ok(())
        } else {
            Err(RunError::HistoryMoved(format!(
                "the migration lock (a row of {LOCK_TABLE}) expired during this run and another run took it; raise the lock expiry above the longest operation"
            )))
        }
    }

    /// The statement that takes the lock inside a revision's transaction; none while the
    /// run lock is held (the run's own lock connection would block it).
    fn revision_lock(&self) -> String {
        if self.lock_client.is_some()
            || self.session_locked
            || self.lock_row.is_some()
            || !self.caps.advisory_locks
        {
            String::new()
        } else {
            format!(" SELECT pg_advisory_xact_lock({LOCK_KEY});")
        }
    }

    /// Whether an index of that name exists, and if so whether it is valid.
    async fn index_validity(&self, index: &str) -> Result<Option<bool>, tokio_postgres::Error> {
        let sql = format!(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass({})",
            literal(&quote(index))
        );
        let msgs = self.client.simple_query(&sql).await?;
        Ok(msgs.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|v| v == "t"),
            _ => None,
        }))
    }

    async fn drop_index(&self, index: &str) -> Result<(), tokio_postgres::Error> {
        self.client
            .batch_execute(&format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                quote(index)
            ))
            .await
    }

    /// Sends revisions' statements and history changes in one round trip (and the
    /// COMMIT, when asked). A failing statement, and its revision's index, are named when
    /// the server gives the error's position in the batch.
    async fn send(
        &self,
        groups: &[(&[Step], String)],
        commit: bool,
    ) -> Result<(), (usize, StatementError)> {
        let mut batch = String::new();
        let mut starts: Vec<(usize, usize, &str)> = Vec::new();
        let mut chars = 0;
        for (g, (statements, history)) in groups.iter().enumerate() {
            // Only SQLite's rebuild produces steps other than SQL.
            for s in statements
                .iter()
                .filter_map(Step::as_sql)
                .chain(std::iter::once(history.as_str()))
            {
                starts.push((chars, g, s));
                batch.push_str(s);
                batch.push_str(";\n");
                chars += s.chars().count() + 2;
            }
        }
        if commit {
            batch.push_str("COMMIT");
        }
        self.client.batch_execute(&batch).await.map_err(|e| {
            let position = e.as_db_error().and_then(|d| match d.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
                _ => None,
            });
            let at = position.and_then(|p| starts.iter().rev().find(|(start, _, _)| *start < p));
            (
                at.map(|(_, g, _)| *g).unwrap_or(0),
                StatementError {
                    statement: at.map(|(_, _, s)| s.to_string()),
                    message: pg_message(&e),
                },
            )
        })
    }
}

/// The database's message with its code and detail, not tokio-postgres's wrapper text.
pub fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            s
        }
        None => e.to_string(),
    }
}

fn db_err(e: tokio_postgres::Error) -> RunError {
    if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
        return RunError::LockTimeout(pg_message(&e));
    }
    RunError::Database(pg_message(&e))
}

/// The query for which of `ids` the history records (ids are `[A-Za-z0-9_]`, and quoted
/// as literals all the same).
fn recorded_sql(h: &str, ids: &[&str]) -> String {
    format!(
        "SELECT revision AS recorded FROM {h} WHERE revision = ANY(ARRAY[{}]::text[]) AND progress IS NULL",
        ids.iter()
            .map(|i| literal(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The ids in the rows of [`recorded_sql`] (the lock query's row is told apart by its
/// column name).
fn history_rows(msgs: &[tokio_postgres::SimpleQueryMessage]) -> BTreeSet<String> {
    msgs.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r)
                if r.columns().first().is_some_and(|c| c.name() == "recorded") =>
            {
                r.get(0).map(str::to_string)
            }
            _ => None,
        })
        .collect()
}

/// A string literal that reads the same whatever `standard_conforming_strings` says:
/// quotes doubled, and a value with a backslash written as an escape string.
fn literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

impl Backend for PostgresBackend<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn transactional_ddl(&self) -> bool {
        self.caps.transactional_ddl
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        let h = self.history();
        let rows = |msgs: Vec<tokio_postgres::SimpleQueryMessage>| -> Vec<AppliedRevision> {
            msgs.into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(AppliedRevision {
                        progress: Progress::from_column(r.get(4)),
                        ..AppliedRevision::complete(
                            r.get(0).unwrap_or_default().to_string(),
                            r.get(1).unwrap_or_default().to_string(),
                            r.get(2).map(str::to_string),
                            r.get(3).map(|b| b == "t"),
                        )
                    }),
                    _ => None,
                })
                .collect()
        };
        let sql =
            format!("SELECT revision, checksum, content_checksum, breaking, progress FROM {h}");
        match self.client.simple_query(&sql).await {
            Ok(msgs) => Ok(rows(msgs)),
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(vec![]),
            // A table an earlier release made lacks the newer columns (added at the next
            // upgrade): progress (the previous release), then content checksums too.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_COLUMN) => {
                let older =
                    format!("SELECT revision, checksum, content_checksum, breaking, NULL FROM {h}");
                match self.client.simple_query(&older).await {
                    Ok(msgs) => Ok(rows(msgs)),
                    Err(e) if e.code() == Some(&SqlState::UNDEFINED_COLUMN) => {
                        let oldest =
                            format!("SELECT revision, checksum, NULL, NULL, NULL FROM {h}");
                        self.client
                            .simple_query(&oldest)
                            .await
                            .map(rows)
                            .map_err(db_err)
                    }
                    Err(e) => Err(db_err(e)),
                }
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn ensure_history(&mut self, options: &RunOptions) -> Result<(), RunError> {
        // Under the lock, so that concurrent first runs do not race on CREATE TABLE.
        self.begin_locked(options).await?;
        let sql = format!(
            "{}; {}",
            Dialect::Postgres.history_table_sql(self.history_schema.as_deref()),
            Dialect::Postgres
                .history_upgrade_sql(self.history_schema.as_deref())
                .unwrap_or_default()
        );
        if let Err(e) = self.client.batch_execute(&sql).await {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return Err(db_err(e));
        }
        self.commit().await
    }

    async fn begin_locked(&mut self, options: &RunOptions) -> Result<(), RunError> {
        let sql = format!(
            "BEGIN; SET LOCAL lock_timeout = '{}s';{} SET LOCAL lock_timeout = '{}ms';",
            options.lock_timeout_secs,
            self.revision_lock(),
            options.ddl_lock_timeout.as_millis().max(1)
        );
        if let Err(e) = self.client.batch_execute(&sql).await {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return Err(db_err(e));
        }
        Ok(())
    }

    async fn recorded_among(&mut self, ids: &[&str]) -> Result<BTreeSet<String>, RunError> {
        let msgs = self
            .client
            .simple_query(&recorded_sql(&self.history(), ids))
            .await
            .map_err(db_err)?;
        Ok(history_rows(&msgs))
    }

    async fn run(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        self.send(
            &[(statements, history_sql(&self.history(), revision, record))],
            false,
        )
        .await
        .map_err(|(_, e)| e)
    }

    async fn run_revisions(
        &mut self,
        revisions: &[PlannedRevision<'_>],
    ) -> Result<(), (usize, StatementError)> {
        let h = self.history();
        let groups: Vec<(&[Step], String)> = revisions
            .iter()
            .map(|r| (r.statements, history_sql(&h, r.id, Some(r.record))))
            .collect();
        self.send(&groups, false).await
    }

    async fn lock_run(&mut self, options: &RunOptions) -> Result<(), RunError> {
        if !self.caps.advisory_locks {
            if self.lock_row.is_none() {
                self.take_lock_row(options).await?;
            }
            return Ok(());
        }
        let Some(connect) = &self.lock_connector else {
            return Ok(());
        };
        if self.lock_client.is_some() {
            return Ok(());
        }
        let client = connect().await.map_err(db_err)?;
        let sql = format!(
            "BEGIN; SET LOCAL lock_timeout = '{}s'; SELECT pg_advisory_xact_lock({LOCK_KEY})",
            options.lock_timeout_secs
        );
        client.batch_execute(&sql).await.map_err(db_err)?;
        self.lock_client = Some(client);
        Ok(())
    }

    fn connection_lost(&self) -> bool {
        self.client.is_closed()
    }

    async fn unlock_run(&mut self) -> Result<(), RunError> {
        if let Some(lock) = self.lock_client.take() {
            // Ending the transaction releases the lock; so would dropping the connection.
            lock.batch_execute("ROLLBACK").await.map_err(db_err)?;
        }
        if let Some((token, _)) = self.lock_row.take() {
            self.client
                .batch_execute(&format!(
                    "DELETE FROM {} WHERE holder = {}",
                    quote(LOCK_TABLE),
                    literal(&token)
                ))
                .await
                .map_err(db_err)?;
        }
        if std::mem::take(&mut self.session_locked) {
            self.client
                .batch_execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn hold_lock(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.lock_run(options).await?;
        if self.lock_client.is_some() || self.session_locked || self.lock_row.is_some() {
            return Ok(());
        }
        // No second connection: a session-level lock on this one (a transaction-pooling
        // proxy would not keep it; the CLI and `upgrade_with` use a second connection).
        let sql = format!(
            "SET lock_timeout = '{}s'; SELECT pg_advisory_lock({LOCK_KEY}); RESET lock_timeout",
            options.lock_timeout_secs
        );
        self.client.batch_execute(&sql).await.map_err(db_err)?;
        self.session_locked = true;
        Ok(())
    }

    async fn apply_part(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Recorded<'_>,
        progress: Progress,
        options: &RunOptions,
    ) -> Result<(), StatementError> {
        let as_error = |e: RunError| StatementError {
            statement: None,
            message: e.to_string(),
        };
        self.begin_locked(options).await.map_err(as_error)?;
        let history = progress_sql(&self.history(), revision, record, Some(progress));
        match self.send(&[(statements, history)], true).await {
            Ok(()) => Ok(()),
            Err((_, e)) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    /// Outside any transaction: a detached step alone, and without the DDL lock timeout
    /// (a concurrent build waits for older transactions, and the locks it and a
    /// validation take do not block reads or writes); anything else in a transaction of
    /// its own.
    async fn run_steps(&mut self, steps: &[Step]) -> Result<(), StatementError> {
        let fail = |s: &str, e: tokio_postgres::Error| StatementError {
            statement: Some(s.to_string()),
            message: pg_message(&e),
        };
        let plain: Vec<&str> = steps
            .iter()
            .filter(|s| !s.is_detached())
            .filter_map(Step::as_sql)
            .collect();
        if !self.caps.transactional_ddl {
            // Each statement commits by itself, as the engine does with DDL anyway.
            for s in &plain {
                self.client.batch_execute(s).await.map_err(|e| fail(s, e))?;
            }
        } else if !plain.is_empty() {
            self.client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| fail("BEGIN", e))?;
            for s in &plain {
                if let Err(e) = self.client.batch_execute(s).await {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    return Err(fail(s, e));
                }
            }
            self.client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| fail("COMMIT", e))?;
        }
        for step in steps {
            let Step::Detached {
                sql, builds_index, ..
            } = step
            else {
                continue;
            };
            if let Some(index) = builds_index {
                match self.index_validity(index).await.map_err(|e| fail(sql, e))? {
                    // Built before a crash that kept it from being recorded.
                    Some(true) => continue,
                    // Left INVALID by a build that failed or was killed.
                    Some(false) => self.drop_index(index).await.map_err(|e| fail(sql, e))?,
                    None => {}
                }
            }
            let _ = self.client.batch_execute("SET lock_timeout = 0").await;
            let result = self.client.batch_execute(sql).await;
            let _ = self.client.batch_execute("RESET lock_timeout").await;
            if let Err(e) = result {
                if let Some(index) = builds_index {
                    // What the failed build left behind would block the next attempt.
                    let _ = self.drop_index(index).await;
                }
                return Err(fail(sql, e));
            }
        }
        Ok(())
    }

    async fn record_progress(
        &mut self,
        revision: &str,
        record: Recorded<'_>,
        progress: Option<Progress>,
    ) -> Result<(), RunError> {
        self.renew_lock_row().await?;
        self.client
            .batch_execute(&progress_sql(&self.history(), revision, record, progress))
            .await
            .map_err(db_err)
    }

    async fn commit(&mut self) -> Result<(), RunError> {
        self.client.batch_execute("COMMIT").await.map_err(db_err)
    }

    async fn history_digest(&mut self) -> Result<Option<String>, RunError> {
        let Some(sql) = Dialect::Postgres.history_digest_sql(&self.history()) else {
            return Ok(None);
        };
        match self.client.simple_query(&sql).await {
            Ok(msgs) => Ok(msgs.iter().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })),
            // No history yet, or one an earlier release made (no progress column).
            Err(e)
                if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                    || e.code() == Some(&SqlState::UNDEFINED_COLUMN) =>
            {
                Ok(None)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn flush(&mut self) -> Result<(), RunError> {
        // A synchronous commit that writes waits for the WAL up to its own record, which
        // covers every earlier asynchronous commit.
        let sql = Dialect::Postgres
            .history_flush_sql(&self.history())
            .unwrap_or_default();
        self.client.batch_execute(&sql).await.map_err(db_err)
    }

    async fn begin_revision(
        &mut self,
        ids: &[&str],
        durable: bool,
        options: &RunOptions,
    ) -> Result<BTreeSet<String>, RunError> {
        // One round trip: begin, lock, and ask which of `ids` are recorded.
        let sql = format!(
            "BEGIN; SET LOCAL lock_timeout = '{}s';{}{} SET LOCAL lock_timeout = '{}ms'; {}",
            options.lock_timeout_secs,
            if durable {
                ""
            } else {
                " SET LOCAL synchronous_commit = off;"
            },
            self.revision_lock(),
            options.ddl_lock_timeout.as_millis().max(1),
            recorded_sql(&self.history(), ids)
        );
        match self.client.simple_query(&sql).await {
            Ok(msgs) => Ok(history_rows(&msgs)),
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(db_err(e))
            }
        }
    }

    async fn apply_revision(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        let history = history_sql(&self.history(), revision, record);
        let Err((_, first)) = self.send(&[(statements, history.clone())], true).await else {
            return Ok(());
        };
        let _ = self.client.batch_execute("ROLLBACK").await;
        // A lock timeout is retried as a whole; replaying without the timeout would wait.
        if first.statement.is_some() || first.is_lock_timeout() {
            return Err(first);
        }
        // Find the statement that failed: replay one at a time in a transaction that is
        // rolled back (the happy path above costs one round trip).
        let mut failing = first;
        if self.client.batch_execute("BEGIN").await.is_ok() {
            for s in statements
                .iter()
                .filter_map(Step::as_sql)
                .chain(std::iter::once(history.as_str()))
            {
                if let Err(e) = self.client.batch_execute(s).await {
                    failing = StatementError {
                        statement: Some(s.to_string()),
                        message: pg_message(&e),
                    };
                    break;
                }
            }
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
        Err(failing)
    }

    async fn rollback(&mut self) -> Result<(), RunError> {
        self.client.batch_execute("ROLLBACK").await.map_err(db_err)
    }

    async fn introspect(&mut self) -> Result<Schema, RunError> {
        introspect(self.client).await
    }

    async fn rehearse_steps(
        &mut self,
        steps: &[Step],
    ) -> Result<crate::runner::RehearsedStep, StatementError> {
        let locks_sql = "SELECT c.relname::text || ' ' || l.mode FROM pg_locks l \
                         JOIN pg_class c ON c.oid = l.relation \
                         WHERE l.pid = pg_backend_pid() AND l.granted \
                         AND c.relnamespace = current_schema()::regnamespace";
        let held = |msgs: Vec<tokio_postgres::SimpleQueryMessage>| -> BTreeSet<String> {
            msgs.into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .collect()
        };
        let fail = |sql: &str, e: tokio_postgres::Error| StatementError {
            statement: Some(sql.to_string()),
            message: pg_message(&e),
        };
        let before = held(
            self.client
                .simple_query(locks_sql)
                .await
                .map_err(|e| fail(locks_sql, e))?,
        );
        let started = std::time::Instant::now();
        let mut rows = 0;
        let mut statements = Vec::new();
        for sql in steps.iter().filter_map(Step::as_sql) {
            let msgs = self
                .client
                .simple_query(sql)
                .await
                .map_err(|e| fail(sql, e))?;
            rows += msgs
                .iter()
                .map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::CommandComplete(n) => *n,
                    _ => 0,
                })
                .sum::<u64>();
            statements.push(sql.to_string());
        }
        let elapsed = started.elapsed();
        let after = held(
            self.client
                .simple_query(locks_sql)
                .await
                .map_err(|e| fail(locks_sql, e))?,
        );
        Ok(crate::runner::RehearsedStep {
            statements,
            elapsed,
            rows: Some(rows),
            locks: after
                .difference(&before)
                .filter_map(|l| l.rsplit_once(' '))
                .map(|(rel, mode)| (rel.to_string(), mode.to_string()))
                .collect(),
        })
    }

    async fn backup(&mut self, path: &std::path::Path) -> Result<(), RunError> {
        let Some(config) = &self.config else {
            return Err(RunError::Backup(
                "pg_dump needs the connection settings: build the backend with PostgresBackend::with_run_lock".into(),
            ));
        };
        if path.exists() {
            return Err(RunError::Backup(format!(
                "{} exists already; give a new file",
                path.display()
            )));
        }
        let server: u32 = self
            .client
            .simple_query("SHOW server_version_num")
            .await
            .map_err(db_err)?
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
                _ => None,
            })
            .unwrap_or(0);
        let server_major = server / 10000;
        let version = std::process::Command::new("pg_dump")
            .arg("--version")
            .output()
            .map_err(|e| {
                RunError::Backup(format!(
                    "pg_dump is not on PATH ({e}); install the PostgreSQL {server_major} client tools"
                ))
            })?;
        let text = String::from_utf8_lossy(&version.stdout).to_string();
        let dump_major: u32 = text
            .split(')')
            .nth(1)
            .and_then(|v| v.trim().split(['.', ' ']).next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if dump_major < server_major {
            return Err(RunError::Backup(format!(
                "pg_dump {dump_major} is older than the server ({server_major}) and cannot dump it; put pg_dump {server_major} or newer first on PATH"
            )));
        }
        let mut cmd = std::process::Command::new("pg_dump");
        cmd.args(["-Fc", "--no-password", "-f"]).arg(path);
        // A unix socket first when there is one (a `?host=/dir` beside the URL's host):
        // libpq stops at the first host whose authentication fails.
        let hosts = config.get_hosts();
        let host = hosts
            .iter()
            .find(|h| matches!(h, tokio_postgres::config::Host::Unix(_)))
            .or_else(|| hosts.first());
        if let Some(h) = host {
            match h {
                tokio_postgres::config::Host::Tcp(name) => cmd.arg("-h").arg(name),
                tokio_postgres::config::Host::Unix(dir) => cmd.arg("-h").arg(dir),
            };
        }
        if let Some(port) = config.get_ports().first() {
            cmd.arg("-p").arg(port.to_string());
        }
        if let Some(user) = config.get_user() {
            cmd.arg("-U").arg(user);
        }
        if let Some(db) = config.get_dbname() {
            cmd.arg("-d").arg(db);
        }
        if let Some(pw) = config.get_password() {
            cmd.env("PGPASSWORD", String::from_utf8_lossy(pw).to_string());
        }
        let out = cmd
            .output()
            .map_err(|e| RunError::Backup(format!("pg_dump: {e}")))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(path);
            return Err(RunError::Backup(format!(
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    async fn execute_all(&mut self, statements: &[String]) -> Result<(), RunError> {
        self.client.batch_execute("BEGIN").await.map_err(db_err)?;
        for sql in statements {
            if let Err(e) = self.client.batch_execute(sql).await {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(RunError::Database(format!(
                    "{} (statement: {sql})",
                    pg_message(&e)
                )));
            }
        }
        self.commit().await
    }
}

/// How far a revision that runs in parts got (`None`: forget it).
fn progress_sql(
    h: &str,
    revision: &str,
    record: Recorded<'_>,
    progress: Option<Progress>,
) -> String {
    match progress {
        None => history_sql(h, revision, None),
        Some(p) => Dialect::Postgres.history_progress_sql(
            h,
            revision,
            (record.checksum, record.content, record.breaking),
            p.to_column().as_deref(),
        ),
    }
}

/// The history change of a revision: record it (with its checksum) or forget it.
/// Execution time is measured by the server, from the transaction's start.
fn history_sql(h: &str, revision: &str, record: Option<Recorded<'_>>) -> String {
    match record {
        Some(rec) => format!(
            "INSERT INTO {h} (revision, checksum, execution_ms, content_checksum, breaking) VALUES ({}, {}, \
             (extract(epoch from clock_timestamp() - now()) * 1000)::bigint, {}, {})",
            literal(revision),
            literal(rec.checksum),
            literal(rec.content),
            rec.breaking
        ),
        None => format!("DELETE FROM {h} WHERE revision = {}", literal(revision)),
    }
}

fn action(code: &str) -> ReferentialAction {
    match code {
        "r" => ReferentialAction::Restrict,
        "c" => ReferentialAction::Cascade,
        "n" => ReferentialAction::SetNull,
        "d" => ReferentialAction::SetDefault,
        _ => ReferentialAction::NoAction,
    }
}

/// Reads the tables of the current schema (not the history table). `query_typed` sends
/// each query as an unnamed statement: no named prepared statement, which a
/// transaction-pooling proxy could route to another server connection.
pub async fn introspect(client: &Client) -> Result<Schema, RunError> {
    let mut schema = Schema::new();
    let enums = client
        .query_typed(
            "SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             JOIN pg_enum e ON e.enumtypid = t.oid \
             WHERE n.nspname = current_schema() GROUP BY t.typname",
            &[],
        )
        .await
        .map_err(db_err)?;
    for row in enums {
        let name: String = row.get(0);
        schema.enums.insert(
            name.clone(),
            schema_core::EnumDef {
                name,
                values: row.get(1),
                renamed_values: vec![],
            },
        );
    }
    let cols = client
        .query_typed(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, \
                    col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class'), \
                    a.attgenerated::text, ty.typtype::text, ty.typname::text, \
                    CASE WHEN a.attcollation <> ty.typcollation THEN co.collname::text END, \
                    CASE WHEN n.nspname <> current_schema() THEN n.nspname::text END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_type ty ON ty.oid = a.atttypid \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
             WHERE (n.nspname = current_schema() OR n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema') \
               AND c.relkind = 'r' AND c.relname NOT IN ($1, $2) \
             ORDER BY c.relname, a.attnum",
            &[(&HISTORY_TABLE, Type::TEXT), (&LOCK_TABLE, Type::TEXT)],
        )
        .await
        .map_err(db_err)?;
    for row in cols {
        let table: String = row.get(0);
        let t = schema
            .tables
            .entry(table.clone())
            .or_insert_with(|| TableDef {
                name: table,
                schema: row.get(12),
                ..Default::default()
            });
        let identity: String = row.get(5);
        let type_name: String = row.get(10);
        let ty = match (
            row.get::<_, String>(9).as_str(),
            schema.enums.get(&type_name),
        ) {
            ("e", Some(e)) => SqlType::Enum {
                name: type_name,
                values: e.values.clone(),
            },
            _ => SqlType::parse(&row.get::<_, String>(2), None),
        };
        let mut c = ColumnDef::new(row.get::<_, String>(1), ty);
        c.collation = row
            .get::<_, Option<String>>(11)
            .map(schema_core::Collation::All);
        c.nullable = !row.get::<_, bool>(3);
        c.default = row.get(4);
        c.auto_increment = !identity.is_empty();
        // A serial column (what other tools' migrations often make): numbered by the
        // sequence its default draws from, as an identity column is.
        if c.default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("))
        {
            c.auto_increment = true;
            c.default = None;
        }
        c.comment = row.get(6);
        t.comment = row.get(7);
        // A generated column's expression is kept where defaults are.
        if row.get::<_, String>(8) == "s" {
            c.generated = c
                .default
                .take()
                .map(|expr| schema_core::Generated { expr, stored: true });
        }
        t.columns.push(c);
    }
    let cons = client
        .query_typed(
            "SELECT c.relname::text, con.conname::text, con.contype::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, ord) \
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.ord), \
                    coalesce(fc.relname::text, ''), \
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, ord) \
                          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.ord), \
                    con.confdeltype::text, con.confupdtype::text, pg_get_constraintdef(con.oid) \
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
             WHERE (n.nspname = current_schema() OR n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema') \
               AND con.contype IN ('p', 'u', 'f', 'c') AND c.relname NOT IN ($1, $2) \
             ORDER BY c.relname, con.conname",
            &[(&HISTORY_TABLE, Type::TEXT), (&LOCK_TABLE, Type::TEXT)],
        )
        .await
        .map_err(db_err)?;
    for row in cons {
        let Some(t) = schema.tables.get_mut(&row.get::<_, String>(0)) else {
            continue;
        };
        let name: String = row.get(1);
        let columns: Vec<String> = row.get(3);
        match row.get::<_, String>(2).as_str() {
            "p" => t.primary_key = Some(PrimaryKeyDef { name, columns }),
            "u" => t.uniques.push(UniqueDef { name, columns }),
            "f" => t.foreign_keys.push(ForeignKeyDef {
                name,
                columns,
                ref_table: row.get(4),
                ref_columns: row.get(5),
                on_delete: action(&row.get::<_, String>(6)),
                on_update: action(&row.get::<_, String>(7)),
            }),
            _ => {
                let def: String = row.get(8);
                let expr = def.strip_prefix("CHECK ").unwrap_or(&def).to_string();
                t.checks.push(CheckDef { name, expr });
            }
        }
    }
    let idx = client
        .query_typed(
            "SELECT t.relname::text, i.relname::text, ix.indisunique, \
                    ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, ord) \
                          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n \
                          WHERE k.ord <= ix.indnkeyatts ORDER BY k.ord), \
                    ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, ord) \
                          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n \
                          WHERE k.ord > ix.indnkeyatts ORDER BY k.ord), \
                    pg_get_expr(ix.indpred, ix.indrelid), am.amname::text, \
                    ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k.ord::int, true) \
                          FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, ord) \
                          WHERE k.n = 0 AND k.ord <= ix.indnkeyatts ORDER BY k.ord) \
             FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_am am ON am.oid = i.relam \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE (n.nspname = current_schema() OR n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema') \
               AND t.relname NOT IN ($1, $2) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid) \
             ORDER BY t.relname, i.relname",
            &[(&HISTORY_TABLE, Type::TEXT), (&LOCK_TABLE, Type::TEXT)],
        )
        .await
        .map_err(db_err)?;
    for row in idx {
        let Some(t) = schema.tables.get_mut(&row.get::<_, String>(0)) else {
            continue;
        };
        let method: String = row.get(6);
        t.indexes.push(IndexDef {
            name: row.get(1),
            unique: row.get(2),
            columns: row.get(3),
            include: row.get(4),
            predicate: row.get(5),
            using: (method != "btree").then_some(method),
            concurrently: false,
            expressions: row.get(7),
        });
    }
    let recorded = schema.tables.remove(VIEWS_TABLE).is_some();
    let schemas = client
        .query_typed(
            "SELECT nspname::text FROM pg_namespace ns \
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' \
               AND nspname <> current_schema() \
               AND NOT (EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = ns.oid AND c.relname = $1) \
                    AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = ns.oid \
                                    AND c.relname NOT IN ($1, $2, $3)))",
            // A schema holding only the history table is where it was placed.
            &[
                (&HISTORY_TABLE, Type::TEXT),
                (&format!("{HISTORY_TABLE}_pkey").as_str(), Type::TEXT),
                (&LOCK_TABLE, Type::TEXT),
            ],
        )
        .await
        .map_err(db_err)?;
    // The catalog always has `public`; it counts only where tables live in it.
    schema.schemas = schemas
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|n| {
            n != "public"
                || schema
                    .tables
                    .values()
                    .any(|t| t.schema.as_deref() == Some(n))
        })
        .collect();
    let views = client
        .query_typed(
            "SELECT c.relname::text, c.relkind = 'm' FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm')",
            &[],
        )
        .await
        .map_err(db_err)?;
    let mut checksums = std::collections::BTreeMap::new();
    if recorded {
        let sql = format!("SELECT name, checksum FROM {}", quote(VIEWS_TABLE));
        for row in client.query_typed(&sql, &[]).await.map_err(db_err)? {
            checksums.insert(row.get::<_, String>(0), row.get::<_, String>(1));
        }
    }
    schema.views = schema_core::dialect::views_from_catalog(
        views.iter().map(|r| (r.get(0), r.get(1))),
        &checksums,
    );
    Ok(schema)
}

#[cfg(test)]
mod literal_tests {
    #[test]
    fn literals() {
        assert_eq!(super::literal("a'b"), "'a''b'");
        assert_eq!(super::literal(r"a\b'"), r#"E'a\\b'''"#);
    }
}
