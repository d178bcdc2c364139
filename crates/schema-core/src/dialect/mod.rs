//! One home per dialect. What is common to every dialect (quoting, constraint clauses,
//! the ALTER forms the dialects share) is here; what differs (type spelling, the rules
//! for numbered keys, SQLite's table rebuild, how a schema reads back for comparison)
//! lives in the dialect's own module behind [`DialectRules`]. Adding a dialect adds a
//! module and a variant, not branches across the crate.

pub mod mysql;
mod postgres;
mod sqlite;

use std::fmt::{self, Write as _};

use crate::model::{ColumnDef, Constraint, IndexDef, ReferentialAction, Schema, TableDef, ViewDef};
use crate::ops::{ExecuteSql, Operation};
use crate::replay::{apply, ReplayError};
use crate::types::SqlType;

pub use sqlite::{
    column_collations, constraint_clauses, enum_checks, rebuild_reason as sqlite_rebuild_reason,
    Clause,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    Postgres,
    Sqlite,
    /// MySQL and MariaDB (MariaDB is what the tests run; see the module for MySQL 8).
    Mysql,
}

impl Dialect {
    /// Every dialect, in the order messages list them.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::Sqlite, Dialect::Mysql];

    pub fn parse(s: &str) -> Option<Dialect> {
        match s {
            "postgres" | "postgresql" | "pg" => Some(Dialect::Postgres),
            "sqlite" | "sqlite3" => Some(Dialect::Sqlite),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        self.rules().name()
    }

    /// The one place a dialect is mapped to its rules.
    fn rules(self) -> &'static dyn DialectRules {
        match self {
            Dialect::Postgres => &postgres::Postgres,
            Dialect::Sqlite => &sqlite::Sqlite,
            Dialect::Mysql => &mysql::Mysql,
        }
    }

    /// A table's (or index's) name as statements write it: qualified by its PostgreSQL
    /// schema where it has one; the other dialects keep the plain name.
    pub fn qualified(self, schema: Option<&str>, name: &str) -> String {
        match schema {
            Some(s) if self.rules().schemas() => format!("{}.{}", self.quote(s), self.quote(name)),
            _ => self.quote(name),
        }
    }

    /// The table named, qualified as `state` places it.
    pub fn table_ref(self, state: &Schema, name: &str) -> String {
        self.qualified(state.table(name).and_then(|t| t.schema.as_deref()), name)
    }

    /// Quotes an identifier the way the dialect does (embedded quote characters doubled).
    pub fn quote(self, name: &str) -> String {
        let q = self.rules().quote_char();
        format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
    }

    /// Whether DDL runs inside a transaction. Where it does not (MySQL commits each DDL
    /// statement), the runner records a revision's progress operation by operation.
    pub fn transactional_ddl(self) -> bool {
        self.rules().transactional_ddl()
    }

    /// The SQL type as the dialect spells it.
    pub fn type_sql(self, ty: &SqlType) -> String {
        self.rules().type_sql(ty)
    }

    /// The text of an `execute` step for this dialect (none: the step skips it).
    pub fn execute_text(self, sql: &ExecuteSql) -> Option<&str> {
        match sql {
            ExecuteSql::All(s) => Some(s.as_str()),
            ExecuteSql::PerDialect(texts) => texts.get(self.name()).map(String::as_str),
        }
    }

    /// The steps for one operation, given the schema just before it.
    pub fn render_op(self, state: &Schema, op: &Operation) -> Result<Vec<Step>, ReplayError> {
        let op = &*crate::replay::with_enum_values(state, op)?;
        if let Some(steps) = self.rules().render_special(state, op) {
            return steps;
        }
        Ok(common_op(self, state, op)?
            .into_iter()
            .map(Step::Sql)
            .collect())
    }

