//! MySQL and MariaDB: backquoted names, `AUTO_INCREMENT`, `MODIFY COLUMN` for every column
//! change, constraints dropped by kind, and DDL that commits itself (the runner records a
//! revision's progress operation by operation instead of relying on a transaction).
//!
//! Keys over text: InnoDB cannot index `TEXT`/`BLOB` without a length and limits a key to
//! 3072 bytes. A `text` (or `bytes`) column that is part of a primary key, a unique
//! constraint or index, or a foreign key is spelled `varchar(255)` (`varbinary(255)`):
//! 255 characters of utf8mb4 are 1020 bytes, so three such columns still fit one key, and
//! a longer value is refused (strict mode), never cut. A non-unique index over such a
//! column indexes its first 255 characters. A prefix is never used for a unique key: it
//! would make only the prefix unique, and a foreign key cannot use one. The column goes
//! back to `longtext` when its last key is dropped.
//!
//! Tested on MariaDB 10.11. MySQL 8 differs in what is documented in the README: no
//! `DROP INDEX IF EXISTS` / `DROP FOREIGN KEY IF EXISTS` (used when a foreign key's
//! implicit index is dropped), and `CHECK` clauses and defaults read back in another
//! spelling.

use super::{column_sql, constraint_sql, Dialect, DialectRules, Step};
use crate::model::{
    ColumnDef, Constraint, ForeignKeyDef, IndexDef, ReferentialAction, Schema, TableDef,
};
use crate::ops::{EnumChange, Operation};
use crate::replay::{apply, ReplayError};
use crate::types::SqlType;

pub(super) struct Mysql;

/// The length of a text column in a key, and of a non-unique index's prefix.
pub const KEY_TEXT_LENGTH: u32 = 255;

const D: Dialect = Dialect::Mysql;

impl DialectRules for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn quote_char(&self) -> char {
        '`'
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn indexes_inline(&self) -> bool {
        true
    }

    fn type_sql(&self, ty: &SqlType) -> String {
        match ty {
            SqlType::SmallInt => "smallint".into(),
            SqlType::Integer => "int".into(),
            SqlType::BigInt => "bigint".into(),
            SqlType::Real => "float".into(),
            SqlType::Double => "double".into(),
            SqlType::Boolean => "tinyint(1)".into(),
            SqlType::Text => "longtext".into(),
            SqlType::Varchar(n) => format!("varchar({n})"),
            SqlType::Bytes => "longblob".into(),
            SqlType::Date => "date".into(),
            // No time zones: both keep microseconds, and the application gives UTC.
            SqlType::Timestamp | SqlType::TimestampTz => "datetime(6)".into(),
            SqlType::Uuid => "char(36)".into(),
            // A bare DECIMAL would mean (10,0) here: keep PostgreSQL's fractional digits.
            SqlType::Decimal(None) => "decimal(65,30)".into(),
            SqlType::Decimal(Some((p, s))) => format!("decimal({p},{s})"),
            SqlType::Json => "json".into(),
            SqlType::Enum { values, .. } => format!(
                "enum({})",
                values
                    .iter()
                    .map(|v| mysql_literal(v))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            SqlType::Custom { name, .. } => match ty.spelling_for("mysql") {
                Some(own) => own.to_string(),
                None => custom_spelling(name),
            },
        }
    }

    fn column_type(&self, table: Option<&TableDef>, c: &ColumnDef) -> String {
        if table.is_some_and(|t| is_keyed(t, &c.name)) {
            match c.ty {
                SqlType::Text => return format!("varchar({KEY_TEXT_LENGTH})"),
                SqlType::Bytes => return format!("varbinary({KEY_TEXT_LENGTH})"),
                _ => {}
            }
        }
        self.type_sql(&c.ty)
    }

    fn numbering_clause(&self) -> &'static str {
        " AUTO_INCREMENT"
    }

