//! Any driver as a migration backend: a connection that runs SQL text and answers queries
//! with text ([`SqlSession`]) is all the runner needs ([`SessionBackend`]). The adapter
//! crates (`schema-sqlx`, `schema-diesel`) implement it for the connections applications
//! already hold, so they migrate without a second driver stack; the history, lock and
//! transaction statements come from the dialect in the core, as for the built-in backends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use schema_core::dialect::{
    quote, string_literal, Dialect, Step, MYSQL_LOCK_NAME_SQL, POSTGRES_LOCK_KEY,
};
use schema_core::Schema;

use crate::runner::{
    AppliedRevision, Backend, Progress, Recorded, RunError, RunOptions, StatementError,
    HISTORY_TABLE,
};

/// How many columns every query of [`SessionBackend`] returns: each is text, named `c0` to
/// `c4`, those a query does not need are NULL. A fixed shape lets a driver without
/// dynamic rows (diesel) read them into one struct.
pub const SESSION_COLUMNS: usize = 5;

/// What a driver said when a statement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{message}{}", .code.as_ref().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default())]
pub struct SessionError {
    /// The SQLSTATE (PostgreSQL, MySQL) or result code (SQLite), when the driver tells it.
    pub code: Option<String>,
    pub message: String,
}

impl SessionError {
    pub fn new(code: Option<String>, message: impl Into<String>) -> SessionError {
        SessionError {
            code,
            message: message.into(),
        }
    }
}

/// A connection that runs SQL text: what an adapter implements for its driver.
#[allow(async_fn_in_trait)]
pub trait SqlSession {
    fn dialect(&self) -> Dialect;
    /// Runs one or more statements separated by `;`, outside or inside a transaction as
    /// the statements say (the session itself opens none).
    async fn execute(&mut self, sql: &str) -> Result<(), SessionError>;
    /// Runs one query of [`SESSION_COLUMNS`] text columns named `c0`..`c4`; one vector of
    /// that length per row.
    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SessionError>;
}

/// The runner's backend over a [`SqlSession`]: the lock (PostgreSQL's advisory lock,
/// SQLite's lock file beside the database, MySQL's `GET_LOCK`, the same ones the CLI
/// takes), one transaction per revision with its history row, and SQLite's rebuild steps.
pub struct SessionBackend<S> {
    session: S,
    history_schema: Option<String>,
    /// PostgreSQL: the lock is held by the session (a revision that runs in parts).
    session_locked: bool,
    /// MySQL: `GET_LOCK` is held.
    named_lock: bool,
    /// SQLite: the lock file, held for the run.
    lock_file: Option<std::fs::File>,
    /// SQLite: foreign keys were on before the revision's transaction switched them off.
    foreign_keys_were_on: bool,
}

impl<S: SqlSession> SessionBackend<S> {
    pub fn new(session: S) -> SessionBackend<S> {
        SessionBackend {
            session,
            history_schema: None,
            session_locked: false,
            named_lock: false,
            lock_file: None,
            foreign_keys_were_on: false,
        }
    }

    /// PostgreSQL: keeps the history table in that schema (the workspace's
    /// `history-schema`; none: the connection's own).
    pub fn with_history_schema(mut self, schema: Option<String>) -> SessionBackend<S> {
        self.history_schema = schema;
        self
    }

    /// The session back, once the run is over.
    pub fn into_inner(self) -> S {
        self.session
    }

    fn d(&self) -> Dialect {
        self.session.dialect()
    }

    fn history(&self) -> String {
        self.d().history_ref(self.history_schema.as_deref())
    }

    fn select(&self, columns: &[&str], rest: &str) -> String {
        select(self.d(), columns, rest)
    }

