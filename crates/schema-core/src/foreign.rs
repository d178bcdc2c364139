//! Other tools' migration histories (refinery, sqlx, diesel): their file layouts, the
//! tables where they record what a database applied, and their SQL turned into operations
//! where a SQL parser understands it (tables, columns, constraints, indexes, views), so that an
//! imported history replays offline. Everything else stays SQL, as `execute` steps.

use std::path::{Path, PathBuf};

use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, ColumnOption, ObjectName, ObjectType,
    Statement, TableConstraint,
};
use sqlparser::dialect::{GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::dialect::Dialect;
use crate::model::{
    CheckDef, ColumnDef, Constraint, ForeignKeyDef, Generated, IndexDef, PrimaryKeyDef,
    ReferentialAction, TableDef, UniqueDef, ViewDef,
};
use crate::ops::{AlterColumn, ExecuteSql, Operation};
use crate::replay::apply;
use crate::types::SqlType;
use crate::Schema;

/// Whether `table` is where one of these tools records its history.
pub fn is_history_table(table: &str) -> bool {
    [Tool::Refinery, Tool::Sqlx, Tool::Diesel]
        .iter()
        .any(|t| t.history_table() == table)
}

/// A migration tool whose history can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Refinery,
    Sqlx,
    Diesel,
}

impl Tool {
    pub fn parse(name: &str) -> Option<Tool> {
        match name {
            "refinery" => Some(Tool::Refinery),
            "sqlx" => Some(Tool::Sqlx),
            "diesel" => Some(Tool::Diesel),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::Refinery => "refinery",
            Tool::Sqlx => "sqlx",
            Tool::Diesel => "diesel",
        }
    }

    /// The table where the tool records what a database applied.
    pub fn history_table(self) -> &'static str {
        match self {
            Tool::Refinery => "refinery_schema_history",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Diesel => "__diesel_schema_migrations",
        }
    }

    /// The query for the versions a database applied, as text.
    pub fn applied_query(self, d: Dialect) -> String {
        let text = match d {
            Dialect::Mysql => "CHAR",
            _ => "TEXT",
        };
        let only_done = match self {
            // A failed sqlx migration leaves a row with success false.
            Tool::Sqlx => " WHERE success",
            _ => "",
        };
        format!(
            "SELECT CAST(version AS {text}) FROM {}{only_done}",
            self.history_table()
        )
    }
}

/// One migration of another tool, read from its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignMigration {
    /// The version as the tool records it in its history table.
    pub version: String,
    pub name: String,
    pub up: String,
    /// The down migration, where the tool has one.
    pub down: Option<String>,
    /// The up file, relative to the directory.
    pub path: PathBuf,
}

/// What is wrong with a tool's migration directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ForeignError {
    pub path: PathBuf,
    pub message: String,
}