    fn index_columns(&self, table: &TableDef, i: &IndexDef) -> String {
        i.columns
            .iter()
            .map(|name| {
                let long = !i.unique
                    && !is_keyed(table, name)
                    && table
                        .column(name)
                        .is_some_and(|c| matches!(c.ty, SqlType::Text | SqlType::Bytes));
                if long {
                    format!("{}({KEY_TEXT_LENGTH})", D.quote(name))
                } else {
                    D.quote(name)
                }
            })
            // MySQL 8's functional key parts; MariaDB has none (`revision` refuses them).
            .chain(
                i.expressions
                    .iter()
                    .map(|e| format!("(({}))", backquoted(e))),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn expression_sql(&self, expr: &str) -> String {
        backquoted(expr)
    }

    fn render_special(
        &self,
        state: &Schema,
        op: &Operation,
    ) -> Option<Result<Vec<Step>, ReplayError>> {
        Some(render(state, op).map(|v| v.into_iter().map(Step::Sql).collect()))
    }

    fn inline_comment(&self, text: &str) -> Option<String> {
        Some(format!("COMMENT {}", mysql_literal(text)))
    }

    fn inline_table_comment(&self, text: &str) -> Option<String> {
        Some(format!("COMMENT={}", mysql_literal(text)))
    }

    fn stores_comments(&self) -> bool {
        true
    }

    fn defers_cyclic_foreign_keys(&self) -> bool {
        true
    }

    fn normalize_column(&self, table: &TableDef, c: &mut ColumnDef, numbered_key: bool) {
        c.ty = reported_type(&self.column_type(Some(table), c));
        c.auto_increment = numbered_key;
        if c.generated.is_some() {
            // Declared without NOT NULL (MariaDB refuses it), reported nullable.
            c.nullable = true;
        }
    }

    fn generated_not_null(&self) -> bool {
        false
    }

    fn normalize_expr(&self, e: &str) -> String {
        let plain = super::normalize_expr(&e.replace(['`', '"'], ""));
        match plain.as_str() {
            "true" => "1".into(),
            "false" => "0".into(),
            "now" | "now6" | "current_timestamp" | "current_timestamp6" => {
                "current_timestamp".into()
            }
            _ => plain,
        }
    }

    fn named_enums(&self) -> bool {
        false
    }

    fn collation_sql(&self, name: &str) -> String {
        name.to_string()
    }

    fn normalize_table(&self, t: &mut TableDef) {
        // The primary key is always called PRIMARY.
        if let Some(pk) = &mut t.primary_key {
            pk.name = "PRIMARY".into();
        }
        // A unique index is a unique constraint here.
        let (unique, plain): (Vec<IndexDef>, Vec<IndexDef>) = std::mem::take(&mut t.indexes)
            .into_iter()
            .partition(|i| i.unique);
        t.indexes = plain;
        t.uniques
            .extend(unique.into_iter().map(|i| crate::model::UniqueDef {
                name: i.name,
                columns: i.columns,
            }));
        t.uniques.sort_by(|a, b| a.name.cmp(&b.name));
        // InnoDB has no deferred checks: NO ACTION is RESTRICT.
        for fk in &mut t.foreign_keys {
            for a in [&mut fk.on_delete, &mut fk.on_update] {
                if *a == ReferentialAction::NoAction {
                    *a = ReferentialAction::Restrict;
                }
            }
        }
    }
}

/// Standard SQL's double-quoted names in MySQL's backquotes (string literals untouched).
fn backquoted(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                out.push(c);
                while let Some(x) = chars.next() {
                    out.push(x);
                    if x == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.push('\'');
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {
                let mut name = String::new();
                while let Some(x) = chars.next() {
                    if x == '"' {
                        if chars.peek() == Some(&'"') {
                            name.push('"');
                            chars.next();
                        } else {
                            break;
                        }
                    } else {
                        name.push(x);
                    }
                }
                out.push_str(&D.quote(&name));
            }
            _ => out.push(c),
        }
    }
    out
}

/// PostgreSQL-only names of custom types, in their MySQL spelling; any other custom type
/// is sent as the file spells it.
fn custom_spelling(postgres: &str) -> String {
    match postgres.trim().to_ascii_lowercase().as_str() {
        "jsonb" => "json".into(),
        "bytea" => "longblob".into(),
        "citext" => "longtext".into(),
        "serial" | "serial4" => "int".into(),
        "bigserial" | "serial8" => "bigint".into(),
        "smallserial" | "serial2" => "smallint".into(),
        "double precision" | "float8" => "double".into(),
        "timestamptz" | "timestamp with time zone" | "timestamp" => "datetime(6)".into(),
        _ => postgres.to_string(),
    }
}

/// A type as `information_schema.COLUMNS.COLUMN_TYPE` reports it, in the model's terms
/// (MariaDB still shows integer display widths: `int(11)`).
pub fn reported_type(column_type: &str) -> SqlType {
    let lower = column_type.trim().to_ascii_lowercase();
    for int in ["smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = lower.strip_prefix(int) {
            if let Some(close) = rest.strip_prefix('(').and_then(|r| r.find(')')) {
                let after = &rest[close + 2..];
                return SqlType::parse(&format!("{int}{after}"), None);
            }
        }
    }
    SqlType::parse(&lower, None)
}