    /// Renders a list of operations, advancing `state` as it goes.
    pub fn render_ops<'a>(
        self,
        state: &mut Schema,
        ops: impl IntoIterator<Item = &'a Operation>,
    ) -> Result<Vec<Step>, ReplayError> {
        let mut out = Vec::new();
        for op in ops {
            out.extend(self.render_op(state, op)?);
            apply(state, op)?;
        }
        Ok(out)
    }

    /// The statements that create a whole table with its indexes (and comments, where
    /// they are statements of their own).
    /// `state` places the tables its foreign keys reference.
    pub fn create_table(self, t: &TableDef, state: &Schema) -> Vec<String> {
        let mut out = vec![create_table_sql(self, state, t, &t.name)];
        if !self.rules().indexes_inline() {
            out.extend(t.indexes.iter().map(|i| create_index_sql(self, t, i)));
        }
        let rules = self.rules();
        let at = self.qualified(t.schema.as_deref(), &t.name);
        out.extend(
            t.comment
                .as_deref()
                .and_then(|c| rules.comment_statement(&at, None, Some(c))),
        );
        for c in &t.columns {
            out.extend(
                c.comment
                    .as_deref()
                    .and_then(|text| rules.comment_statement(&at, Some(&c.name), Some(text))),
            );
        }
        out
    }

    /// The whole schema, tables in dependency order. Foreign keys that close a cycle are
    /// added afterwards where the dialect checks them eagerly.
    pub fn create_all(self, schema: &Schema) -> Vec<String> {
        let names: Vec<String> = schema.tables.keys().cloned().collect();
        let (order, cyclic) = schema.creation_order(&names);
        let defer = self.rules().defers_cyclic_foreign_keys();
        let mut out = Vec::new();
        let mut late = Vec::new();
        if self.rules().schemas() {
            out.extend(
                schema
                    .schemas
                    .iter()
                    .map(|n| format!("CREATE SCHEMA IF NOT EXISTS {}", self.quote(n))),
            );
        }
        let mut state = Schema::new();
        for def in schema.enums.values() {
            let create = Operation::CreateEnum { def: def.clone() };
            // Rendering a creation needs no state and cannot fail.
            out.extend(
                self.render_op(&state, &create)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Step::as_sql)
                    .map(str::to_string),
            );
            let _ = apply(&mut state, &create);
        }
        for name in order {
            let mut t = schema.tables[&name].clone();
            if defer {
                let (deferred, keep): (Vec<_>, Vec<_>) = t
                    .foreign_keys
                    .into_iter()
                    .partition(|fk| cyclic.iter().any(|(tn, n)| *tn == name && *n == fk.name));
                t.foreign_keys = keep;
                late.extend(deferred.into_iter().map(|fk| {
                    format!(
                        "ALTER TABLE {} ADD {}",
                        self.table_ref(schema, &name),
                        constraint_sql(self, schema, &Constraint::ForeignKey(fk))
                    )
                }));
            }
            out.extend(self.create_table(&t, schema));
        }
        out.extend(late);
        for name in schema.view_order() {
            out.extend(self.view_steps(&schema.views[&name], true));
        }
        out
    }

    /// Drops the schema's tables (dependents first) and `extra` ones if they exist, then
    /// its named enum types.
    pub fn drop_tables(self, schema: &Schema, extra: &[&str]) -> Vec<String> {
        let names: Vec<String> = schema.tables.keys().cloned().collect();
        let (order, _) = schema.creation_order(&names);
        let cascade = self.rules().drop_cascade();
        let types = schema
            .enums
            .keys()
            .filter(|_| self.rules().named_enums())
            .map(|e| format!("DROP TYPE IF EXISTS {}", self.quote(e)));
        let views = schema.view_order().into_iter().rev().map(|v| {
            let materialized = schema.views[&v].materialized;
            format!(
                "DROP {}VIEW IF EXISTS {}",
                if materialized { "MATERIALIZED " } else { "" },
                self.quote(&v)
            )
        });
        views
            .chain(
                order
                    .iter()
                    .rev()
                    .map(String::as_str)
                    .chain(extra.iter().copied())
                    .chain([VIEWS_TABLE])
                    .map(|t| {
                        format!(
                            "DROP TABLE IF EXISTS {}{cascade}",
                            self.table_ref(schema, t)
                        )
                    }),
            )
            .chain(types)
            .chain(
                schema
                    .schemas
                    .iter()
                    .filter(|_| self.rules().schemas())
                    .map(|n| format!("DROP SCHEMA IF EXISTS {}", self.quote(n))),
            )
            .collect()
    }

    /// The schema as this dialect would report it back, for comparison with what the
    /// database says.
    pub fn normalize(self, s: &Schema) -> Schema {
        let mut s = s.canonical();
        if !self.rules().named_enums() {
            s.enums.clear();
        }
        if !self.rules().schemas() {
            s.schemas.clear();
            for t in s.tables.values_mut() {
                t.schema = None;
            }
        }
        // A view compares by the checksum of its query as written for this dialect (what
        // the views table records); one without a query here does not exist here.
        s.views = std::mem::take(&mut s.views)
            .into_iter()
            .filter_map(|(n, mut v)| {
                let sum = match &v.sql {
                    ExecuteSql::All(t) if t.starts_with("sha256:") => t.clone(),
                    sql => view_checksum(self.execute_text(sql)?),
                };
                v.sql = ExecuteSql::All(sum);
                Some((n, v))
            })
            .collect();
        for t in s.tables.values_mut() {
            let before = t.clone();
            let pk_cols = t
                .primary_key
                .as_ref()
                .map(|p| p.columns.clone())
                .unwrap_or_default();
            let rowid: Vec<String> = t
                .columns
                .iter()
                .filter(|c| is_numbered_key(t, c))
                .map(|c| c.name.clone())
                .collect();
            for c in &mut t.columns {
                self.rules()
                    .normalize_column(&before, c, rowid.contains(&c.name));
                if pk_cols.contains(&c.name) {
                    c.nullable = false;
                }
                c.default = c.default.as_deref().map(|e| self.rules().normalize_expr(e));
                // A collation compares by this dialect's name for it; none is the default.
                c.collation = c
                    .collation
                    .as_ref()
                    .and_then(|k| k.for_dialect(self.name()))
                    .filter(|n| !n.eq_ignore_ascii_case("default"))
                    .map(|n| crate::model::Collation::All(n.to_string()));
                if let Some(g) = &mut c.generated {
                    g.expr = self.rules().normalize_expr(&g.expr);
                }
            }
            for ck in &mut t.checks {
                ck.expr = self.rules().normalize_expr(&ck.expr);
            }
            for i in &mut t.indexes {
                i.predicate = i
                    .predicate
                    .as_deref()
                    .map(|p| self.rules().normalize_expr(p));
                for e in &mut i.expressions {
                    *e = self.rules().normalize_expr(e);
                }
                if !self.rules().index_methods() {
                    i.using = None;
                    i.include.clear();
                } else if i
                    .using
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case("btree"))
                {
                    i.using = None;
                }
            }
            if !self.rules().stores_comments() {
                t.comment = None;
                for c in &mut t.columns {
                    c.comment = None;
                }
            }
            self.rules().normalize_table(t);
        }
        s
    }
}