    async fn exec(&mut self, sql: &str) -> Result<(), RunError> {
        self.session.execute(sql).await.map_err(run_error)
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, RunError> {
        self.session.query(sql).await.map_err(run_error)
    }

    async fn history_exists(&mut self) -> Result<bool, RunError> {
        let sql = match self.d() {
            Dialect::Postgres => self.select(
                &[&format!("to_regclass({})", string_literal(&self.history()))],
                "",
            ),
            Dialect::Sqlite => self.select(
                &["name"],
                &format!(
                    "FROM sqlite_master WHERE type = 'table' AND name = {}",
                    string_literal(HISTORY_TABLE)
                ),
            ),
            Dialect::Mysql => self.select(
                &["table_name"],
                &format!(
                    "FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = {}",
                    string_literal(HISTORY_TABLE)
                ),
            ),
        };
        let rows = self.rows(&sql).await?;
        Ok(rows.iter().any(|r| r.first().is_some_and(Option::is_some)))
    }

    async fn run_in_transaction(&mut self, steps: &[Step]) -> Result<(), StatementError> {
        run_in_transaction(&mut self.session, steps).await
    }

    /// Starts a transaction holding the migration lock; `lazily`: on PostgreSQL, its
    /// commit need not wait for the disk (a later durable commit of the run makes it
    /// durable too).
    async fn begin(&mut self, options: &RunOptions, lazily: bool) -> Result<(), RunError> {
        match self.d() {
            Dialect::Postgres => {
                let lock = if self.session_locked {
                    String::new()
                } else {
                    format!(" SELECT pg_advisory_xact_lock({POSTGRES_LOCK_KEY});")
                };
                let lazily = if lazily {
                    " SET LOCAL synchronous_commit = off;"
                } else {
                    ""
                };
                let sql = format!(
                    "BEGIN; SET LOCAL lock_timeout = '{}s';{lazily}{lock} SET LOCAL lock_timeout = '{}ms'",
                    options.lock_timeout_secs,
                    options.ddl_lock_timeout.as_millis().max(1)
                );
                if let Err(e) = self.exec(&sql).await {
                    let _ = self.session.execute("ROLLBACK").await;
                    return Err(e);
                }
                Ok(())
            }
            Dialect::Mysql => {
                self.lock_run(options).await?;
                self.exec("START TRANSACTION").await
            }
            Dialect::Sqlite => {
                self.exec(&format!(
                    "PRAGMA busy_timeout = {}",
                    options.lock_timeout_secs * 1000
                ))
                .await?;
                let sql = self.select(&["foreign_keys"], "FROM pragma_foreign_keys");
                self.foreign_keys_were_on = self
                    .rows(&sql)
                    .await?
                    .first()
                    .and_then(|r| r.first().cloned().flatten())
                    .is_some_and(|v| truthy(&v));
                // Foreign key enforcement can only change outside a transaction; a rebuild
                // needs it off and checks the table itself afterwards.
                self.exec("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE")
                    .await
            }
        }
    }

    fn history_change(&self, revision: &str, record: Option<Recorded<'_>>) -> String {
        self.d().history_row_sql(
            &self.history(),
            revision,
            record.map(|r| (r.checksum, r.content, r.breaking)),
        )
    }

    fn progress_change(
        &self,
        revision: &str,
        record: Recorded<'_>,
        progress: Option<Progress>,
    ) -> String {
        match progress {
            None => self.history_change(revision, None),
            Some(p) => self.d().history_progress_sql(
                &self.history(),
                revision,
                (record.checksum, record.content, record.breaking),
                p.to_column().as_deref(),
            ),
        }
    }

    async fn restore_foreign_keys(&mut self) -> Result<(), RunError> {
        if std::mem::take(&mut self.foreign_keys_were_on) {
            self.exec("PRAGMA foreign_keys = ON").await?;
        }
        Ok(())
    }

    /// PostgreSQL: a detached step alone, outside any transaction and without a lock
    /// timeout; an index a failed build left INVALID is dropped first, one a crash kept
    /// from being recorded is taken as built.
    async fn run_detached(
        &mut self,
        sql: &str,
        builds_index: Option<&str>,
    ) -> Result<(), SessionError> {
        if let Some(index) = builds_index {
            let q = self.select(
                &["indisvalid"],
                &format!(
                    "FROM pg_index WHERE indexrelid = to_regclass({})",
                    string_literal(&quote(index))
                ),
            );
            let valid = self
                .session
                .query(&q)
                .await?
                .first()
                .map(|r| r.first().cloned().flatten().is_some_and(|v| truthy(&v)));
            let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {}", quote(index));
            match valid {
                Some(true) => return Ok(()),
                Some(false) => self.session.execute(&drop).await?,
                None => {}
            }
            let result = self.run_without_lock_timeout(sql).await;
            if result.is_err() {
                // What the failed build left behind would block the next attempt.
                let _ = self.session.execute(&drop).await;
            }
            return result;
        }
        self.run_without_lock_timeout(sql).await
    }

    /// Each its own message: a concurrent build refuses to share one (it would run in an
    /// implicit transaction).
    async fn run_without_lock_timeout(&mut self, sql: &str) -> Result<(), SessionError> {
        let _ = self.session.execute("SET lock_timeout = 0").await;
        let result = self.session.execute(sql).await;
        let _ = self.session.execute("RESET lock_timeout").await;
        result
    }
}

/// How each dialect writes true as text.
fn truthy(v: &str) -> bool {
    matches!(v, "t" | "true" | "1")
}

/// Runs a revision's steps inside its transaction, SQLite's rebuild steps included (the
/// built-in SQLite backend runs them here too).
pub(crate) async fn run_in_transaction<S: SqlSession>(
    session: &mut S,
    steps: &[Step],
) -> Result<(), StatementError> {
    // What a rebuild keeps: (kind, name, the SQL that recreates it), in order.
    let mut kept: Vec<(String, String, String)> = Vec::new();
    for step in steps {
        let fail = |e: SessionError| StatementError {
            statement: Some(step.to_string()),
            message: e.to_string(),
        };
        match step {
            Step::SaveDependents { table, indexes } => {
                kept = save_dependents(session, table, indexes)
                    .await
                    .map_err(fail)?;
            }
            Step::RestoreDependents => {
                for (kind, name, sql) in kept.drain(..) {
                    session.execute(&sql).await.map_err(|e| StatementError {
                        statement: Some(sql.clone()),
                        message: format!(
                            "the {kind} `{name}` cannot be recreated after the rebuild ({e}); \
                             change or drop it in an `execute` step before this one"
                        ),
                    })?;
                }
            }
            Step::ForeignKeyCheck { table } => {
                let sql = select(
                    session.dialect(),
                    &["\"table\"", "parent"],
                    &format!(
                        "FROM pragma_foreign_key_check({}) LIMIT 1",
                        string_literal(table)
                    ),
                );
                if let Some(row) = session.query(&sql).await.map_err(fail)?.first() {
                    let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                    return Err(StatementError {
                        statement: Some(step.to_string()),
                        message: format!(
                            "rows of `{}` reference missing rows of `{}`",
                            cell(0),
                            cell(1)
                        ),
                    });
                }
            }
            Step::Sql(sql)
            | Step::Detached {
                in_transaction: sql,
                ..
            } => session.execute(sql).await.map_err(fail)?,
        }
    }
    Ok(())
}

/// SQLite, before a rebuild drops `table`: the indexes on it other than `known`, and
/// every trigger and view, as the SQL that recreates them; the triggers and views are
/// dropped (a RENAME checks every one of them).
async fn save_dependents<S: SqlSession>(
    session: &mut S,
    table: &str,
    known: &[String],
) -> Result<Vec<(String, String, String)>, SessionError> {
    let sql = select(
        session.dialect(),
        &["type", "name", "sql"],
        &format!(
            "FROM sqlite_master WHERE sql IS NOT NULL AND \
             ((type = 'index' AND tbl_name = {}) OR type IN ('trigger', 'view')) \
             ORDER BY CASE type WHEN 'index' THEN 0 WHEN 'trigger' THEN 2 ELSE 1 END, rowid",
            string_literal(table)
        ),
    );
    let kept: Vec<(String, String, String)> = session
        .query(&sql)
        .await?
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter().map(Option::unwrap_or_default);
            let mut next = || r.next().unwrap_or_default();
            (next(), next(), next())
        })
        .filter(|(kind, name, _)| !(kind == "index" && known.contains(name)))
        .collect();
    // Newest first, so that a view on a view is dropped before its base.
    for (kind, name, _) in kept.iter().rev() {
        let what = match kind.as_str() {
            "view" => "VIEW",
            "trigger" => "TRIGGER",
            _ => continue,
        };
        session
            .execute(&format!("DROP {what} {}", quote(name)))
            .await?;
    }
    Ok(kept)
}