/// Whether column `name` of `t` is part of a key that cannot take a long text column.
fn is_keyed(t: &TableDef, name: &str) -> bool {
    let has = |cols: &[String]| cols.iter().any(|c| c == name);
    t.primary_key.as_ref().is_some_and(|k| has(&k.columns))
        || t.uniques.iter().any(|u| has(&u.columns))
        || t.indexes.iter().any(|i| i.unique && has(&i.columns))
        || t.foreign_keys.iter().any(|f| has(&f.columns))
}

fn table<'s>(state: &'s Schema, name: &str) -> Result<&'s TableDef, ReplayError> {
    state
        .table(name)
        .ok_or_else(|| ReplayError::NoTable(name.to_string()))
}

fn alter(table: &str, what: String) -> String {
    format!("ALTER TABLE {} {what}", D.quote(table))
}

/// `MODIFY COLUMN` with the column's whole definition as `t` has it.
fn modify(t: &TableDef, c: &ColumnDef) -> String {
    alter(
        &t.name,
        format!("MODIFY COLUMN {}", column_sql(D, Some(t), c)),
    )
}

/// Each column of the enum gets its new value list. A renamed value takes three steps:
/// the list with both spellings, the rows moved over, then the final list.
fn alter_enum(
    state: &Schema,
    op: &Operation,
    name: &str,
    change: &EnumChange,
) -> Result<Vec<String>, ReplayError> {
    let mut after = state.clone();
    apply(&mut after, op)?;
    let mut out = Vec::new();
    for (t, c) in state.enum_columns(name) {
        let t_after = table(&after, &t.name)?;
        let Some(c_after) = t_after.column(&c.name) else {
            continue;
        };
        if let (EnumChange::Rename { from, to }, SqlType::Enum { values, .. }) = (change, &c.ty) {
            let mut both = c.clone();
            both.ty = SqlType::Enum {
                name: name.to_string(),
                values: values.iter().cloned().chain([to.clone()]).collect(),
            };
            out.push(modify(t, &both));
            out.push(format!(
                "UPDATE {} SET {col} = {} WHERE {col} = {}",
                D.quote(&t.name),
                mysql_literal(to),
                mysql_literal(from),
                col = D.quote(&c.name)
            ));
        }
        out.push(modify(t_after, c_after));
    }
    Ok(out)
}

/// Dropping a foreign key leaves the index InnoDB made for it (named after it) behind.
fn drop_foreign_key(table: &str, fk: &ForeignKeyDef, t: &TableDef) -> Vec<String> {
    let mut out = vec![alter(
        table,
        format!("DROP FOREIGN KEY IF EXISTS {}", D.quote(&fk.name)),
    )];
    if !t.indexes.iter().any(|i| i.name == fk.name) {
        out.push(format!(
            "DROP INDEX IF EXISTS {} ON {}",
            D.quote(&fk.name),
            D.quote(table)
        ));
    }
    out
}

fn drop_constraint(table: &str, c: &Constraint, t: &TableDef) -> Vec<String> {
    match c {
        Constraint::PrimaryKey(_) => vec![alter(table, "DROP PRIMARY KEY".into())],
        Constraint::Unique(u) => vec![alter(table, format!("DROP INDEX {}", D.quote(&u.name)))],
        Constraint::ForeignKey(fk) => drop_foreign_key(table, fk, t),
        Constraint::Check(k) => vec![alter(
            table,
            format!("DROP CONSTRAINT {}", D.quote(&k.name)),
        )],
    }
}