/// The table that records applied revisions.
pub const HISTORY_TABLE: &str = "_schema_history";

/// The table that records, for each view a revision created, a checksum of its query as
/// written: databases keep a view's query rewritten, so this is what comparisons read.
pub const VIEWS_TABLE: &str = "_schema_views";

/// The views a database's catalog lists (name, materialized), each compared by the
/// checksum the views table recorded for it; a view no revision created compares by none.
pub fn views_from_catalog(
    views: impl IntoIterator<Item = (String, bool)>,
    checksums: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, ViewDef> {
    views
        .into_iter()
        .map(|(name, materialized)| {
            let sum = checksums
                .get(&name)
                .cloned()
                .unwrap_or_else(|| "sha256:none recorded".into());
            (
                name.clone(),
                ViewDef {
                    name,
                    sql: ExecuteSql::All(sum),
                    materialized,
                },
            )
        })
        .collect()
}

/// A view's query checksum as comparisons see it (`sha256:<hex>`).
pub fn view_checksum(text: &str) -> String {
    format!("sha256:{}", crate::checksum::checksum(text.trim()))
}

impl Dialect {
    /// The view's query as this dialect runs it, if the view exists on this dialect.
    fn view_query(self, view: &ViewDef) -> Option<String> {
        let text = self.execute_text(&view.sql)?;
        let text = text.trim().trim_end_matches(';').trim_end();
        // One query for every dialect is written in standard SQL.
        Some(match view.sql {
            ExecuteSql::All(_) => self.rules().expression_sql(text),
            ExecuteSql::PerDialect(_) => text.to_string(),
        })
    }

    fn create_view_sql(self, view: &ViewDef) -> Option<String> {
        let query = self.view_query(view)?;
        Some(format!(
            "CREATE {}VIEW {} AS {query}",
            if view.materialized {
                "MATERIALIZED "
            } else {
                ""
            },
            self.quote(&view.name)
        ))
    }

    fn drop_view_sql(self, view: &ViewDef) -> String {
        format!(
            "DROP {}VIEW {}",
            if view.materialized {
                "MATERIALIZED "
            } else {
                ""
            },
            self.quote(&view.name)
        )
    }

    /// A view created, with its checksum recorded; or dropped, with its record.
    fn view_steps(self, view: &ViewDef, create: bool) -> Vec<String> {
        let Some(create_sql) = self.create_view_sql(view) else {
            return vec![];
        };
        let mut out = self.view_record_sql(view, create);
        out.insert(
            0,
            if create {
                create_sql
            } else {
                self.drop_view_sql(view)
            },
        );
        out
    }

    /// The record of a view in the views table: its checksum written (`record`), or
    /// removed. Alone, it adopts a view that exists already (`import --database`).
    pub fn view_record_sql(self, view: &ViewDef, record: bool) -> Vec<String> {
        let t = self.quote(VIEWS_TABLE);
        let name = string_literal(&view.name);
        let mut out = vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (name VARCHAR(255) NOT NULL PRIMARY KEY, checksum VARCHAR(80) NOT NULL)"
            ),
            format!("DELETE FROM {t} WHERE name = {name}"),
        ];
        if record {
            let text = self.execute_text(&view.sql).unwrap_or_default();
            out.push(format!(
                "INSERT INTO {t} (name, checksum) VALUES ({name}, {})",
                string_literal(&view_checksum(text))
            ));
        }
        out
    }

    /// `steps` between a drop of every view over `objects` (dependents first) and their
    /// creation again: what a view blocks (PostgreSQL: a type change of a column it uses).
    pub(crate) fn around_views(
        self,
        state: &Schema,
        objects: &[&str],
        steps: Vec<Step>,
    ) -> Vec<Step> {
        let views = state.views_over(objects);
        if views.is_empty() {
            return steps;
        }
        let mut out: Vec<Step> = views
            .iter()
            .rev()
            .map(|n| Step::Sql(self.drop_view_sql(&state.views[n])))
            .collect();
        out.extend(steps);
        out.extend(
            views
                .iter()
                .filter_map(|n| self.create_view_sql(&state.views[n]))
                .map(Step::Sql),
        );
        out
    }
}

/// PostgreSQL's migration lock: an advisory lock key, "schema" in ASCII, so it is
/// recognisable in pg_locks.
pub const POSTGRES_LOCK_KEY: i64 = 0x0000_7363_6865_6d61;

/// MySQL's migration lock, the name `GET_LOCK` takes: per database, since lock names are
/// server-wide (and at most 64 characters long).
pub const MYSQL_LOCK_NAME_SQL: &str = "CONCAT('cargo_schema:', SHA1(DATABASE()))";

impl Dialect {
    /// The history table as statements name it: in PostgreSQL schema `at` when the
    /// workspace places it there (`history-schema`), else in the connection's own.
    pub fn history_ref(self, at: Option<&str>) -> String {
        self.qualified(at, HISTORY_TABLE)
    }