/// A query of `columns` as text, padded to [`SESSION_COLUMNS`], with the rest of the
/// statement (`FROM ...`) after them.
fn select(d: Dialect, columns: &[&str], rest: &str) -> String {
    let text = match d {
        Dialect::Mysql => "CHAR",
        _ => "TEXT",
    };
    let cols: Vec<String> = (0..SESSION_COLUMNS)
        .map(|i| {
            let c = columns.get(i).copied().unwrap_or("NULL");
            format!("CAST({c} AS {text}) AS c{i}")
        })
        .collect();
    format!("SELECT {} {rest}", cols.join(", "))
}

/// A history row from its columns (revision, checksum, content checksum, breaking,
/// progress; the missing ones NULL).
fn history_row(r: Vec<Option<String>>) -> AppliedRevision {
    let cell = |i: usize| r.get(i).cloned().flatten();
    AppliedRevision {
        progress: Progress::from_column(cell(4).as_deref()),
        ..AppliedRevision::complete(
            cell(0).unwrap_or_default(),
            cell(1).unwrap_or_default(),
            cell(2),
            cell(3).map(|b| truthy(&b)),
        )
    }
}

/// A history row of SQLite's packed form: tab-separated, an empty field for NULL (no
/// field is ever empty otherwise).
fn unpack_history_row(line: &str) -> AppliedRevision {
    let fields: Vec<Option<String>> = line
        .split('\t')
        .map(|f| (!f.is_empty()).then(|| f.to_string()))
        .collect();
    history_row(fields)
}