fn render(state: &Schema, op: &Operation) -> Result<Vec<String>, ReplayError> {
    let main = match op {
        Operation::RenameIndex { table, from, to } => vec![alter(
            table,
            format!("RENAME INDEX {} TO {}", D.quote(from), D.quote(to)),
        )],
        Operation::RenameConstraint {
            table: tn,
            from,
            to,
        } => {
            let t = table(state, tn)?;
            let c = t
                .constraints()
                .into_iter()
                .find(|c| c.name() == from)
                .ok_or_else(|| ReplayError::NoConstraint {
                    table: tn.clone(),
                    constraint: from.clone(),
                })?;
            match &c {
                // Always named PRIMARY.
                Constraint::PrimaryKey(_) => vec![],
                Constraint::Unique(_) => vec![alter(
                    tn,
                    format!("RENAME INDEX {} TO {}", D.quote(from), D.quote(to)),
                )],
                Constraint::Check(k) => vec![alter(
                    tn,
                    format!(
                        "DROP CONSTRAINT {}, ADD CONSTRAINT {} CHECK ({})",
                        D.quote(from),
                        D.quote(to),
                        backquoted(&k.expr)
                    ),
                )],
                Constraint::ForeignKey(fk) => {
                    let mut out = drop_foreign_key(tn, fk, t);
                    let renamed = ForeignKeyDef {
                        name: to.clone(),
                        ..fk.clone()
                    };
                    out.push(alter(
                        tn,
                        format!(
                            "ADD {}",
                            constraint_sql(D, state, &Constraint::ForeignKey(renamed))
                        ),
                    ));
                    out
                }
            }
        }
        Operation::DropIndex { table, index } => vec![format!(
            "DROP INDEX {} ON {}",
            D.quote(&index.name),
            D.quote(table)
        )],
        Operation::DropConstraint {
            table: tn,
            constraint,
        } => drop_constraint(tn, constraint, table(state, tn)?),
        // A table's comment is an ALTER TABLE option; a column's is part of its definition.
        Operation::SetComment {
            table: tn,
            column: None,
            to,
            ..
        } => vec![alter(
            tn,
            format!("COMMENT = {}", mysql_literal(to.as_deref().unwrap_or(""))),
        )],
        Operation::SetComment {
            table: tn,
            column: Some(column),
            ..
        }
        | Operation::AlterColumn {
            table: tn, column, ..
        } => {
            let mut after = state.clone();
            apply(&mut after, op)?;
            let t = table(&after, tn)?;
            let c = t.column(column).ok_or_else(|| ReplayError::NoColumn {
                table: tn.clone(),
                column: column.clone(),
            })?;
            vec![modify(t, c)]
        }
        Operation::AlterEnum { name, change } => alter_enum(state, op, name, change)?,
        _ => super::common_op(D, state, op)?,
    };
    with_key_lengths(state, op, main)
}

/// Long text columns entering a key become `varchar` before the statement that makes the
/// key; those leaving their last key go back to `longtext` after the one that drops it.
fn with_key_lengths(
    state: &Schema,
    op: &Operation,
    main: Vec<String>,
) -> Result<Vec<String>, ReplayError> {
    let (Operation::AddConstraint { table: tn, .. }
    | Operation::DropConstraint { table: tn, .. }
    | Operation::CreateIndex { table: tn, .. }
    | Operation::DropIndex { table: tn, .. }) = op
    else {
        return Ok(main);
    };
    let before = table(state, tn)?;
    let mut after_state = state.clone();
    apply(&mut after_state, op)?;
    let after = table(&after_state, tn)?;
    let long = |c: &ColumnDef| matches!(c.ty, SqlType::Text | SqlType::Bytes);
    let mut out = Vec::new();
    for c in before.columns.iter().filter(|c| long(c)) {
        if !is_keyed(before, &c.name) && is_keyed(after, &c.name) {
            out.push(modify(after, c));
        }
    }
    out.extend(main);
    for c in before.columns.iter().filter(|c| long(c)) {
        if is_keyed(before, &c.name) && !is_keyed(after, &c.name) {
            out.push(modify(after, c));
        }
    }
    Ok(out)
}

/// A string literal for MySQL: quotes doubled, and backslashes too (MySQL reads them as
/// escapes unless NO_BACKSLASH_ESCAPES is set).
fn mysql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names_are_backquoted() {
        assert_eq!(
            backquoted(r#""order" >= 0 AND "a""b" <> 'x"y''z'"#),
            r#"`order` >= 0 AND `a"b` <> 'x"y''z'"#
        );
    }

    #[test]
    fn reported_types() {
        assert_eq!(reported_type("int(11)"), SqlType::Integer);
        assert_eq!(reported_type("bigint(20)"), SqlType::BigInt);
        assert_eq!(reported_type("varchar(255)"), SqlType::Varchar(255));
        assert_eq!(
            reported_type("decimal(10,2)"),
            SqlType::Decimal(Some((10, 2)))
        );
        assert_eq!(
            Mysql.type_sql(&reported_type("tinyint(1)")),
            Mysql.type_sql(&SqlType::Boolean)
        );
    }
}