fn foreign_error(path: &Path, message: impl Into<String>) -> ForeignError {
    ForeignError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The tool's migrations among `files` (paths relative to its directory, with their
/// text), in the order the tool applies them. Files that are not migrations are skipped;
/// a migration the tool writes in Rust, or two with one version, is an error.
pub fn collect(
    tool: Tool,
    files: &[(PathBuf, String)],
) -> Result<Vec<ForeignMigration>, ForeignError> {
    // (sort key, migration)
    let mut found: Vec<(u128, String, ForeignMigration)> = Vec::new();
    let mut downs: Vec<(String, String)> = Vec::new();
    for (path, text) in files {
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match tool {
            Tool::Refinery => {
                let Some(rest) = file.strip_prefix(['V', 'U']) else {
                    continue;
                };
                let Some((num, name)) = rest.split_once("__") else {
                    continue;
                };
                let Ok(v) = num.parse::<u128>() else {
                    continue;
                };
                if name.ends_with(".rs") {
                    return Err(foreign_error(
                        path,
                        "a migration written in Rust cannot be imported; rewrite it as SQL",
                    ));
                }
                let Some(name) = name.strip_suffix(".sql") else {
                    continue;
                };
                found.push((v, num.to_string(), migration(v, name, text, path)));
            }
            Tool::Sqlx => {
                let Some((num, rest)) = file.split_once('_') else {
                    continue;
                };
                let Ok(v) = num.parse::<u128>() else {
                    continue;
                };
                if rest.ends_with(".down.sql") {
                    downs.push((v.to_string(), text.clone()));
                    continue;
                }
                let Some(name) = rest
                    .strip_suffix(".up.sql")
                    .or_else(|| rest.strip_suffix(".sql"))
                else {
                    continue;
                };
                found.push((v, num.to_string(), migration(v, name, text, path)));
            }
            Tool::Diesel => {
                let dir = path
                    .parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .unwrap_or("");
                let Some((stamp, name)) = dir.split_once('_') else {
                    continue;
                };
                // diesel's version is the directory's prefix without its dashes.
                let version: String = stamp.chars().filter(|c| *c != '-').collect();
                let Ok(v) = version.parse::<u128>() else {
                    continue;
                };
                match file {
                    "up.sql" => {
                        let mut m = migration(v, name, text, path);
                        m.version = version.clone();
                        found.push((v, version, m));
                    }
                    "down.sql" => downs.push((version, text.clone())),
                    _ => {}
                }
            }
        }
    }
    found.sort_by_key(|(v, _, _)| *v);
    for pair in found.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(foreign_error(
                &pair[1].2.path,
                format!("version {} is also {}", pair[1].1, pair[0].2.path.display()),
            ));
        }
    }
    Ok(found
        .into_iter()
        .map(|(_, _, mut m)| {
            m.down = downs
                .iter()
                .find(|(v, _)| *v == m.version)
                .map(|(_, t)| t.clone());
            m
        })
        .collect())
}

fn migration(v: u128, name: &str, text: &str, path: &Path) -> ForeignMigration {
    ForeignMigration {
        version: v.to_string(),
        name: name.to_string(),
        up: text.to_string(),
        down: None,
        path: path.to_path_buf(),
    }
}

/// One migration's SQL as operations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Converted {
    pub ops: Vec<Operation>,
    /// The statements kept as SQL (`execute` steps), and why, for the user to review.
    pub kept: Vec<String>,
}

/// Turns `sql`, written for `d`, into operations, applying each to `state` as it goes
/// (a statement reads the state its predecessors left: a dropped table's definition, a
/// column's type before it changes). A statement the parser does not understand, or
/// that is not a change of tables, columns, constraints or indexes, stays SQL; a file the
/// parser cannot read at all stays SQL whole.
pub fn convert(sql: &str, d: Dialect, state: &mut Schema) -> Converted {
    let mut out = Converted::default();
    if sql.trim().is_empty() {
        return out;
    }
    let parsed = match d {
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql),
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, sql),
        Dialect::Mysql => Parser::parse_sql(&MySqlDialect {}, sql),
    }
    .or_else(|_| Parser::parse_sql(&GenericDialect {}, sql));
    let statements = match parsed {
        Ok(s) => s,
        Err(e) => {
            out.ops.push(execute(sql.trim().to_string()));
            out.kept
                .push(format!("the whole file (the SQL parser stopped: {e})"));
            return out;
        }
    };
    for stmt in statements {
        let text = stmt.to_string();
        match statement_ops(&stmt, d, state) {
            Ok(Some(ops)) => {
                let mut s = state.clone();
                match ops.iter().try_for_each(|op| apply(&mut s, op)) {
                    Ok(()) => {
                        *state = s;
                        out.ops.extend(ops);
                    }
                    Err(e) => {
                        out.kept.push(format!("{} ({e})", summary(&text)));
                        out.ops.push(execute(text));
                    }
                }
            }
            Ok(None) => {
                if !is_data(&stmt) {
                    out.kept.push(summary(&text));
                }
                out.ops.push(execute(text));
            }
            Err(why) => {
                out.kept.push(format!("{} ({why})", summary(&text)));
                out.ops.push(execute(text));
            }
        }
    }
    out
}