fn run_error(e: SessionError) -> RunError {
    if e.code.as_deref() == Some("55P03") {
        return RunError::LockTimeout(e.to_string());
    }
    RunError::Database(e.to_string())
}

fn as_statement_error(e: RunError) -> StatementError {
    StatementError {
        statement: None,
        message: e.to_string(),
    }
}

/// Takes the exclusive lock on `path` (created if missing), retrying until `timeout`:
/// SQLite's run lock, a file beside the database, so that the CLI, the built-in backend
/// and the adapters exclude each other.
pub(crate) fn lock_file(path: &str, timeout: Duration) -> Result<std::fs::File, RunError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| RunError::Database(format!("cannot open the lock file {path}: {e}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(RunError::LockTimeout(format!(
                    "{path} is held by another migration run"
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(RunError::Database(format!("cannot lock {path}: {e}")))
            }
        }
    }
}

/// The name of SQLite's lock file for the database file at `db_path`.
pub(crate) fn sqlite_lock_path(db_path: &str) -> String {
    format!("{db_path}.schema-lock")
}

impl<S: SqlSession> Backend for SessionBackend<S> {
    fn dialect(&self) -> Dialect {
        self.d()
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        let from = format!("FROM {}", self.history());
        if self.d() == Dialect::Sqlite {
            // The whole table as one row: some drivers hand SQLite's rows over from a
            // worker thread one at a time, which costs more than the query at head.
            let packed = self.select(
                &[
                    "group_concat(revision || char(9) || checksum || char(9) || \
                   coalesce(content_checksum, '') || char(9) || coalesce(breaking, ''), char(10))",
                ],
                &from,
            );
            if let Ok(rows) = self.session.query(&packed).await {
                let text = rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next().flatten())
                    .unwrap_or_default();
                return Ok(text.lines().map(unpack_history_row).collect());
            }
        } else {
            let sql = self.select(
                &[
                    "revision",
                    "checksum",
                    "content_checksum",
                    "breaking",
                    "progress",
                ],
                &from,
            );
            if let Ok(rows) = self.session.query(&sql).await {
                return Ok(rows.into_iter().map(history_row).collect());
            }
        }
        // No table yet, or one an earlier release made, which lacks the newer columns
        // (added at the next upgrade).
        if !self.history_exists().await? {
            return Ok(vec![]);
        }
        let older = self.select(&["revision", "checksum"], &from);
        Ok(self
            .rows(&older)
            .await?
            .into_iter()
            .map(history_row)
            .collect())
    }

    async fn history_digest(&mut self) -> Result<Option<String>, RunError> {
        let Some(sql) = self.d().history_digest_sql(&self.history()) else {
            return Ok(None);
        };
        // No history yet, or one an earlier release made: the full read decides.
        let sql = self.select(&[&format!("({sql})")], "");
        Ok(self
            .session
            .query(&sql)
            .await
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|r| r.into_iter().next().flatten()))
    }

    async fn ensure_history(&mut self, options: &RunOptions) -> Result<(), RunError> {
        let d = self.d();
        let table = d.history_table_sql(self.history_schema.as_deref());
        let upgrade = d.history_upgrade_sql(self.history_schema.as_deref());
        match d {
            Dialect::Postgres => {
                // Under the lock, so that concurrent first runs do not race on CREATE TABLE.
                self.begin_locked(options).await?;
                let sql = format!("{table}; {}", upgrade.unwrap_or_default());
                if let Err(e) = self.exec(&sql).await {
                    let _ = self.session.execute("ROLLBACK").await;
                    return Err(e);
                }
                self.commit().await
            }
            Dialect::Mysql => {
                self.exec(&table).await?;
                self.exec(&upgrade.unwrap_or_default()).await
            }
            Dialect::Sqlite => {
                self.exec(&format!(
                    "PRAGMA busy_timeout = {}",
                    options.lock_timeout_secs * 1000
                ))
                .await?;
                self.exec(&table).await?;
                // A table an earlier release made gains the columns it lacks.
                for (column, ty) in [("content_checksum", "TEXT"), ("breaking", "INTEGER")] {
                    let sql = self.select(
                        &["name"],
                        &format!(
                            "FROM pragma_table_info({}) WHERE name = {}",
                            string_literal(HISTORY_TABLE),
                            string_literal(column)
                        ),
                    );
                    if self.rows(&sql).await?.is_empty() {
                        self.exec(&format!(
                            "ALTER TABLE {} ADD COLUMN {column} {ty}",
                            quote(HISTORY_TABLE)
                        ))
                        .await?;
                    }
                }
                Ok(())
            }
        }
    }

    async fn lock_run(&mut self, options: &RunOptions) -> Result<(), RunError> {
        match self.d() {
            // Each revision's transaction takes the advisory lock itself.
            Dialect::Postgres => Ok(()),
            Dialect::Mysql => {
                if self.named_lock {
                    return Ok(());
                }
                let sql = self.select(
                    &[&format!(
                        "GET_LOCK({MYSQL_LOCK_NAME_SQL}, {})",
                        options.lock_timeout_secs
                    )],
                    "",
                );
                let got = self.rows(&sql).await?;
                if got
                    .first()
                    .and_then(|r| r.first().cloned().flatten())
                    .as_deref()
                    == Some("1")
                {
                    self.named_lock = true;
                    Ok(())
                } else {
                    Err(RunError::LockTimeout(format!(
                        "GET_LOCK waited {} s",
                        options.lock_timeout_secs
                    )))
                }
            }
            Dialect::Sqlite => {
                if self.lock_file.is_some() {
                    return Ok(());
                }
                let sql = self.select(&["file"], "FROM pragma_database_list WHERE name = 'main'");
                let path = self
                    .rows(&sql)
                    .await?
                    .first()
                    .and_then(|r| r.first().cloned().flatten())
                    .unwrap_or_default();
                // An in-memory database has no other user and needs no lock.
                if !path.is_empty() {
                    self.lock_file = Some(lock_file(
                        &sqlite_lock_path(&path),
                        Duration::from_secs(options.lock_timeout_secs),
                    )?);
                }
                Ok(())
            }
        }
    }

    async fn unlock_run(&mut self) -> Result<(), RunError> {
        // Closing the file releases SQLite's lock.
        self.lock_file = None;
        if std::mem::take(&mut self.named_lock) {
            self.exec(&format!("DO RELEASE_LOCK({MYSQL_LOCK_NAME_SQL})"))
                .await?;
        }
        if std::mem::take(&mut self.session_locked) {
            self.exec(&format!("SELECT pg_advisory_unlock({POSTGRES_LOCK_KEY})"))
                .await?;
        }
        Ok(())
    }

    async fn hold_lock(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.lock_run(options).await?;
        if self.d() == Dialect::Postgres && !self.session_locked {
            self.exec(&format!(
                "SET lock_timeout = '{}s'; SELECT pg_advisory_lock({POSTGRES_LOCK_KEY}); RESET lock_timeout",
                options.lock_timeout_secs
            ))
            .await?;
            self.session_locked = true;
        }
        Ok(())
    }

    async fn begin_revision(
        &mut self,
        ids: &[&str],
        durable: bool,
        options: &RunOptions,
    ) -> Result<BTreeSet<String>, RunError> {
        self.begin(options, !durable).await?;
        self.recorded_among(ids).await
    }

    async fn flush(&mut self) -> Result<(), RunError> {
        match self.d().history_flush_sql(&self.history()) {
            Some(sql) => self.exec(&sql).await,
            None => Ok(()),
        }
    }

    async fn begin_locked(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.begin(options, false).await
    }

    async fn recorded_among(&mut self, ids: &[&str]) -> Result<BTreeSet<String>, RunError> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let list = ids
            .iter()
            .map(|i| string_literal(i))
            .collect::<Vec<_>>()
            .join(", ");
        let complete = match self.d() {
            Dialect::Sqlite => "",
            _ => " AND progress IS NULL",
        };
        let sql = self.select(
            &["revision"],
            &format!(
                "FROM {} WHERE revision IN ({list}){complete}",
                self.history()
            ),
        );
        Ok(self
            .rows(&sql)
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    }

    async fn run(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        self.run_in_transaction(statements).await?;
        let history = self.history_change(revision, record);
        self.session
            .execute(&history)
            .await
            .map_err(|e| StatementError {
                statement: Some(history.clone()),
                message: e.to_string(),
            })
    }

    async fn commit(&mut self) -> Result<(), RunError> {
        self.exec("COMMIT").await?;
        self.restore_foreign_keys().await
    }

    /// A revision of plain statements goes as one batch with its history row and the
    /// COMMIT: one round trip (through sqlx's SQLite, one hand-over to its worker thread)
    /// instead of one per statement. Only on failure are the statements run one at a time,
    /// in a transaction rolled back, to name the one that fails.
    async fn apply_revision(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        let plain: Option<Vec<&str>> = statements.iter().map(Step::as_sql).collect();
        let Some(plain) = plain.filter(|_| self.d().transactional_ddl()) else {
            return match self.run(statements, revision, record).await {
                Ok(()) => self.commit().await.map_err(as_statement_error),
                Err(e) => {
                    let _ = self.rollback().await;
                    Err(e)
                }
            };
        };
        let history = self.history_change(revision, record);
        let all: Vec<&str> = plain
            .iter()
            .copied()
            .chain(std::iter::once(history.as_str()))
            .collect();
        let batch = format!("{};\nCOMMIT", all.join(";\n"));
        let Err(e) = self.session.execute(&batch).await else {
            return self
                .restore_foreign_keys()
                .await
                .map_err(as_statement_error);
        };
        let _ = self.rollback().await;
        let mut failing = StatementError {
            statement: None,
            message: e.to_string(),
        };
        // A lock timeout is retried as a whole; replaying without the timeout would wait.
        if failing.is_lock_timeout() {
            return Err(failing);
        }
        if self.session.execute("BEGIN").await.is_ok() {
            for s in all {
                if let Err(e) = self.session.execute(s).await {
                    failing = StatementError {
                        statement: Some(s.to_string()),
                        message: e.to_string(),
                    };
                    break;
                }
            }
            let _ = self.session.execute("ROLLBACK").await;
        }
        Err(failing)
    }

    async fn rollback(&mut self) -> Result<(), RunError> {
        self.exec("ROLLBACK").await?;
        self.restore_foreign_keys().await
    }

    async fn apply_part(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Recorded<'_>,
        progress: Progress,
        options: &RunOptions,
    ) -> Result<(), StatementError> {
        self.begin_locked(options)
            .await
            .map_err(as_statement_error)?;
        let history = self.progress_change(revision, record, Some(progress));
        let result = match self.run_in_transaction(statements).await {
            Ok(()) => self
                .session
                .execute(&history)
                .await
                .map_err(|e| StatementError {
                    statement: Some(history.clone()),
                    message: e.to_string(),
                }),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => self.commit().await.map_err(as_statement_error),
            Err(e) => {
                let _ = self.rollback().await;
                Err(e)
            }
        }
    }

    async fn run_steps(&mut self, steps: &[Step]) -> Result<(), StatementError> {
        let fail = |s: &str, e: SessionError| StatementError {
            statement: Some(s.to_string()),
            message: e.to_string(),
        };
        if self.d() == Dialect::Mysql {
            // Each statement commits by itself.
            for s in steps.iter().filter_map(Step::as_sql) {
                self.session.execute(s).await.map_err(|e| fail(s, e))?;
            }
            return Ok(());
        }
        let plain: Vec<Step> = steps.iter().filter(|s| !s.is_detached()).cloned().collect();
        if !plain.is_empty() {
            self.session
                .execute("BEGIN")
                .await
                .map_err(|e| fail("BEGIN", e))?;
            if let Err(e) = self.run_in_transaction(&plain).await {
                let _ = self.session.execute("ROLLBACK").await;
                return Err(e);
            }
            self.session
                .execute("COMMIT")
                .await
                .map_err(|e| fail("COMMIT", e))?;
        }
        for step in steps {
            if let Step::Detached {
                sql, builds_index, ..
            } = step
            {
                self.run_detached(sql, builds_index.as_deref())
                    .await
                    .map_err(|e| fail(sql, e))?;
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
        let sql = self.progress_change(revision, record, progress);
        self.exec(&sql).await
    }

    async fn introspect(&mut self) -> Result<Schema, RunError> {
        Err(RunError::Database(
            "an adapter's connection runs migrations only; read the live schema with `cargo schema check --database`".into(),
        ))
    }

    async fn execute_all(&mut self, statements: &[String]) -> Result<(), RunError> {
        let transactional = self.d() != Dialect::Mysql;
        if transactional {
            self.exec("BEGIN").await?;
        }
        for sql in statements {
            if let Err(e) = self.session.execute(sql).await {
                if transactional {
                    let _ = self.session.execute("ROLLBACK").await;
                }
                return Err(RunError::Database(format!("{e} (statement: {sql})")));
            }
        }
        if transactional {
            self.exec("COMMIT").await?;
        }
        Ok(())
    }
}
