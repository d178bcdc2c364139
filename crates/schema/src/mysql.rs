//! The MySQL/MariaDB backend (mysql_async): a history whose rows also record how far a
//! revision got (DDL commits itself here), a `GET_LOCK` held for the run, and
//! introspection from `information_schema`.

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use schema_core::dialect::mysql::reported_type;
use schema_core::dialect::{Dialect, Step};
use schema_core::model::{
    CheckDef, ColumnDef, ForeignKeyDef, IndexDef, PrimaryKeyDef, ReferentialAction, UniqueDef,
};
use schema_core::{Schema, SqlType, TableDef};

use crate::runner::{
    AppliedRevision, Backend, Progress, Recorded, RunError, RunOptions, StatementError,
    HISTORY_TABLE,
};

use schema_core::dialect::MYSQL_LOCK_NAME_SQL as LOCK_NAME_SQL;

pub struct MysqlBackend<'c> {
    conn: &'c mut Conn,
    locked: bool,
}

impl<'c> MysqlBackend<'c> {
    pub fn new(conn: &'c mut Conn) -> MysqlBackend<'c> {
        MysqlBackend {
            conn,
            locked: false,
        }
    }
}

/// Connects to a `mysql://` or `mariadb://` URL.
pub async fn connect(url: &str) -> Result<Conn, RunError> {
    let url = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    };
    let opts = mysql_async::Opts::from_url(&url)
        .map_err(|e| RunError::Database(format!("bad MySQL URL: {e}")))?;
    Conn::new(opts).await.map_err(db_err)
}

/// The server's message with its error code, not the driver's wrapper text.
pub fn my_message(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => {
            format!("{} (error {}, SQLSTATE {})", s.message, s.code, s.state)
        }
        other => other.to_string(),
    }
}

fn db_err(e: mysql_async::Error) -> RunError {
    RunError::Database(my_message(&e))
}

/// ER_NO_SUCH_TABLE.
fn is_missing_table(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1146)
}

fn history() -> String {
    Dialect::Mysql.quote(HISTORY_TABLE)
}

impl MysqlBackend<'_> {
    async fn exec(&mut self, sql: &str) -> Result<(), RunError> {
        self.conn.query_drop(sql).await.map_err(db_err)
    }

    async fn history_change(
        &mut self,
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), mysql_async::Error> {
        match record {
            Some(rec) => {
                self.conn
                    .exec_drop(
                        format!(
                            "INSERT INTO {} (revision, checksum, execution_ms, content_checksum, breaking) VALUES (?, ?, 0, ?, ?)",
                            history()
                        ),
                        (revision, rec.checksum, rec.content, rec.breaking),
                    )
                    .await
            }
            None => {
                self.conn
                    .exec_drop(
                        format!("DELETE FROM {} WHERE revision = ?", history()),
                        (revision,),
                    )
                    .await
            }
        }
    }
}