/// The downgrade of a migration: its down SQL converted, when it puts the schema back as
/// it was before `up` (checked by replay); else the inverses of the converted upgrade
/// operations, in reverse order (data steps have none and are left out). The flag says
/// whether the down SQL was used.
pub fn downgrade(
    up: &[Operation],
    down: Option<&str>,
    d: Dialect,
    before: &Schema,
    after: &Schema,
) -> (Converted, bool) {
    if let Some(sql) = down {
        let mut s = after.clone();
        let converted = convert(sql, d, &mut s);
        if s.canonical() == before.canonical() {
            return (converted, true);
        }
    }
    let ops = up.iter().rev().filter_map(Operation::inverse).collect();
    (Converted { ops, kept: vec![] }, false)
}

fn execute(sql: String) -> Operation {
    Operation::Execute {
        sql: ExecuteSql::All(sql),
    }
}

/// A statement that only reads or writes rows (not worth listing as kept).
fn is_data(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Query(_)
    )
}

fn summary(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        format!("{}...", one_line.chars().take(77).collect::<String>())
    } else {
        one_line
    }
}

fn last_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .unwrap_or_default()
}

/// The PostgreSQL schema a qualified name names (none: unqualified or `public`).
fn schema_of(name: &ObjectName, d: Dialect) -> Option<String> {
    if d != Dialect::Postgres || name.0.len() < 2 {
        return None;
    }
    name.0[name.0.len() - 2]
        .as_ident()
        .map(|i| i.value.clone())
        .filter(|s| s != "public")
}

/// What the database calls a constraint the SQL did not name: PostgreSQL's rules
/// (`users_pkey`, `users_email_key`, `posts_user_id_fkey`, `users_age_check`); the other
/// dialects keep no name for it, and comparisons there take the model's.
fn default_name(d: Dialect, table: &str, columns: &[String], suffix: &str) -> String {
    match d {
        Dialect::Postgres => {
            let mut parts = vec![table.to_string()];
            parts.extend(columns.iter().cloned());
            parts.push(suffix.to_string());
            parts.join("_")
        }
        _ => {
            let short = match suffix {
                "pkey" => "pk",
                "key" => "uq",
                "fkey" => "fk",
                _ => "ck",
            };
            let mut parts = vec![short.to_string(), table.to_string()];
            parts.extend(columns.iter().cloned());
            parts.join("_")
        }
    }
}

/// A foreign key on `columns` (written on a column, or on the table).
fn foreign_key(
    fk: &ast::ForeignKeyConstraint,
    name: Option<String>,
    columns: Vec<String>,
    d: Dialect,
    table: &str,
) -> ForeignKeyDef {
    ForeignKeyDef {
        name: name.unwrap_or_else(|| default_name(d, table, &columns, "fkey")),
        columns,
        ref_table: last_name(&fk.foreign_table),
        ref_columns: fk
            .referred_columns
            .iter()
            .map(|i| i.value.clone())
            .collect(),
        on_delete: action(&fk.on_delete),
        on_update: action(&fk.on_update),
    }
}

fn action(a: &Option<ast::ReferentialAction>) -> ReferentialAction {
    a.as_ref()
        .and_then(|a| ReferentialAction::parse(&a.to_string()))
        .unwrap_or_default()
}

/// The column's type and whether the database numbers it (`serial`, `bigserial`).
fn column_type(data_type: &ast::DataType) -> (SqlType, bool) {
    let spelled = data_type.to_string().to_ascii_lowercase();
    match spelled.as_str() {
        "serial" | "serial4" => (SqlType::Integer, true),
        "bigserial" | "serial8" => (SqlType::BigInt, true),
        "smallserial" | "serial2" => (SqlType::SmallInt, true),
        _ => (SqlType::parse(&spelled, None), false),
    }
}

