//! The SQLite backend (rusqlite): history, a write lock (`BEGIN IMMEDIATE`) taken before
//! the history is read, foreign keys off around a revision as the rebuild procedure
//! requires, and introspection from the catalog.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};
use schema_core::dialect::{constraint_clauses, quote, Dialect, Step};
use schema_core::model::{
    CheckDef, ColumnDef, ForeignKeyDef, IndexDef, PrimaryKeyDef, ReferentialAction, UniqueDef,
};
use schema_core::{Schema, SqlType, TableDef};

use crate::runner::{
    AppliedRevision, Backend, Recorded, RunError, RunOptions, StatementError, HISTORY_TABLE,
};
use crate::session::{SessionError, SqlSession};

pub struct SqliteBackend<'c> {
    conn: &'c mut Connection,
    foreign_keys_were_on: bool,
    /// The run lock: an exclusive lock on `<database>.schema-lock`, held for the run.
    run_lock: Option<std::fs::File>,
}

fn db_err(e: rusqlite::Error) -> RunError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
        return RunError::LockTimeout(e.to_string());
    }
    RunError::Database(e.to_string())
}

impl<'c> SqliteBackend<'c> {
    pub fn new(conn: &'c mut Connection) -> SqliteBackend<'c> {
        // Concurrent upgrades wait for the write lock instead of failing at once.
        let _ = conn.busy_timeout(Duration::from_secs(60));
        SqliteBackend {
            conn,
            foreign_keys_were_on: false,
            run_lock: None,
        }
    }

    fn history_exists(&self) -> Result<bool, RunError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [HISTORY_TABLE],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(db_err)
    }

    /// A revision's steps, in its transaction (the rebuild's steps as every session runs
    /// them).
    fn run_steps(&mut self, steps: &[Step]) -> Result<(), StatementError> {
        crate::embed::block_on(crate::session::run_in_transaction(
            &mut RusqliteSession(self.conn),
            steps,
        ))
    }
}

/// A rusqlite connection as a SQL-text session (see [`crate::session`]).
pub struct RusqliteSession<'c>(pub &'c Connection);

impl SqlSession for RusqliteSession<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        self.0
            .execute_batch(sql)
            .map_err(|e| SessionError::new(None, e.to_string()))
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SessionError> {
        let fail = |e: rusqlite::Error| SessionError::new(None, e.to_string());
        let mut stmt = self.0.prepare(sql).map_err(fail)?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n).map(|i| r.get::<_, Option<String>>(i)).collect()
            })
            .map_err(fail)?;
        rows.collect::<Result<_, _>>().map_err(fail)
    }
}