impl Backend for MysqlBackend<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        let sql = format!(
            "SELECT revision, checksum, progress, content_checksum, breaking FROM {}",
            history()
        );
        type Row = (String, String, Option<String>, Option<String>, Option<bool>);
        let rows = match self.conn.query::<Row, _>(sql).await {
            Ok(rows) => rows,
            Err(e) if is_missing_table(&e) => return Ok(vec![]),
            // ER_BAD_FIELD_ERROR: a table an earlier release made has no content checksums.
            Err(mysql_async::Error::Server(s)) if s.code == 1054 => self
                .conn
                .query::<Row, _>(format!(
                    "SELECT revision, checksum, progress, NULL, NULL FROM {}",
                    history()
                ))
                .await
                .map_err(db_err)?,
            Err(e) => return Err(db_err(e)),
        };
        Ok(rows
            .into_iter()
            .map(
                |(revision, checksum, progress, content, breaking)| AppliedRevision {
                    revision,
                    checksum,
                    content,
                    breaking,
                    progress: Progress::from_column(progress.as_deref()),
                },
            )
            .collect())
    }

    async fn ensure_history(&mut self, _options: &RunOptions) -> Result<(), RunError> {
        self.exec(&Dialect::Mysql.history_table_sql(None)).await?;
        self.exec(&Dialect::Mysql.history_upgrade_sql(None).unwrap_or_default())
            .await
    }

    async fn lock_run(&mut self, options: &RunOptions) -> Result<(), RunError> {
        if self.locked {
            return Ok(());
        }
        let got: Option<Option<i64>> = self
            .conn
            .query_first(format!(
                "SELECT GET_LOCK({LOCK_NAME_SQL}, {})",
                options.lock_timeout_secs
            ))
            .await
            .map_err(db_err)?;
        match got.flatten() {
            Some(1) => {
                self.locked = true;
                Ok(())
            }
            _ => Err(RunError::LockTimeout(format!(
                "GET_LOCK waited {} s",
                options.lock_timeout_secs
            ))),
        }
    }

    async fn unlock_run(&mut self) -> Result<(), RunError> {
        if self.locked {
            self.locked = false;
            self.exec(&format!("DO RELEASE_LOCK({LOCK_NAME_SQL})"))
                .await?;
        }
        Ok(())
    }

    async fn begin_locked(&mut self, options: &RunOptions) -> Result<(), RunError> {
        self.lock_run(options).await?;
        self.exec("START TRANSACTION").await
    }

    async fn recorded_among(&mut self, ids: &[&str]) -> Result<BTreeSet<String>, RunError> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let rows: Vec<String> = self
            .conn
            .exec(
                format!(
                    "SELECT revision FROM {} WHERE progress IS NULL AND revision IN ({marks})",
                    history()
                ),
                ids.to_vec(),
            )
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().collect())
    }

    async fn run(
        &mut self,
        statements: &[Step],
        revision: &str,
        record: Option<Recorded<'_>>,
    ) -> Result<(), StatementError> {
        self.run_steps(statements).await?;
        self.history_change(revision, record)
            .await
            .map_err(|e| StatementError {
                statement: Some(format!("(the history row of {revision})")),
                message: my_message(&e),
            })
    }

    async fn commit(&mut self) -> Result<(), RunError> {
        self.exec("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), RunError> {
        self.exec("ROLLBACK").await
    }

    async fn introspect(&mut self) -> Result<Schema, RunError> {
        introspect(self.conn).await
    }

    async fn execute_all(&mut self, statements: &[String]) -> Result<(), RunError> {
        for sql in statements {
            self.conn.query_drop(sql).await.map_err(|e| {
                RunError::Database(format!("{} (statement: {sql})", my_message(&e)))
            })?;
        }
        Ok(())
    }

    async fn backup(&mut self, _path: &std::path::Path) -> Result<(), RunError> {
        Err(RunError::Backup(
            "--backup is built in for SQLite and PostgreSQL; on MySQL/MariaDB run `mariadb-dump --single-transaction` before the upgrade".into(),
        ))
    }

    async fn run_steps(&mut self, steps: &[Step]) -> Result<(), StatementError> {
        for sql in steps.iter().filter_map(Step::as_sql) {
            self.conn
                .query_drop(sql)
                .await
                .map_err(|e| StatementError {
                    statement: Some(sql.to_string()),
                    message: my_message(&e),
                })?;
        }
        Ok(())
    }

    async fn record_progress(
        &mut self,
        revision: &str,
        rec: Recorded<'_>,
        progress: Option<Progress>,
    ) -> Result<(), RunError> {
        let h = history();
        let r = match progress {
            None => self.history_change(revision, None).await,
            Some(Progress::Complete) => {
                self.conn
                    .exec_drop(
                        format!(
                            "UPDATE {h} SET progress = NULL, \
                             execution_ms = TIMESTAMPDIFF(MICROSECOND, applied_at, NOW(6)) DIV 1000 \
                             WHERE revision = ?"
                        ),
                        (revision,),
                    )
                    .await
            }
            Some(p) => {
                self.conn
                    .exec_drop(
                        format!(
                            "INSERT INTO {h} (revision, checksum, applied_at, execution_ms, progress, content_checksum, breaking) \
                             VALUES (?, ?, NOW(6), 0, ?, ?, ?) \
                             ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), progress = VALUES(progress), \
                             content_checksum = VALUES(content_checksum), breaking = VALUES(breaking)"
                        ),
                        (revision, rec.checksum, p.to_column(), rec.content, rec.breaking),
                    )
                    .await
            }
        };
        r.map_err(db_err)
    }
}

fn action(rule: &str) -> ReferentialAction {
    match rule {
        "RESTRICT" => ReferentialAction::Restrict,
        "CASCADE" => ReferentialAction::Cascade,
        "SET NULL" => ReferentialAction::SetNull,
        "SET DEFAULT" => ReferentialAction::SetDefault,
        _ => ReferentialAction::NoAction,
    }
}

type Rows<T> = Vec<T>;
/// Table, column, type, nullable, default, extra, comment, table comment, generation
/// expression, the column's collation where it differs from its table's.
type ColumnRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);
/// Table, constraint, column, referenced table, referenced column.
type KeyRow = (String, String, String, Option<String>, Option<String>);