/// A column definition and the constraints written on it (named by `d`'s rules).
fn column(
    c: &ast::ColumnDef,
    d: Dialect,
    table: &str,
) -> Result<(ColumnDef, Vec<Constraint>), String> {
    let (ty, numbered) = column_type(&c.data_type);
    let name = c.name.value.clone();
    let mut col = ColumnDef::new(name.clone(), ty);
    col.nullable = true;
    col.auto_increment = numbered;
    if numbered {
        col.nullable = false;
    }
    let mut constraints = Vec::new();
    let cols = vec![name.clone()];
    for opt in &c.options {
        let given = opt.name.as_ref().map(|n| n.value.clone());
        match &opt.option {
            ColumnOption::Null => col.nullable = true,
            ColumnOption::NotNull => col.nullable = false,
            ColumnOption::Default(e) => col.default = Some(e.to_string()),
            ColumnOption::PrimaryKey(_) => {
                col.nullable = false;
                constraints.push(Constraint::PrimaryKey(PrimaryKeyDef {
                    name: given.unwrap_or_else(|| default_name(d, table, &[], "pkey")),
                    columns: cols.clone(),
                }));
            }
            ColumnOption::Unique(_) => constraints.push(Constraint::Unique(UniqueDef {
                name: given.unwrap_or_else(|| default_name(d, table, &cols, "key")),
                columns: cols.clone(),
            })),
            ColumnOption::ForeignKey(fk) => constraints.push(Constraint::ForeignKey(foreign_key(
                fk,
                given,
                cols.clone(),
                d,
                table,
            ))),
            ColumnOption::Check(ck) => constraints.push(Constraint::Check(CheckDef {
                name: given.unwrap_or_else(|| default_name(d, table, &cols, "check")),
                expr: ck.expr.to_string(),
            })),
            ColumnOption::Generated {
                generation_expr: Some(expr),
                generation_expr_mode,
                ..
            } => {
                col.generated = Some(Generated {
                    expr: expr.to_string(),
                    stored: !matches!(
                        generation_expr_mode,
                        Some(ast::GeneratedExpressionMode::Virtual)
                    ),
                })
            }
            ColumnOption::Generated { .. } => {
                // GENERATED ... AS IDENTITY
                col.auto_increment = true;
                col.nullable = false;
            }
            ColumnOption::DialectSpecific(tokens)
                if tokens.iter().any(|t| {
                    t.to_string().eq_ignore_ascii_case("autoincrement")
                        || t.to_string().eq_ignore_ascii_case("auto_increment")
                }) =>
            {
                col.auto_increment = true
            }
            other => return Err(format!("column option `{other}` is not converted")),
        }
    }
    Ok((col, constraints))
}

fn index_columns(cols: &[ast::IndexColumn]) -> Result<Vec<String>, String> {
    cols.iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(i) => Ok(i.value.clone()),
            e => Err(format!("`{e}` is not a plain column")),
        })
        .collect()
}

fn table_constraint(c: &TableConstraint, d: Dialect, table: &str) -> Result<Constraint, String> {
    let named = |n: &Option<ast::Ident>| n.as_ref().map(|i| i.value.clone());
    Ok(match c {
        TableConstraint::PrimaryKey(pk) => {
            let columns = index_columns(&pk.columns)?;
            Constraint::PrimaryKey(PrimaryKeyDef {
                name: named(&pk.name).unwrap_or_else(|| default_name(d, table, &[], "pkey")),
                columns,
            })
        }
        TableConstraint::Unique(u) => {
            let columns = index_columns(&u.columns)?;
            Constraint::Unique(UniqueDef {
                name: named(&u.name).unwrap_or_else(|| default_name(d, table, &columns, "key")),
                columns,
            })
        }
        TableConstraint::ForeignKey(fk) => {
            let columns: Vec<String> = fk.columns.iter().map(|i| i.value.clone()).collect();
            Constraint::ForeignKey(foreign_key(fk, named(&fk.name), columns, d, table))
        }
        TableConstraint::Check(ck) => Constraint::Check(CheckDef {
            name: named(&ck.name).unwrap_or_else(|| default_name(d, table, &[], "check")),
            expr: ck.expr.to_string(),
        }),
        other => return Err(format!("`{other}` is not converted")),
    })
}

fn add_to_table(t: &mut TableDef, c: Constraint) {
    match c {
        Constraint::PrimaryKey(pk) => {
            for name in &pk.columns {
                if let Some(col) = t.column_mut(name) {
                    col.nullable = false;
                }
            }
            t.primary_key = Some(pk);
        }
        Constraint::Unique(u) => t.uniques.push(u),
        Constraint::ForeignKey(f) => t.foreign_keys.push(f),
        Constraint::Check(c) => t.checks.push(c),
    }
}

fn table_of<'s>(state: &'s Schema, name: &str) -> Result<&'s TableDef, String> {
    state
        .tables
        .get(name)
        .ok_or_else(|| format!("no table `{name}` at this point of the history"))
}

