//! SQLite: ALTER where SQLite can, otherwise the documented table rebuild (new table,
//! copy, drop, rename, recreate indexes, triggers and views, `foreign_key_check`), which
//! keeps every row; the rowid alias; and reading constraint names back from the table's SQL,
//! the only place SQLite keeps them.

use super::{
    create_index_sql, create_table_sql, is_literal, quote, quote_list, Dialect, DialectRules, Step,
};
use crate::model::{ColumnDef, IndexDef, Schema, TableDef};
use crate::ops::{EnumChange, Operation};
use crate::replay::{apply, ReplayError};
use crate::types::SqlType;

pub(super) struct Sqlite;

/// Prefix of the temporary table a rebuild copies rows into.
const REBUILD_PREFIX: &str = "_schema_new_";

impl DialectRules for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn type_sql(&self, ty: &SqlType) -> String {
        match ty {
            SqlType::Bytes => "BLOB".into(),
            SqlType::Enum { .. } => "TEXT".into(),
            SqlType::Custom { name, .. } => ty.spelling_for("sqlite").unwrap_or(name).to_string(),
            other => other.to_string().to_ascii_uppercase(),
        }
    }

    fn column_type(&self, table: Option<&TableDef>, c: &ColumnDef) -> String {
        // Only `INTEGER PRIMARY KEY` is the rowid alias that SQLite numbers itself.
        if table.is_some_and(|t| super::is_numbered_key(t, c)) {
            "INTEGER".into()
        } else {
            self.type_sql(&c.ty)
        }
    }

    fn named_enums(&self) -> bool {
        false
    }

    fn collation_sql(&self, name: &str) -> String {
        // SQLite's own (BINARY, NOCASE, RTRIM) are written bare, as its docs do.
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            name.to_string()
        } else {
            quote(name)
        }
    }

    fn enum_check(&self, column: &str, values: &[String]) -> Option<String> {
        Some(format!(
            "CHECK ({} IN ({}))",
            quote(column),
            values
                .iter()
                .map(|v| super::string_literal(v))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    fn render_special(
        &self,
        state: &Schema,
        op: &Operation,
    ) -> Option<Result<Vec<Step>, ReplayError>> {
        if let Operation::AlterEnum { name, change } = op {
            return Some(alter_enum(state, op, name, change));
        }
        if rebuild_reason(state, op).is_some() {
            return Some(rebuild_for(state, op));
        }
        match op {
            Operation::RenameIndex { table, from, to } => {
                Some(rename_index(state, table, from, to))
            }
            _ => None,
        }
    }

    fn defers_cyclic_foreign_keys(&self) -> bool {
        // SQLite checks foreign keys lazily: a cycle can stay inline.
        false
    }

    fn normalize_column(&self, _: &TableDef, c: &mut ColumnDef, numbered_key: bool) {
        c.ty = if let SqlType::Enum { values, .. } = &c.ty {
            // The values are in the column's CHECK; the type's name is nowhere.
            SqlType::Enum {
                name: String::new(),
                values: values.clone(),
            }
        } else if numbered_key {
            SqlType::Integer
        } else {
            SqlType::parse(&self.type_sql(&c.ty).to_ascii_lowercase(), None)
        };
        // Only a rowid alias is numbered by SQLite itself.
        c.auto_increment = numbered_key;
    }
}

/// Why SQLite needs a table rebuild for this operation, if it does.
pub fn rebuild_reason(state: &Schema, op: &Operation) -> Option<String> {
    match op {
        Operation::AddColumn { table, column } => {
            let plain = match (&column.generated, &column.default) {
                // SQLite adds a virtual generated column in place, not a stored one.
                (Some(g), _) => !g.stored,
                (None, None) => column.nullable,
                (None, Some(d)) => is_literal(d),
            };
            (!plain || column.auto_increment)
                .then(|| format!("SQLite cannot add column {table}.{} in place", column.name))
        }
        Operation::DropColumn { table, column } => {
            let in_check = state.table(table).is_some_and(|t| {
                t.checks
                    .iter()
                    .any(|c| c.expr.contains(column.name.as_str()))
            });
            in_check.then(|| {
                format!(
                    "column {table}.{} is used by a check constraint",
                    column.name
                )
            })
        }
        Operation::AlterColumn { table, column, .. } => Some(format!(
            "SQLite cannot alter column {table}.{column} in place"
        )),
        Operation::RenameConstraint { table, from, .. } => Some(format!(
            "SQLite keeps constraint names only in the table's definition ({from} on {table})"
        )),
        Operation::AddConstraint {
            table, constraint, ..
        }
        | Operation::DropConstraint { table, constraint } => Some(format!(
            "SQLite cannot add or drop constraint {} on {table} in place",
            constraint.name()
        )),
        _ => None,
    }
}

/// SQLite cannot rename an index: drop it and create it under the new name.
fn rename_index(
    state: &Schema,
    table: &str,
    from: &str,
    to: &str,
) -> Result<Vec<Step>, ReplayError> {
    let tb = state
        .table(table)
        .ok_or_else(|| ReplayError::NoTable(table.to_string()))?;
    let index = tb
        .indexes
        .iter()
        .find(|i| i.name == from)
        .ok_or_else(|| ReplayError::NoIndex {
            table: table.to_string(),
            index: from.to_string(),
        })?;
    let renamed = IndexDef {
        name: to.to_string(),
        ..index.clone()
    };
    Ok(vec![
        Step::Sql(format!("DROP INDEX {}", quote(from))),
        Step::Sql(create_index_sql(Dialect::Sqlite, tb, &renamed)),
    ])
}

fn rebuild_for(state: &Schema, op: &Operation) -> Result<Vec<Step>, ReplayError> {
    let tn = op.table_name().unwrap_or_default();
    let before = state
        .table(tn)
        .ok_or_else(|| ReplayError::NoTable(tn.to_string()))?
        .clone();
    // Rebuilt operations change one table only: replay on a copy of just that table.
    let mut after_schema = Schema::from_tables([before.clone()]);
    apply(&mut after_schema, op)?;
    let after = after_schema.tables.get(tn).cloned().unwrap_or_default();
    Ok(rebuild(&before, &after, &Default::default()))
}

/// An enum's values changed: every table with a column of it is rebuilt with the new
/// `CHECK`; a renamed value is rewritten as the rows are copied.
fn alter_enum(
    state: &Schema,
    op: &Operation,
    name: &str,
    change: &EnumChange,
) -> Result<Vec<Step>, ReplayError> {
    let mut after = state.clone();
    apply(&mut after, op)?;
    let mut tables: Vec<&str> = state
        .enum_columns(name)
        .iter()
        .map(|(t, _)| t.name.as_str())
        .collect();
    tables.dedup();
    let mut out = Vec::new();
    for tn in tables {
        let (Some(before), Some(t_after)) = (state.table(tn), after.table(tn)) else {
            continue;
        };
        let mut copy = std::collections::BTreeMap::new();
        if let EnumChange::Rename { from, to } = change {
            for (_, c) in state
                .enum_columns(name)
                .iter()
                .filter(|(t, _)| t.name == tn)
            {
                copy.insert(
                    c.name.clone(),
                    format!(
                        "CASE {col} WHEN {} THEN {} ELSE {col} END",
                        super::string_literal(from),
                        super::string_literal(to),
                        col = quote(&c.name)
                    ),
                );
            }
        }
        out.extend(rebuild(before, t_after, &copy));
    }
    Ok(out)
}

/// The `COLLATE` of each column definition of a CREATE TABLE statement, by column.
pub fn column_collations(sql: &str) -> Vec<(String, String)> {
    let toks = tokenize(sql);
    let mut out = Vec::new();
    let mut depth = 0;
    // The first token of each definition at depth 1 names its column.
    let mut column: Option<String> = None;
    let mut at_start = false;
    for i in 0..toks.len() {
        match &toks[i].0 {
            Token::Open => {
                depth += 1;
                if depth == 1 {
                    at_start = true;
                }
                continue;
            }
            Token::Close => depth -= 1,
            Token::Comma if depth == 1 => {
                at_start = true;
                column = None;
                continue;
            }
            Token::Word(w) | Token::Quoted(w) if depth == 1 && at_start => {
                let constraint = matches!(&toks[i].0, Token::Word(_))
                    && ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
                        .iter()
                        .any(|k| w.eq_ignore_ascii_case(k));
                column = (!constraint).then(|| w.clone());
            }
            Token::Word(w) if depth == 1 && w.eq_ignore_ascii_case("COLLATE") => {
                if let (Some(c), Some((Token::Word(n) | Token::Quoted(n), _, _))) =
                    (&column, toks.get(i + 1))
                {
                    out.push((c.clone(), n.clone()));
                }
            }
            _ => {}
        }
        at_start = false;
    }
    out
}

/// The values of the enum `CHECK`s of a CREATE TABLE statement's columns, by column, as
/// [`DialectRules::enum_check`] writes them: `CHECK ("c" IN ('a', 'b'))`, unnamed.
pub fn enum_checks(sql: &str) -> Vec<(String, Vec<String>)> {
    let toks = tokenize(sql);
    let mut out = Vec::new();
    let mut depth = 0;
    for i in 0..toks.len() {
        match &toks[i].0 {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            Token::Word(w) if depth == 1 && w.eq_ignore_ascii_case("CHECK") => {
                let named = i >= 2
                    && matches!(&toks[i - 2].0, Token::Word(c) if c.eq_ignore_ascii_case("CONSTRAINT"));
                if named {
                    continue;
                }
                let (
                    Some(Token::Open),
                    Some(Token::Quoted(col)),
                    Some(Token::Word(kw)),
                    Some(Token::Open),
                ) = (
                    toks.get(i + 1).map(|t| &t.0),
                    toks.get(i + 2).map(|t| &t.0),
                    toks.get(i + 3).map(|t| &t.0),
                    toks.get(i + 4).map(|t| &t.0),
                )
                else {
                    continue;
                };
                if !kw.eq_ignore_ascii_case("IN") {
                    continue;
                }
                let mut values = Vec::new();
                let mut j = i + 5;
                let mut closed = false;
                while let Some((t, _, _)) = toks.get(j) {
                    match t {
                        Token::Other(lit) if lit.len() >= 2 && lit.starts_with('\'') => {
                            values.push(lit[1..lit.len() - 1].replace("''", "'"));
                        }
                        Token::Comma => {}
                        Token::Close => {
                            closed = true;
                            break;
                        }
                        _ => break,
                    }
                    j += 1;
                }
                if closed && matches!(toks.get(j + 1).map(|t| &t.0), Some(Token::Close)) {
                    out.push((col.clone(), values));
                }
            }
            _ => {}
        }
    }
    out
}

/// The documented rebuild. The runner turns foreign key enforcement off around the
/// revision, as the procedure requires. `copy` gives, by column, the expression its rows
/// are copied through (none: the column as it is).
fn rebuild(
    before: &TableDef,
    after: &TableDef,
    copy: &std::collections::BTreeMap<String, String>,
) -> Vec<Step> {
    let tmp = format!("{REBUILD_PREFIX}{}", after.name);
    let common: Vec<String> = after
        .columns
        .iter()
        .filter(|c| before.column(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    let mut out = vec![Step::Sql(create_table_sql(
        Dialect::Sqlite,
        &Schema::new(),
        after,
        &tmp,
    ))];
    if !common.is_empty() {
        let select = common
            .iter()
            .map(|c| copy.get(c).cloned().unwrap_or_else(|| quote(c)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Step::Sql(format!(
            "INSERT INTO {} ({}) SELECT {select} FROM {}",
            quote(&tmp),
            quote_list(Dialect::Sqlite, &common),
            quote(&before.name),
        )));
    }
    out.push(Step::SaveDependents {
        table: before.name.clone(),
        indexes: before
            .indexes
            .iter()
            .chain(&after.indexes)
            .map(|i| i.name.clone())
            .collect(),
    });
    out.push(Step::Sql(format!("DROP TABLE {}", quote(&before.name))));
    out.push(Step::Sql(format!(
        "ALTER TABLE {} RENAME TO {}",
        quote(&tmp),
        quote(&after.name)
    )));
    out.extend(
        after
            .indexes
            .iter()
            .map(|i| Step::Sql(create_index_sql(Dialect::Sqlite, after, i))),
    );
    out.push(Step::RestoreDependents);
    out.push(Step::ForeignKeyCheck {
        table: after.name.clone(),
    });
    out
}

/// A `CONSTRAINT "name" KIND (...)` clause of a CREATE TABLE statement.
#[derive(Debug)]
pub struct Clause {
    pub name: String,
    /// `pk`, `fk`, `unique` or `check`.
    pub kind: &'static str,
    pub columns: Vec<String>,
    /// The text inside `CHECK ( ... )`.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Comma,
    Other(String),
}
fn tokenize(sql: &str) -> Vec<(Token, usize, usize)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Token::Open
            }
            ')' => {
                i += 1;
                Token::Close
            }
            ',' => {
                i += 1;
                Token::Comma
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { b']' } else { c as u8 };
                let mut s = String::new();
                i += 1;
                while i < b.len() {
                    if b[i] == close {
                        if i + 1 < b.len() && b[i + 1] == close && close != b']' {
                            s.push(close as char);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    let ch_len = utf8_len(b[i]);
                    s.push_str(&sql[i..i + ch_len]);
                    i += ch_len;
                }
                Token::Quoted(s)
            }
            '\'' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if i + 1 < b.len() && b[i + 1] == b'\'' {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                Token::Other(sql[start..i].to_string())
            }
            c if c.is_alphanumeric() || c == '_' => {
                while i < b.len()
                    && ((b[i] as char).is_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                Token::Word(sql[start..i].to_string())
            }
            _ => {
                i += utf8_len(b[i]);
                Token::Other(sql[start..i].to_string())
            }
        };
        out.push((tok, start, i));
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// The constraint clauses of a CREATE TABLE statement: the named ones, and the checks
/// the SQL did not name (with an empty name).
pub fn constraint_clauses(sql: &str) -> Vec<Clause> {
    let toks = tokenize(sql);
    let word = |i: usize| match toks.get(i) {
        Some((Token::Word(w), _, _)) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    let ident = |i: usize| match toks.get(i) {
        Some((Token::Word(w), _, _)) | Some((Token::Quoted(w), _, _)) => Some(w.clone()),
        _ => None,
    };
    // Columns of a parenthesised list starting at token i (an Open).
    let list = |i: usize| -> (Vec<String>, usize) {
        let mut cols = Vec::new();
        let mut j = i + 1;
        while j < toks.len() && toks[j].0 != Token::Close {
            if let Some(n) = ident(j) {
                cols.push(n);
            }
            j += 1;
        }
        (cols, j + 1)
    };
    // The balanced text inside CHECK ( ... ) whose parenthesis is token `open`, and the
    // token after it.
    let check_body = |open: usize| -> (String, usize) {
        let mut d = 0;
        let mut j = open;
        let start = toks.get(open).map(|t| t.2).unwrap_or(0);
        let mut end = start;
        while j < toks.len() {
            match toks[j].0 {
                Token::Open => d += 1,
                Token::Close => {
                    d -= 1;
                    if d == 0 {
                        end = toks[j].1;
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        (sql[start..end].trim().to_string(), j + 1)
    };
    let mut out = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            // A check the SQL did not name (on a column or the table): SQLite keeps no
            // name for it.
            Token::Word(w) if depth == 1 && w.eq_ignore_ascii_case("CHECK") => {
                let (body, next) = check_body(i + 1);
                out.push(Clause {
                    name: String::new(),
                    kind: "check",
                    columns: vec![],
                    body,
                });
                i = next;
                continue;
            }
            Token::Word(w) if depth == 1 && w.eq_ignore_ascii_case("CONSTRAINT") => {
                let Some(name) = ident(i + 1) else {
                    i += 1;
                    continue;
                };
                let k = i + 2;
                let (kind, open) = match (word(k).as_str(), word(k + 1).as_str()) {
                    ("PRIMARY", "KEY") => ("pk", k + 2),
                    ("FOREIGN", "KEY") => ("fk", k + 2),
                    ("UNIQUE", _) => ("unique", k + 1),
                    ("CHECK", _) => ("check", k + 1),
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                if kind == "check" {
                    let (body, next) = check_body(open);
                    out.push(Clause {
                        name,
                        kind,
                        columns: vec![],
                        body,
                    });
                    i = next;
                    continue;
                }
                let (columns, next) = list(open);
                out.push(Clause {
                    name,
                    kind,
                    columns,
                    body: String::new(),
                });
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_constraint_names_from_create_table() {
        let sql = r#"CREATE TABLE "t" ("id" INTEGER NOT NULL, "a""b" TEXT, CONSTRAINT "pk_t" PRIMARY KEY ("id"), CONSTRAINT "uq" UNIQUE ("a""b"), CONSTRAINT "ck_t_x" CHECK (length("a""b") > 0 AND ("id" > 1)), CONSTRAINT "fk" FOREIGN KEY ("id") REFERENCES "o" ("id"))"#;
        let c = constraint_clauses(sql);
        assert_eq!(c.len(), 4);
        assert_eq!(
            (c[0].name.as_str(), c[0].kind, c[0].columns.clone()),
            ("pk_t", "pk", vec!["id".to_string()])
        );
        assert_eq!(c[1].columns, vec!["a\"b".to_string()]);
        assert_eq!(c[2].body, r#"length("a""b") > 0 AND ("id" > 1)"#);
        assert_eq!(c[3].kind, "fk");
    }

    #[test]
    fn reads_checks_nobody_named() {
        let sql = "CREATE TABLE t (a INTEGER CHECK (a >= 0), b TEXT, CHECK (length(b) < 9), CONSTRAINT ck CHECK (a < 5))";
        let c = constraint_clauses(sql);
        let checks: Vec<(&str, &str)> = c
            .iter()
            .map(|c| (c.name.as_str(), c.body.as_str()))
            .collect();
        assert_eq!(
            checks,
            [("", "a >= 0"), ("", "length(b) < 9"), ("ck", "a < 5")]
        );
    }
}