/// Reads the tables of the connection's database (not the history table).
pub async fn introspect(conn: &mut Conn) -> Result<Schema, RunError> {
    let mut schema = Schema::new();
    let cols: Rows<ColumnRow> = conn
        .exec(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, c.EXTRA, \
                    c.COLUMN_COMMENT, t.TABLE_COMMENT, c.GENERATION_EXPRESSION, \
                    CASE WHEN c.COLLATION_NAME <> t.TABLE_COLLATION THEN c.COLLATION_NAME END \
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_NAME <> ? \
             ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
            (HISTORY_TABLE,),
        )
        .await
        .map_err(db_err)?;
    for (
        table,
        name,
        ty,
        nullable,
        default,
        extra,
        comment,
        table_comment,
        generation,
        collation,
    ) in cols
    {
        let t = schema
            .tables
            .entry(table.clone())
            .or_insert_with(|| TableDef {
                name: table,
                ..Default::default()
            });
        let mut c = ColumnDef::new(name, reported_type(&ty));
        c.nullable = nullable == "YES";
        // MariaDB writes an explicit NULL default as the word NULL.
        c.default = default.filter(|d| !d.eq_ignore_ascii_case("null"));
        c.auto_increment = extra.to_ascii_lowercase().contains("auto_increment");
        let extra = extra.to_ascii_uppercase();
        if extra.contains("GENERATED") {
            c.default = None;
            c.generated = generation.map(|expr| schema_core::Generated {
                expr,
                // MariaDB before 10.2 said PERSISTENT.
                stored: extra.contains("STORED") || extra.contains("PERSISTENT"),
            });
        }
        c.collation = collation.map(schema_core::Collation::All);
        // An empty comment is none.
        c.comment = Some(comment).filter(|s| !s.is_empty());
        t.comment = Some(table_comment).filter(|s| !s.is_empty());
        t.columns.push(c);
    }
    let kinds: Rows<(String, String, String)> = conn
        .query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE()",
        )
        .await
        .map_err(db_err)?;
    let keys: Rows<KeyRow> = conn
        .query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        )
        .await
        .map_err(db_err)?;
    let rules: Rows<(String, String, String, String)> = conn
        .query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE \
             FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
        )
        .await
        .map_err(db_err)?;
    let checks: Rows<(String, String, String, String)> = conn
        .query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, LEVEL \
             FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME",
        )
        .await
        .map_err(db_err)?;
    type Key = (String, String);
    let mut columns: BTreeMap<Key, (Vec<String>, String, Vec<String>)> = BTreeMap::new();
    for (table, name, column, ref_table, ref_column) in keys {
        let e = columns.entry((table, name)).or_default();
        e.0.push(column);
        if let Some(rt) = ref_table {
            e.1 = rt;
        }
        if let Some(rc) = ref_column {
            e.2.push(rc);
        }
    }
    let rules: BTreeMap<Key, (String, String)> = rules
        .into_iter()
        .map(|(t, n, u, d)| ((t, n), (u, d)))
        .collect();
    // Names of constraints per table: indexes with these names are their own.
    let mut constraint_names: BTreeSet<Key> = BTreeSet::new();
    for (table, name, kind) in kinds {
        constraint_names.insert((table.clone(), name.clone()));
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        let (cols, ref_table, ref_cols) = columns
            .get(&(table.clone(), name.clone()))
            .cloned()
            .unwrap_or_default();
        match kind.as_str() {
            "PRIMARY KEY" => {
                t.primary_key = Some(PrimaryKeyDef {
                    name,
                    columns: cols,
                })
            }
            "UNIQUE" => t.uniques.push(UniqueDef {
                name,
                columns: cols,
            }),
            "FOREIGN KEY" => {
                let (update, delete) = rules
                    .get(&(table.clone(), name.clone()))
                    .cloned()
                    .unwrap_or_default();
                t.foreign_keys.push(ForeignKeyDef {
                    name,
                    columns: cols,
                    ref_table,
                    ref_columns: ref_cols,
                    on_delete: action(&delete),
                    on_update: action(&update),
                });
            }
            _ => {}
        }
    }
    for (table, name, clause, level) in checks {
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        // MariaDB's `json` is longtext with a column check named after the column.
        if level.eq_ignore_ascii_case("column")
            && clause.to_ascii_lowercase().starts_with("json_valid(")
        {
            if let Some(c) = t.columns.iter_mut().find(|c| c.name == name) {
                c.ty = SqlType::Json;
                continue;
            }
        }
        t.checks.push(CheckDef { name, expr: clause });
    }
    let idx: Rows<(String, String, i64, String)> = conn
        .query(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        )
        .await
        .map_err(db_err)?;
    for (table, name, non_unique, column) in idx {
        if constraint_names.contains(&(table.clone(), name.clone())) {
            continue;
        }
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        match t.indexes.iter_mut().find(|i| i.name == name) {
            Some(i) => i.columns.push(column),
            None => t.indexes.push(IndexDef {
                name,
                unique: non_unique == 0,
                columns: vec![column],
                concurrently: false,
                ..Default::default()
            }),
        }
    }
    let recorded = schema
        .tables
        .remove(schema_core::dialect::VIEWS_TABLE)
        .is_some();
    let views: Vec<String> = conn
        .query("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()")
        .await
        .map_err(db_err)?;
    let mut checksums = std::collections::BTreeMap::new();
    if recorded {
        let rows: Vec<(String, String)> = conn
            .query(format!(
                "SELECT name, checksum FROM {}",
                Dialect::Mysql.quote(schema_core::dialect::VIEWS_TABLE)
            ))
            .await
            .map_err(db_err)?;
        checksums.extend(rows);
    }
    schema.views =
        schema_core::dialect::views_from_catalog(views.into_iter().map(|v| (v, false)), &checksums);
    Ok(schema)
}