fn column_of(t: &TableDef, name: &str) -> Result<ColumnDef, String> {
    t.column(name)
        .cloned()
        .ok_or_else(|| format!("no column `{}.{name}` at this point of the history", t.name))
}

/// The operations of one statement; `None` for one that is not a schema change this
/// converts (it stays SQL).
fn statement_ops(
    stmt: &Statement,
    d: Dialect,
    state: &Schema,
) -> Result<Option<Vec<Operation>>, String> {
    Ok(Some(match stmt {
        Statement::CreateTable(ct) => {
            if ct.query.is_some() || ct.temporary {
                return Ok(None);
            }
            let name = last_name(&ct.name);
            if ct.if_not_exists && state.tables.contains_key(&name) {
                return Ok(Some(vec![]));
            }
            let mut t = TableDef {
                name: name.clone(),
                schema: schema_of(&ct.name, d),
                ..Default::default()
            };
            let mut constraints = Vec::new();
            for c in &ct.columns {
                let (col, cs) = column(c, d, &name)?;
                t.columns.push(col);
                constraints.extend(cs);
            }
            for c in &ct.constraints {
                constraints.push(table_constraint(c, d, &name)?);
            }
            for c in constraints {
                add_to_table(&mut t, c);
            }
            // SQLite numbers an INTEGER PRIMARY KEY itself (the rowid).
            if d == Dialect::Sqlite {
                if let Some([only]) = t.primary_key.as_ref().map(|p| p.columns.clone()).as_deref() {
                    if let Some(c) = t.column_mut(only).filter(|c| c.ty == SqlType::Integer) {
                        c.auto_increment = true;
                    }
                }
            }
            let mut ops = Vec::new();
            if let Some(s) = &t.schema {
                if !state.schemas.contains(s) {
                    ops.push(Operation::CreateSchema { name: s.clone() });
                }
            }
            ops.push(Operation::CreateTable { table: t });
            ops
        }
        Statement::AlterTable(at) => {
            let table = last_name(&at.name);
            let mut ops = Vec::new();
            for op in &at.operations {
                ops.extend(alter_ops(op, d, &table, state)?);
            }
            ops
        }
        Statement::CreateIndex(ci) => {
            let table = last_name(&ci.table_name);
            let name = ci
                .name
                .as_ref()
                .map(last_name)
                .ok_or("an index without a name")?;
            let t = table_of(state, &table)?;
            if ci.if_not_exists && t.indexes.iter().any(|i| i.name == name) {
                return Ok(Some(vec![]));
            }
            let mut columns = Vec::new();
            let mut expressions = Vec::new();
            for c in &ci.columns {
                match &c.column.expr {
                    ast::Expr::Identifier(i) if expressions.is_empty() => {
                        columns.push(i.value.clone())
                    }
                    e => expressions.push(e.to_string()),
                }
            }
            vec![Operation::CreateIndex {
                table,
                index: IndexDef {
                    name,
                    columns,
                    unique: ci.unique,
                    concurrently: ci.concurrently,
                    predicate: ci.predicate.as_ref().map(|p| p.to_string()),
                    using: ci
                        .using
                        .as_ref()
                        .map(|u| u.to_string().to_ascii_lowercase()),
                    include: ci.include.iter().map(|i| i.value.clone()).collect(),
                    expressions,
                },
            }]
        }
        Statement::CreateView(cv) => {
            // A view with its own column list, options or a schema stays SQL.
            if !cv.columns.is_empty() || cv.name.0.len() > 1 {
                return Ok(None);
            }
            let name = last_name(&cv.name);
            let view = ViewDef {
                name: name.clone(),
                sql: ExecuteSql::All(cv.query.to_string()),
                materialized: cv.materialized,
            };
            match state.views.get(&name) {
                Some(_) if cv.if_not_exists => vec![],
                Some(old) if cv.or_replace => vec![
                    Operation::DropView { view: old.clone() },
                    Operation::CreateView { view },
                ],
                _ => vec![Operation::CreateView { view }],
            }
        }
        Statement::Drop {
            object_type,
            names,
            if_exists,
            ..
        } => {
            let mut ops = Vec::new();
            for n in names {
                let name = last_name(n);
                match object_type {
                    ObjectType::Table => match state.tables.get(&name) {
                        Some(t) => ops.push(Operation::DropTable { table: t.clone() }),
                        None if *if_exists => {}
                        None => return Err(format!("no table `{name}` at this point")),
                    },
                    ObjectType::View | ObjectType::MaterializedView => {
                        match state.views.get(&name) {
                            Some(v) => ops.push(Operation::DropView { view: v.clone() }),
                            None if *if_exists => {}
                            None => return Err(format!("no view `{name}` at this point")),
                        }
                    }
                    ObjectType::Index => {
                        let found = state.tables.values().find_map(|t| {
                            t.indexes
                                .iter()
                                .find(|i| i.name == name)
                                .map(|i| (t.name.clone(), i.clone()))
                        });
                        match found {
                            Some((table, index)) => ops.push(Operation::DropIndex { table, index }),
                            None if *if_exists => {}
                            None => return Err(format!("no index `{name}` at this point")),
                        }
                    }
                    _ => return Ok(None),
                }
            }
            ops
        }
        _ => return Ok(None),
    }))
}