impl Backend for SqliteBackend<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    /// SQLite's own locks last one transaction, so the run lock is a file lock beside the
    /// database. It is not taken on the database file itself: closing any other handle
    /// of that file would drop SQLite's POSIX locks on it. An in-memory database has no
    /// other user and needs none.
    async fn lock_run(&mut self, options: &RunOptions) -> Result<(), RunError> {
        let Some(db_path) = self.conn.path().filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        if self.run_lock.is_some() {
            return Ok(());
        }
        self.run_lock = Some(crate::session::lock_file(
            &crate::session::sqlite_lock_path(db_path),
            Duration::from_secs(options.lock_timeout_secs),
        )?);
        Ok(())
    }

    async fn unlock_run(&mut self) -> Result<(), RunError> {
        // Closing the file releases its lock.
        self.run_lock = None;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        let h = quote(HISTORY_TABLE);
        let sql = format!("SELECT revision, checksum, content_checksum, breaking FROM {h}");
        // A table an earlier release made has neither (until `ensure_history`).
        let old = format!("SELECT revision, checksum, NULL, NULL FROM {h}");
        let mut stmt = match self.conn.prepare(&sql) {
            Ok(s) => s,
            Err(_) if !self.history_exists()? => return Ok(vec![]),
            // Another process created the table since this connection read the schema:
            // the look at sqlite_master above reloaded it, so a second try sees it.
            Err(_) => match self.conn.prepare(&sql) {
                Ok(s) => s,
                Err(_) => self.conn.prepare(&old).map_err(db_err)?,
            },
        };
        let rows = stmt
            .query_map([], |r| {
                Ok(AppliedRevision::complete(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, Option<i64>>(3)?.map(|b| b != 0),
                ))
            })
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }

    async fn ensure_history(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.conn
            .busy_timeout(Duration::from_secs(options.lock_timeout_secs))
            .map_err(db_err)?;
        self.conn
            .execute_batch(&Dialect::Sqlite.history_table_sql(None))
            .map_err(db_err)?;
        // A table an earlier release made gains the columns it lacks.
        for (column, ty) in [("content_checksum", "TEXT"), ("breaking", "INTEGER")] {
            let has: bool = self
                .conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM pragma_table_info('{HISTORY_TABLE}') WHERE name = '{column}'"
                    ),
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(db_err)?
                > 0;
            if !has {
                self.conn
                    .execute_batch(&format!(
                        "ALTER TABLE {} ADD COLUMN {column} {ty}",
                        quote(HISTORY_TABLE)
                    ))
                    .map_err(db_err)?;
            }
        }
        Ok(())
    }

    async fn begin_locked(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.conn
            .busy_timeout(Duration::from_secs(options.lock_timeout_secs))
            .map_err(db_err)?;
        self.foreign_keys_were_on = self
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0))
            .map_err(db_err)?
            == 1;
        // Foreign key enforcement can only change outside a transaction; a rebuild needs it
        // off and checks the table itself afterwards (PRAGMA foreign_key_check).
        self.conn
            .execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE")
            .map_err(db_err)
    }

    async fn recorded_among(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::BTreeSet<String>, RunError> {
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT revision FROM {} WHERE revision IN ({marks})",
            quote(HISTORY_TABLE)
        );
        // Asked once a revision with the same shape: prepared once.
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(ids), |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    async fn run(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        let started = Instant::now();
        self.run_steps(statements)?;
        let history = |e: rusqlite::Error| StatementError {
            statement: Some("(history row)".into()),
            message: e.to_string(),
        };
        match record {
            Some(rec) => {
                let ms = started.elapsed().as_millis() as i64;
                self.conn
                    .prepare_cached(&format!(
                        "INSERT INTO {} (revision, checksum, execution_ms, content_checksum, breaking) VALUES (?1, ?2, ?3, ?4, ?5)",
                        quote(HISTORY_TABLE)
                    ))
                    .and_then(|mut insert| {
                        insert.execute(rusqlite::params![
                            revision,
                            rec.checksum,
                            ms,
                            rec.content,
                            i64::from(rec.breaking)
                        ])
                    })
                    .map_err(history)?;
            }
            None => {
                self.conn
                    .execute(
                        &format!("DELETE FROM {} WHERE revision = ?1", quote(HISTORY_TABLE)),
                        [revision],
                    )
                    .map_err(history)?;
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), RunError> {
        self.conn.execute_batch("COMMIT").map_err(db_err)?;
        self.restore_foreign_keys()
    }

    async fn rollback(&mut self) -> Result<(), RunError> {
        self.conn.execute_batch("ROLLBACK").map_err(db_err)?;
        self.restore_foreign_keys()
    }

    async fn rehearse_steps(
        &mut self,
        steps: &[Step],
    ) -> Result<crate::runner::RehearsedStep, StatementError> {
        let started = Instant::now();
        let before = self.conn.total_changes();
        self.run_steps(steps)?;
        Ok(crate::runner::RehearsedStep {
            statements: steps.iter().map(|s| s.to_string()).collect(),
            elapsed: started.elapsed(),
            rows: Some(self.conn.total_changes().saturating_sub(before)),
            // SQLite locks the whole database for the write transaction.
            locks: vec![],
        })
    }

    async fn backup(&mut self, path: &std::path::Path) -> Result<(), RunError> {
        if path.exists() {
            return Err(RunError::Backup(format!(
                "{} exists already; give a new file",
                path.display()
            )));
        }
        let mut target = Connection::open(path)
            .map_err(|e| RunError::Backup(format!("{}: {e}", path.display())))?;
        let backup = rusqlite::backup::Backup::new(&*self.conn, &mut target)
            .map_err(|e| RunError::Backup(format!("{}: {e}", path.display())))?;
        backup
            .run_to_completion(1000, Duration::ZERO, None)
            .map_err(|e| RunError::Backup(format!("{}: {e}", path.display())))
    }

    async fn introspect(&mut self) -> Result<Schema, RunError> {
        introspect(self.conn)
    }

    async fn execute_all(&mut self, statements: &[String]) -> Result<(), RunError> {
        self.begin_locked(&RunOptions::default()).await?;
        let steps: Vec<Step> = statements.iter().cloned().map(Step::Sql).collect();
        if let Err(e) = self.run_steps(&steps) {
            self.rollback().await?;
            return Err(RunError::Database(format!(
                "{} (statement: {})",
                e.message,
                e.statement.unwrap_or_default()
            )));
        }
        self.commit().await
    }
}

impl SqliteBackend<'_> {
    fn restore_foreign_keys(&mut self) -> Result<(), RunError> {
        if self.foreign_keys_were_on {
            self.conn
                .execute_batch("PRAGMA foreign_keys = ON")
                .map_err(db_err)?;
        }
        Ok(())
    }
}

/// Where the parenthesis opened at `open` closes.
fn closing_paren(sql: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, ch) in sql[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A partial index's condition: what follows `WHERE` after the column list of its
/// CREATE INDEX statement.
fn index_predicate(sql: &str) -> Option<String> {
    let close = closing_paren(sql, sql.find('(')?)?;
    let rest = sql[close + 1..].trim_start();
    rest.get(..5)
        .filter(|w| w.eq_ignore_ascii_case("where"))
        .map(|_| rest[5..].trim().to_string())
}

/// The expressions of `GENERATED ALWAYS AS (...)` in a CREATE TABLE statement, in order
/// (the form this project writes).
fn generated_expressions(sql: &str) -> Vec<String> {
    let upper = sql.to_ascii_uppercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find("GENERATED ALWAYS AS") {
        let start = from + at + "GENERATED ALWAYS AS".len();
        let Some(open) = sql[start..].find('(').map(|i| start + i) else {
            break;
        };
        let Some(end) = closing_paren(sql, open) else {
            break;
        };
        out.push(sql[open + 1..end].trim().to_string());
        from = end;
    }
    out
}

/// The expressions among an index's keys, from its `CREATE INDEX` statement: the
/// parenthesised elements of the key list (a column is a bare or quoted name).
fn index_expressions(sql: &str) -> Vec<String> {
    // The key list opens at the first parenthesis after ` ON `.
    let upper = sql.to_ascii_uppercase();
    let Some(on) = upper.find(" ON ") else {
        return vec![];
    };
    let Some(open) = sql[on..].find('(').map(|i| i + on) else {
        return vec![];
    };
    let Some(close) = closing_paren(sql, open) else {
        return vec![];
    };
    let keys = &sql[open + 1..close];
    let mut out = Vec::new();
    let (mut depth, mut start, mut quote) = (0i32, 0usize, None::<char>);
    for (i, ch) in keys.char_indices().chain([(keys.len(), ',')]) {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                let key = keys[start..i].trim();
                if let Some(inner) = key.strip_prefix('(').and_then(|k| k.strip_suffix(')')) {
                    out.push(inner.trim().to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// Reads the schema of every user table (not SQLite's own, not the history).
pub fn introspect(conn: &Connection) -> Result<Schema, RunError> {
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> ?1 ORDER BY name",
        )
        .map_err(db_err)?;
    let tables: Vec<(String, String)> = stmt
        .query_map([HISTORY_TABLE], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    let mut schema = Schema::new();
    let mut recorded = false;
    for (name, sql) in tables {
        if name == schema_core::dialect::VIEWS_TABLE {
            recorded = true;
            continue;
        }
        schema
            .tables
            .insert(name.clone(), introspect_table(conn, &name, &sql)?);
    }
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'view'")
        .map_err(db_err)?;
    let views: Vec<(String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, false)))
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    let mut checksums = std::collections::BTreeMap::new();
    if recorded {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, checksum FROM {}",
                quote(schema_core::dialect::VIEWS_TABLE)
            ))
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(db_err)?;
        for row in rows {
            let (n, sum) = row.map_err(db_err)?;
            checksums.insert(n, sum);
        }
    }
    schema.views = schema_core::dialect::views_from_catalog(views, &checksums);
    Ok(schema)
}

fn introspect_table(conn: &Connection, name: &str, sql: &str) -> Result<TableDef, RunError> {
    let clauses = constraint_clauses(sql);
    let named = |kind: &str, cols: &[String]| -> Option<String> {
        clauses
            .iter()
            .find(|c| c.kind == kind && (cols.is_empty() || c.columns == cols))
            .map(|c| c.name.clone())
    };
    let mut t = TableDef {
        name: name.to_string(),
        ..Default::default()
    };
    let mut pk: Vec<(i64, String)> = Vec::new();
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_xinfo({})", quote(name)))
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(db_err)?;
    // Generated columns' expressions, in column order, from the table's definition.
    let mut expressions = generated_expressions(sql).into_iter();
    for row in rows {
        let (col, decl, notnull, default, pk_pos, hidden) = row.map_err(db_err)?;
        let mut c = ColumnDef::new(
            col.clone(),
            SqlType::parse(&decl.to_ascii_lowercase(), None),
        );
        c.nullable = notnull == 0 && pk_pos == 0;
        c.default = default;
        // table_xinfo's `hidden`: 2 for a virtual generated column, 3 for a stored one.
        if hidden == 2 || hidden == 3 {
            c.generated = expressions.next().map(|expr| schema_core::Generated {
                expr,
                stored: hidden == 3,
            });
        }
        if pk_pos > 0 {
            pk.push((pk_pos, col));
        }
        t.columns.push(c);
    }
    // An enum column is TEXT with a CHECK on its values (the type's name is nowhere).
    for (column, values) in schema_core::dialect::enum_checks(sql) {
        if let Some(c) = t.column_mut(&column) {
            c.ty = SqlType::Enum {
                name: String::new(),
                values,
            };
        }
    }
    for (column, name) in schema_core::dialect::column_collations(sql) {
        if let Some(c) = t.column_mut(&column) {
            c.collation = Some(schema_core::Collation::All(name));
        }
    }
    pk.sort();
    let pk_cols: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
    if !pk_cols.is_empty() {
        if let [only] = pk_cols.as_slice() {
            // INTEGER PRIMARY KEY is the rowid: numbered by the database.
            if let Some(c) = t.column_mut(only) {
                if c.ty == SqlType::Integer {
                    c.auto_increment = true;
                    c.nullable = false;
                }
            }
        }
        let name = named("pk", &pk_cols).unwrap_or_default();
        t.primary_key = Some(PrimaryKeyDef {
            name,
            columns: pk_cols,
        });
    }
    // Indexes: created ones, and the unique constraints' automatic ones.
    let mut stmt = conn
        .prepare(&format!("PRAGMA index_list({})", quote(name)))
        .map_err(db_err)?;
    let list: Vec<(String, bool, String)> = stmt
        .query_map([], |r| Ok((r.get(1)?, r.get::<_, i64>(2)? == 1, r.get(3)?)))
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    for (iname, unique, origin) in list {
        let mut s = conn
            .prepare(&format!("PRAGMA index_info({})", quote(&iname)))
            .map_err(db_err)?;
        let cols: Vec<String> = s
            .query_map([], |r| r.get::<_, Option<String>>(2))
            .map_err(db_err)?
            .filter_map(|r| r.ok().flatten())
            .collect();
        match origin.as_str() {
            "c" => {
                let sql: Option<String> = conn
                    .query_row(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                        [&iname],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                t.indexes.push(IndexDef {
                    name: iname,
                    columns: cols,
                    unique,
                    predicate: sql.as_deref().and_then(index_predicate),
                    expressions: sql.as_deref().map(index_expressions).unwrap_or_default(),
                    ..Default::default()
                })
            }
            "u" => {
                let name = named("unique", &cols).unwrap_or_default();
                t.uniques.push(UniqueDef {
                    name,
                    columns: cols,
                });
            }
            _ => {}
        }
    }
    t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    // Foreign keys, grouped by id.
    let mut stmt = conn
        .prepare(&format!("PRAGMA foreign_key_list({})", quote(name)))
        .map_err(db_err)?;
    let rows: Vec<(i64, String, String, Option<String>, String, String)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    let mut fks: Vec<(i64, ForeignKeyDef)> = Vec::new();
    for (id, table, from, to, on_update, on_delete) in rows {
        let pos = match fks.iter().position(|(i, _)| *i == id) {
            Some(p) => p,
            None => {
                fks.push((
                    id,
                    ForeignKeyDef {
                        name: String::new(),
                        columns: vec![],
                        ref_table: table,
                        ref_columns: vec![],
                        on_delete: ReferentialAction::parse(&on_delete).unwrap_or_default(),
                        on_update: ReferentialAction::parse(&on_update).unwrap_or_default(),
                    },
                ));
                fks.len() - 1
            }
        };
        fks[pos].1.columns.push(from);
        fks[pos].1.ref_columns.push(to.unwrap_or_default());
    }
    fks.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    for (_, mut fk) in fks {
        fk.name = named("fk", &fk.columns).unwrap_or_default();
        t.foreign_keys.push(fk);
    }
    // An enum column's CHECK is its type, read above.
    let enum_check = |body: &str| {
        t.columns.iter().any(|c| {
            matches!(c.ty, SqlType::Enum { .. })
                && (body.starts_with(&quote(&c.name)) || body.starts_with(&c.name))
                && body.contains(" IN (")
        })
    };
    let checks: Vec<CheckDef> = clauses
        .iter()
        .filter(|c| c.kind == "check" && !(c.name.is_empty() && enum_check(&c.body)))
        .map(|c| CheckDef {
            name: c.name.clone(),
            expr: c.body.clone(),
        })
        .collect();
    t.checks.extend(checks);
    Ok(t)
}