    /// The statement that creates the history table when it is missing (and its schema).
    pub fn history_table_sql(self, at: Option<&str>) -> String {
        let h = self.history_ref(at);
        let schema = match at {
            Some(s) if self.rules().schemas() => {
                format!("CREATE SCHEMA IF NOT EXISTS {}; ", self.quote(s))
            }
            _ => String::new(),
        };
        match self {
            Dialect::Postgres => format!(
                "{schema}CREATE TABLE IF NOT EXISTS {h} (revision text PRIMARY KEY, checksum text NOT NULL, \
                 applied_at timestamptz NOT NULL DEFAULT now(), execution_ms bigint NOT NULL, \
                 content_checksum text, breaking boolean, progress text)"
            ),
            Dialect::Sqlite => format!(
                "CREATE TABLE IF NOT EXISTS {h} (revision TEXT NOT NULL PRIMARY KEY, checksum TEXT NOT NULL, \
                 applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, execution_ms INTEGER NOT NULL, \
                 content_checksum TEXT, breaking INTEGER)"
            ),
            Dialect::Mysql => format!(
                "CREATE TABLE IF NOT EXISTS {h} (revision varchar(255) NOT NULL PRIMARY KEY, \
                 checksum varchar(128) NOT NULL, applied_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
                 execution_ms bigint NOT NULL DEFAULT 0, progress varchar(64) NULL, \
                 content_checksum varchar(80) NULL, breaking tinyint(1) NULL) ENGINE=InnoDB"
            ),
        }
    }

    /// What a history table made by an earlier release lacks, added in place (PostgreSQL
    /// and MySQL say `IF NOT EXISTS`; SQLite's backend looks first). Nothing is removed,
    /// so that release still works on it.
    pub fn history_upgrade_sql(self, at: Option<&str>) -> Option<String> {
        let h = self.history_ref(at);
        match self {
            Dialect::Postgres => Some(format!(
                "ALTER TABLE {h} ADD COLUMN IF NOT EXISTS content_checksum text, \
                 ADD COLUMN IF NOT EXISTS breaking boolean, ADD COLUMN IF NOT EXISTS progress text"
            )),
            Dialect::Mysql => Some(format!(
                "ALTER TABLE {h} ADD COLUMN IF NOT EXISTS content_checksum varchar(80) NULL, \
                 ADD COLUMN IF NOT EXISTS breaking tinyint(1) NULL"
            )),
            Dialect::Sqlite => None,
        }
    }

    /// The history change of a revision as one literal statement: record it (with its
    /// text and content checksums) or forget it. Ids and checksums are `[A-Za-z0-9_@:]`
    /// and hex (checked when files are read); quotes are doubled all the same.
    /// `h` is the history table as [`Dialect::history_ref`] names it.
    pub fn history_row_sql(
        self,
        h: &str,
        revision: &str,
        record: Option<(&str, &str, bool)>,
    ) -> String {
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match record {
            Some((checksum, content, breaking)) => format!(
                "INSERT INTO {h} (revision, checksum, execution_ms, content_checksum, breaking) VALUES ({}, {}, 0, {}, {})",
                lit(revision),
                lit(checksum),
                lit(content),
                self.boolean(breaking)
            ),
            None => format!("DELETE FROM {h} WHERE revision = {}", lit(revision)),
        }
    }

    /// How far a revision that runs in parts got, as one statement that inserts its
    /// history row or updates it: `progress` is the history column's text (`upgrade 2`),
    /// `None` once the revision is complete.
    pub fn history_progress_sql(
        self,
        h: &str,
        revision: &str,
        (checksum, content, breaking): (&str, &str, bool),
        progress: Option<&str>,
    ) -> String {
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let upsert = match self {
            Dialect::Mysql => {
                "ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), \
                 content_checksum = VALUES(content_checksum), breaking = VALUES(breaking), \
                 progress = VALUES(progress)"
            }
            _ => {
                "ON CONFLICT (revision) DO UPDATE SET checksum = excluded.checksum, \
                 content_checksum = excluded.content_checksum, breaking = excluded.breaking, \
                 progress = excluded.progress"
            }
        };
        format!(
            "INSERT INTO {h} (revision, checksum, execution_ms, content_checksum, breaking, progress) \
             VALUES ({}, {}, 0, {}, {}, {}) {upsert}",
            lit(revision),
            lit(checksum),
            lit(content),
            self.boolean(breaking),
            progress.map(lit).unwrap_or_else(|| "NULL".into())
        )
    }

    /// The query for [`crate::checksum::history_digest`] of the history table `h`, where
    /// the database can compute it (PostgreSQL): at head, one short answer instead of
    /// every row.
    pub fn history_digest_sql(self, h: &str) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!(
                // A revision stopped halfway adds its progress, so the digest cannot match.
                "SELECT encode(sha256(convert_to(coalesce(string_agg(revision || ':' || checksum || coalesce(' ' || progress, '') || E'\\n', '' \
                 ORDER BY revision COLLATE \"C\"), ''), 'UTF8')), 'hex') FROM {h}"
            )),
            _ => None,
        }
    }

    /// Where a run commits without waiting for the disk (PostgreSQL's `synchronous_commit
    /// = off` for every revision but the last): one synchronous commit that writes, which
    /// waits for the log up to itself and so makes every earlier commit durable too.
    pub fn history_flush_sql(self, h: &str) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!(
                "BEGIN; SET LOCAL synchronous_commit = on; \
                 UPDATE {h} SET execution_ms = execution_ms WHERE revision = (SELECT max(revision) FROM {h}); COMMIT"
            )),
            _ => None,
        }
    }

    /// A boolean literal (MySQL and SQLite keep them as 1 and 0).
    pub fn boolean(self, b: bool) -> &'static str {
        match (self, b) {
            (Dialect::Postgres, true) => "true",
            (Dialect::Postgres, false) => "false",
            (_, true) => "1",
            (_, false) => "0",
        }
    }

    /// How a script wraps one revision the way the runner does: what comes before its
    /// statements and after its history row (MySQL commits DDL itself: nothing).
    pub fn script_transaction(self) -> (String, &'static str) {
        match self {
            Dialect::Postgres => (
                format!(
                    "BEGIN;\nSET LOCAL lock_timeout = '60s';\nSELECT pg_advisory_xact_lock({POSTGRES_LOCK_KEY});\n"
                ),
                "COMMIT;\n",
            ),
            // Foreign keys can only be switched off outside a transaction; a rebuild
            // needs them off and checks the table itself.
            Dialect::Sqlite => (
                "PRAGMA foreign_keys = OFF;\nBEGIN IMMEDIATE;\n".into(),
                "COMMIT;\n",
            ),
            Dialect::Mysql => (String::new(), ""),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one dialect decides; the common rendering asks it.
trait DialectRules: Sync {
    fn name(&self) -> &'static str;
    fn quote_char(&self) -> char {
        '"'
    }
    fn transactional_ddl(&self) -> bool {
        true
    }
    /// The column list of an index (MySQL gives long text columns a prefix length).
    fn index_columns(&self, table: &TableDef, i: &IndexDef) -> String {
        let _ = table;
        i.columns
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .chain(
                i.expressions
                    .iter()
                    .map(|e| format!("({})", self.expression_sql(e))),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }
    /// A check or default expression, written in standard SQL, as the dialect reads it.
    fn expression_sql(&self, expr: &str) -> String {
        expr.to_string()
    }
    /// Whether indexes take an access method and included columns (PostgreSQL's `USING`
    /// and `INCLUDE`); elsewhere both are left out, and comparisons ignore them.
    fn index_methods(&self) -> bool {
        false
    }

    /// Whether a generated column can be declared NOT NULL (MariaDB refuses it).
    fn generated_not_null(&self) -> bool {
        true
    }

    /// Whether the database keeps table and column comments (SQLite: the model only).
    fn stores_comments(&self) -> bool {
        false
    }

    /// A column comment inside its definition (MySQL's `COMMENT '...'`), where the dialect
    /// keeps it there.
    fn inline_comment(&self, text: &str) -> Option<String> {
        let _ = text;
        None
    }

    /// A table comment after its definition (MySQL's `COMMENT='...'`).
    fn inline_table_comment(&self, text: &str) -> Option<String> {
        let _ = text;
        None
    }

    /// A comment as a statement of its own (PostgreSQL's `COMMENT ON`; `None` text removes
    /// it), where the dialect keeps comments that way. `table` is written as statements
    /// name it (quoted, qualified).
    fn comment_statement(
        &self,
        table: &str,
        column: Option<&str>,
        text: Option<&str>,
    ) -> Option<String> {
        let _ = (table, column, text);
        None
    }

    /// Whether CREATE TABLE lists the table's indexes (one statement per table).
    fn indexes_inline(&self) -> bool {
        false
    }
    /// Whether tables may live in schemas of their own (PostgreSQL).
    fn schemas(&self) -> bool {
        false
    }
    /// Whether enum types are named types of their own (PostgreSQL), rather than spelled
    /// out on each column.
    fn named_enums(&self) -> bool {
        true
    }
    /// A column-level `CHECK` that keeps an enum column to its values, where the type
    /// itself does not (SQLite).
    fn enum_check(&self, column: &str, values: &[String]) -> Option<String> {
        let _ = (column, values);
        None
    }
    fn type_sql(&self, ty: &SqlType) -> String;
    /// A collation's name as `COLLATE` takes it (quoted where the dialect allows).
    fn collation_sql(&self, name: &str) -> String {
        quote(name)
    }
    /// The type of a column in CREATE TABLE / ADD COLUMN (a numbered key may differ).
    fn column_type(&self, table: Option<&TableDef>, c: &ColumnDef) -> String {
        let _ = table;
        self.type_sql(&c.ty)
    }
    /// What follows the type of a column numbered by the database.
    fn numbering_clause(&self) -> &'static str {
        ""
    }
    /// Steps that differ from the common ALTER form, when this operation needs them.
    fn render_special(
        &self,
        state: &Schema,
        op: &Operation,
    ) -> Option<Result<Vec<Step>, ReplayError>>;
    fn defers_cyclic_foreign_keys(&self) -> bool;
    fn drop_cascade(&self) -> &'static str {
        ""
    }
    /// A column of `table` as the database reports it back (`numbered_key`: the table's
    /// single numbered primary key).
    fn normalize_column(&self, table: &TableDef, c: &mut ColumnDef, numbered_key: bool);
    /// An expression (default or check) as the database reports it back.
    fn normalize_expr(&self, e: &str) -> String {
        normalize_expr(e)
    }
    /// What else the database reports differently about a table (after its columns).
    fn normalize_table(&self, t: &mut TableDef) {
        let _ = t;
    }
}

/// One step of a rendered revision. Most are SQL; a SQLite rebuild also asks the runner to
/// keep what depends on the table across it and to check foreign keys afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Sql(String),
    /// Before a rebuild drops `table`: remember what depends on it and the rebuild would
    /// lose (its triggers, the indexes on it other than `indexes`, which the rebuild
    /// creates itself, e.g. ones made by `execute` steps), and every view, which SQLite
    /// re-checks when a table is renamed; then drop the views.
    SaveDependents {
        table: String,
        indexes: Vec<String>,
    },
    /// Recreate what the last [`Step::SaveDependents`] kept: indexes, views, triggers.
    RestoreDependents,
    /// `PRAGMA foreign_key_check(table)`: the revision fails if it returns a row.
    ForeignKeyCheck {
        table: String,
    },
    /// A statement that must not run inside the revision's transaction (PostgreSQL's
    /// `CREATE INDEX CONCURRENTLY`) or that should commit on its own (`VALIDATE
    /// CONSTRAINT`): the runner commits what came before, runs `sql` alone and records
    /// the step, so that a re-run resumes after it. Where everything runs in one
    /// transaction (a rehearsal, `--single-transaction`, a downgrade), `in_transaction`
    /// runs instead.
    Detached {
        sql: String,
        in_transaction: String,
        /// The index `sql` builds: one left INVALID by a failed build is dropped before
        /// the next attempt.
        builds_index: Option<String>,
    },
}