fn alter_ops(
    op: &AlterTableOperation,
    d: Dialect,
    table: &str,
    state: &Schema,
) -> Result<Vec<Operation>, String> {
    let t = table_of(state, table)?;
    let constraint_ops = |cs: Vec<Constraint>| {
        cs.into_iter()
            .map(|constraint| Operation::AddConstraint {
                table: table.to_string(),
                constraint,
                not_valid: false,
            })
            .collect::<Vec<_>>()
    };
    Ok(match op {
        AlterTableOperation::AddColumn { column_def, .. } => {
            let (column, cs) = column(column_def, d, table)?;
            let mut ops = vec![Operation::AddColumn {
                table: table.to_string(),
                column,
            }];
            ops.extend(constraint_ops(cs));
            ops
        }
        AlterTableOperation::DropColumn { column_names, .. } => column_names
            .iter()
            .map(|c| {
                Ok(Operation::DropColumn {
                    table: table.to_string(),
                    column: column_of(t, &c.value)?,
                })
            })
            .collect::<Result<_, String>>()?,
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => vec![Operation::RenameColumn {
            table: table.to_string(),
            from: old_column_name.value.clone(),
            to: new_column_name.value.clone(),
        }],
        AlterTableOperation::RenameTable { table_name } => {
            let (ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n)) = table_name;
            vec![Operation::RenameTable {
                from: table.to_string(),
                to: last_name(n),
            }]
        }
        AlterTableOperation::AddConstraint { constraint, .. } => {
            constraint_ops(vec![table_constraint(constraint, d, table)?])
        }
        AlterTableOperation::DropConstraint { name, .. } => {
            let constraint = t
                .constraints()
                .into_iter()
                .find(|c| c.name() == name.value)
                .ok_or_else(|| format!("no constraint `{}` on `{table}`", name.value))?;
            vec![Operation::DropConstraint {
                table: table.to_string(),
                constraint,
            }]
        }
        AlterTableOperation::RenameConstraint { old_name, new_name } => {
            vec![Operation::RenameConstraint {
                table: table.to_string(),
                from: old_name.value.clone(),
                to: new_name.value.clone(),
            }]
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let c = column_of(t, &column_name.value)?;
            let mut change = AlterColumn::default();
            match op {
                AlterColumnOperation::SetNotNull => change.nullable = Some((c.nullable, false)),
                AlterColumnOperation::DropNotNull => change.nullable = Some((c.nullable, true)),
                AlterColumnOperation::SetDefault { value } => {
                    change.default = Some((c.default.clone(), Some(value.to_string())))
                }
                AlterColumnOperation::DropDefault => {
                    change.default = Some((c.default.clone(), None))
                }
                AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => {
                    if using.is_some() {
                        return Err("a type change with USING".into());
                    }
                    change.ty = Some((c.ty.clone(), column_type(data_type).0))
                }
                other => return Err(format!("`{other}` is not converted")),
            }
            vec![Operation::AlterColumn {
                table: table.to_string(),
                column: c.name,
                change,
            }]
        }
        other => return Err(format!("`{other}` is not converted")),
    })
}