impl Step {
    /// The SQL of a plain statement, as it runs inside a transaction.
    pub fn as_sql(&self) -> Option<&str> {
        match self {
            Step::Sql(s) => Some(s),
            Step::Detached { in_transaction, .. } => Some(in_transaction),
            _ => None,
        }
    }

    /// Whether it runs outside the revision's transaction (see [`Step::Detached`]).
    pub fn is_detached(&self) -> bool {
        matches!(self, Step::Detached { .. })
    }
}

/// The script form, as `cargo schema sql` prints it: a plain `sqlite3` run sees the
/// trigger steps as comments.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Sql(s) => f.write_str(s),
            Step::SaveDependents { table, .. } => write!(
                f,
                "-- cargo-schema: keep the views, triggers and other indexes of {}",
                // A name may hold a line break; in a comment it would end the comment.
                crate::input::comment_text(&quote(table))
            ),
            Step::RestoreDependents => {
                f.write_str("-- cargo-schema: recreate the kept indexes, views and triggers")
            }
            Step::ForeignKeyCheck { table } => {
                write!(f, "PRAGMA foreign_key_check({})", quote(table))
            }
            Step::Detached { sql, .. } => f.write_str(sql),
        }
    }
}

/// Quotes an identifier (double quotes, embedded quotes doubled).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_list(d: Dialect, names: &[String]) -> String {
    names
        .iter()
        .map(|n| d.quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a default is a literal (SQLite needs anything else parenthesised, and cannot
/// add a column with it in place).
fn is_literal(expr: &str) -> bool {
    let e = expr.trim();
    let lower = e.to_ascii_lowercase();
    e.parse::<f64>().is_ok()
        || ["null", "true", "false"].contains(&lower.as_str())
        || (e.len() >= 2
            && e.starts_with('\'')
            && e.ends_with('\'')
            && !e[1..e.len() - 1].replace("''", "").contains('\''))
}

fn default_sql(expr: &str) -> String {
    if is_literal(expr) {
        expr.trim().to_string()
    } else {
        format!("({})", expr.trim())
    }
}

/// Whether the column is the table's single primary key numbered by the database (on
/// SQLite: the rowid alias). The one statement of this rule.
pub fn is_numbered_key(t: &TableDef, c: &ColumnDef) -> bool {
    c.auto_increment
        && t.primary_key
            .as_ref()
            .is_some_and(|pk| pk.columns == [c.name.clone()])
}

fn column_sql(d: Dialect, t: Option<&TableDef>, c: &ColumnDef) -> String {
    let rules = d.rules();
    let mut s = d.quote(&c.name);
    s.push(' ');
    s.push_str(&rules.column_type(t, c));
    if let Some(name) = c.collation.as_ref().and_then(|k| k.for_dialect(d.name())) {
        let _ = write!(s, " COLLATE {}", rules.collation_sql(name));
    }
    if let Some(g) = &c.generated {
        let _ = write!(
            s,
            " GENERATED ALWAYS AS ({}) {}",
            rules.expression_sql(&g.expr),
            if g.stored { "STORED" } else { "VIRTUAL" }
        );
    }
    if c.auto_increment {
        s.push_str(rules.numbering_clause());
    }
    if !c.nullable && (c.generated.is_none() || rules.generated_not_null()) {
        s.push_str(" NOT NULL");
    }
    if let Some(def) = &c.default {
        let _ = write!(s, " DEFAULT {}", default_sql(&rules.expression_sql(def)));
    }
    if let SqlType::Enum { values, .. } = &c.ty {
        if let Some(check) = rules.enum_check(&c.name, values) {
            let _ = write!(s, " {check}");
        }
    }
    if let Some(clause) = c
        .comment
        .as_deref()
        .and_then(|text| rules.inline_comment(text))
    {
        let _ = write!(s, " {clause}");
    }
    s
}

/// A string literal: quotes doubled.
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn action_sql(kind: &str, a: ReferentialAction) -> String {
    if a == ReferentialAction::NoAction {
        String::new()
    } else {
        format!(" ON {kind} {}", a.as_str().to_ascii_uppercase())
    }
}

/// A table constraint clause: `CONSTRAINT "name" ...`; `state` places the table a
/// foreign key references.
pub fn constraint_sql(d: Dialect, state: &Schema, c: &Constraint) -> String {
    let body = match c {
        Constraint::PrimaryKey(k) => format!("PRIMARY KEY ({})", quote_list(d, &k.columns)),
        Constraint::Unique(k) => format!("UNIQUE ({})", quote_list(d, &k.columns)),
        Constraint::ForeignKey(f) => format!(
            "FOREIGN KEY ({}) REFERENCES {} ({}){}{}",
            quote_list(d, &f.columns),
            d.table_ref(state, &f.ref_table),
            quote_list(d, &f.ref_columns),
            action_sql("DELETE", f.on_delete),
            action_sql("UPDATE", f.on_update)
        ),
        Constraint::Check(k) => format!("CHECK ({})", d.rules().expression_sql(&k.expr)),
    };
    format!("CONSTRAINT {} {body}", d.quote(c.name()))
}

fn create_table_sql(d: Dialect, state: &Schema, t: &TableDef, as_name: &str) -> String {
    let mut parts: Vec<String> = t
        .columns
        .iter()
        .map(|c| column_sql(d, Some(t), c))
        .collect();
    // A foreign key to the table itself finds it where it is being created.
    let with_self;
    let refs = if state.table(&t.name).is_some() {
        state
    } else {
        with_self = {
            let mut s = state.clone();
            s.tables.insert(t.name.clone(), t.clone());
            s
        };
        &with_self
    };
    parts.extend(t.constraints().iter().map(|c| constraint_sql(d, refs, c)));
    if d.rules().indexes_inline() {
        parts.extend(t.indexes.iter().map(|i| {
            format!(
                "{}INDEX {} ({})",
                if i.unique { "UNIQUE " } else { "" },
                d.quote(&i.name),
                d.rules().index_columns(t, i)
            )
        }));
    }
    let table_comment = t
        .comment
        .as_deref()
        .and_then(|text| d.rules().inline_table_comment(text))
        .map(|clause| format!(" {clause}"))
        .unwrap_or_default();
    format!(
        "CREATE TABLE {} (\n    {}\n){table_comment}",
        d.qualified(t.schema.as_deref(), as_name),
        parts.join(",\n    ")
    )
}

pub(crate) fn create_index_sql(d: Dialect, t: &TableDef, i: &IndexDef) -> String {
    let rules = d.rules();
    let methods = rules.index_methods();
    let using = match &i.using {
        Some(m) if methods => format!(" USING {m}"),
        _ => String::new(),
    };
    let include = if methods && !i.include.is_empty() {
        format!(" INCLUDE ({})", quote_list(d, &i.include))
    } else {
        String::new()
    };
    let predicate = i
        .predicate
        .as_deref()
        .map(|p| format!(" WHERE {}", rules.expression_sql(p)))
        .unwrap_or_default();
    format!(
        "CREATE {}INDEX {} ON {}{using} ({}){include}{predicate}",
        if i.unique { "UNIQUE " } else { "" },
        d.quote(&i.name),
        d.qualified(t.schema.as_deref(), &t.name),
        rules.index_columns(t, i)
    )
}

/// The ALTER forms every dialect shares.
fn common_op(d: Dialect, state: &Schema, op: &Operation) -> Result<Vec<String>, ReplayError> {
    let t = |s: &str| d.quote(s);
    // A table (or an index, which lives beside its table) as statements name it.
    let tr = |table: &str| d.table_ref(state, table);
    let beside = |table: &str, name: &str| {
        d.qualified(state.table(table).and_then(|tb| tb.schema.as_deref()), name)
    };
    Ok(match op {
        Operation::RenameIndex { table, from, to } => {
            vec![format!(
                "ALTER INDEX {} RENAME TO {}",
                beside(table, from),
                t(to)
            )]
        }
        Operation::RenameConstraint { table, from, to } => vec![format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            tr(table),
            t(from),
            t(to)
        )],
        Operation::CreateTable { table } => d.create_table(table, state),
        Operation::DropTable { table } => vec![format!("DROP TABLE {}", tr(&table.name))],
        Operation::RenameTable { from, to } => {
            vec![format!("ALTER TABLE {} RENAME TO {}", tr(from), t(to))]
        }
        Operation::AddColumn { table, column } => {
            let mut out = vec![format!(
                "ALTER TABLE {} ADD COLUMN {}",
                tr(table),
                column_sql(d, state.table(table), column)
            )];
            out.extend(column.comment.as_deref().and_then(|text| {
                d.rules()
                    .comment_statement(&tr(table), Some(&column.name), Some(text))
            }));
            out
        }
        Operation::SetComment {
            table, column, to, ..
        } => d
            .rules()
            .comment_statement(&tr(table), column.as_deref(), to.as_deref())
            .into_iter()
            .collect(),
        Operation::DropColumn { table, column } => vec![format!(
            "ALTER TABLE {} DROP COLUMN {}",
            tr(table),
            t(&column.name)
        )],
        Operation::RenameColumn { table, from, to } => vec![format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            tr(table),
            t(from),
            t(to)
        )],
        Operation::AlterColumn {
            table,
            column,
            change,
        } => {
            let mut out = Vec::new();
            let prefix = format!("ALTER TABLE {} ALTER COLUMN {}", tr(table), t(column));
            let collate = change.collation.as_ref().map(|(_, to)| {
                let name = to.as_ref().and_then(|k| k.for_dialect(d.name()));
                format!(
                    " COLLATE {}",
                    d.rules().collation_sql(name.unwrap_or("default"))
                )
            });
            if let Some((from, ty)) = &change.ty {
                // An enum converts to another type (or enum) only through text.
                let via = if matches!(from, SqlType::Enum { .. }) {
                    "::text"
                } else {
                    ""
                };
                let ty = d.type_sql(ty);
                out.push(format!(
                    "{prefix} TYPE {ty}{} USING {}{via}::{ty}",
                    collate.clone().unwrap_or_default(),
                    t(column)
                ));
            } else if let Some(collate) = collate {
                // A new collation is a type change to the same type.
                let current = state
                    .table(table)
                    .and_then(|tb| tb.column(column))
                    .ok_or_else(|| ReplayError::NoColumn {
                        table: table.clone(),
                        column: column.clone(),
                    })?;
                out.push(format!(
                    "{prefix} TYPE {}{collate}",
                    d.type_sql(&current.ty)
                ));
            }
            if let Some((_, nullable)) = change.nullable {
                out.push(format!(
                    "{prefix} {} NOT NULL",
                    if nullable { "DROP" } else { "SET" }
                ));
            }
            if let Some((_, default)) = &change.default {
                out.push(match default {
                    Some(e) => format!("{prefix} SET DEFAULT {}", default_sql(e)),
                    None => format!("{prefix} DROP DEFAULT"),
                });
            }
            out
        }
        Operation::CreateIndex { table, index } => {
            let tb = state
                .table(table)
                .ok_or_else(|| ReplayError::NoTable(table.clone()))?;
            vec![create_index_sql(d, tb, index)]
        }
        Operation::DropIndex { table, index } => {
            vec![format!("DROP INDEX {}", beside(table, &index.name))]
        }
        // NOT VALID is PostgreSQL's (its dialect renders it); elsewhere rows are checked
        // as the constraint is added, and there is nothing to validate later.
        Operation::ValidateConstraint { .. } => vec![],
        Operation::AddConstraint {
            table, constraint, ..
        } => vec![format!(
            "ALTER TABLE {} ADD {}",
            tr(table),
            constraint_sql(d, state, constraint)
        )],
        Operation::DropConstraint { table, constraint } => vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            tr(table),
            t(constraint.name())
        )],
        Operation::Execute { sql } => d
            .execute_text(sql)
            .map(|s| vec![s.trim().to_string()])
            .unwrap_or_default(),
        Operation::CreateSchema { name } if d.rules().schemas() => {
            vec![format!("CREATE SCHEMA {}", t(name))]
        }
        Operation::DropSchema { name } if d.rules().schemas() => {
            vec![format!("DROP SCHEMA {}", t(name))]
        }
        // Into the connection's own schema, whatever it is called.
        Operation::MoveTable {
            table,
            from,
            to: None,
        } if d.rules().schemas() => vec![format!(
            "DO $schema$ BEGIN EXECUTE format('ALTER TABLE %s SET SCHEMA %I', {}, current_schema()); END $schema$",
            string_literal(&d.qualified(from.as_deref(), table))
        )],
        Operation::MoveTable {
            table,
            from,
            to: Some(to),
        } if d.rules().schemas() => vec![format!(
            "ALTER TABLE {} SET SCHEMA {}",
            d.qualified(from.as_deref(), table),
            t(to)
        )],
        Operation::CreateSchema { .. }
        | Operation::DropSchema { .. }
        | Operation::MoveTable { .. } => vec![],
        Operation::CreateView { view } => d.view_steps(view, true),
        Operation::DropView { view } => d.view_steps(view, false),
        // Named types are PostgreSQL's (its dialect renders them); elsewhere each column
        // spells its values, and the dialect rewrites those columns when they change.
        Operation::CreateEnum { .. } | Operation::DropEnum { .. } | Operation::AlterEnum { .. } => {
            vec![]
        }
    })
}

/// Strips casts and outer parentheses, and folds case and spaces, so that `'a'::text`,
/// `('a')` and `'a'` compare equal.
pub fn normalize_expr(e: &str) -> String {
    let mut s = e.trim().to_string();
    // Casts: `::typename`, `::character varying(20)`.
    while let Some(i) = s.find("::") {
        let rest = &s[i + 2..];
        let mut end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ' ' || c == '"'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('(') {
            end += rest[end..].find(')').map(|j| j + 1).unwrap_or(0);
        }
        s = format!("{}{}", &s[..i], &rest[end..]);
    }
    let mut s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect();
    s.make_ascii_lowercase();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        assert_eq!(normalize_expr("'abc'::text"), normalize_expr("'abc'"));
        assert_eq!(
            normalize_expr("((karma >= 0))"),
            normalize_expr("karma >= 0")
        );
        assert_eq!(normalize_expr("'x'::character varying(20)"), "'x'");
        assert_eq!(normalize_expr("CURRENT_TIMESTAMP"), "current_timestamp");
    }

    #[test]
    fn a_name_with_a_line_break_stays_in_its_comment() {
        let step = Step::SaveDependents {
            table: "t\nDROP TABLE users; --".into(),
            indexes: vec![],
        };
        assert_eq!(step.to_string().lines().count(), 1, "{step}");
    }

    #[test]
    fn steps_print_as_a_script() {
        let t = "a\"b".to_string();
        assert_eq!(
            Step::SaveDependents {
                table: t.clone(),
                indexes: vec![]
            }
            .to_string(),
            "-- cargo-schema: keep the views, triggers and other indexes of \"a\"\"b\""
        );
        assert_eq!(
            Step::ForeignKeyCheck { table: t }.to_string(),
            "PRAGMA foreign_key_check(\"a\"\"b\")"
        );
    }
}
