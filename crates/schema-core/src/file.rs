//! Migration files: TOML, one revision each. Parsing reports file:line; writing is
//! stable (the same revision always writes the same bytes) and meant to be hand-edited.

use crate::dialect::Dialect;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::input;
use crate::model::{
    CheckDef, Collation, ColumnDef, Constraint, EnumDef, ForeignKeyDef, IndexDef, PrimaryKeyDef,
    ReferentialAction, TableDef, UniqueDef, ViewDef,
};
use crate::ops::{AlterColumn, EnumChange, ExecuteSql, Operation};
use crate::types::SqlType;

/// One revision as its file says it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevisionFile {
    pub revision: String,
    pub down_revisions: Vec<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub message: String,
    pub created: String,
    /// Whether code written for the revision before may fail on the schema after it
    /// (none: not written; decided from the operations, see [`RevisionFile::is_breaking`]).
    pub breaking: Option<bool>,
    pub upgrade: Vec<Operation>,
    pub downgrade: Vec<Operation>,
}

impl RevisionFile {
    /// `breaking` as written, else whether any upgrade operation breaks running code.
    pub fn is_breaking(&self) -> bool {
        self.breaking
            .unwrap_or_else(|| self.upgrade.iter().any(Operation::is_breaking))
    }
}

/// A problem in a migration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// The longest slug of a file name.
const MAX_SLUG: usize = 40;

/// The file name a revision is written under: `YYYYMMDD_<id>_<slug>.toml`.
pub fn file_name(date: &str, id: &str, message: &str) -> String {
    let day: String = date
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(8)
        .collect();
    let mut slug = String::new();
    for ch in message.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
        if slug.len() > MAX_SLUG {
            break;
        }
    }
    // At most 40 characters, cut at a word boundary when there is one.
    if slug.len() > MAX_SLUG {
        let cut = slug[..=MAX_SLUG].rfind('_').unwrap_or(MAX_SLUG);
        slug.truncate(cut);
    }
    let slug = slug.trim_end_matches('_');
    if slug.is_empty() {
        format!("{day}_{id}.toml")
    } else {
        format!("{day}_{id}_{slug}.toml")
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    revision: Spanned<String>,
    #[serde(default)]
    down_revision: Option<OneOrMany>,
    #[serde(default)]
    branch_labels: Vec<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    breaking: Option<bool>,
    #[serde(default)]
    upgrade: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    downgrade: Vec<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum RawOp {
    CreateTable(RawTable),
    DropTable(RawTable),
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: RawColumn,
    },
    DropColumn {
        table: String,
        column: RawColumn,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    RenameIndex {
        table: String,
        from: String,
        to: String,
    },
    RenameConstraint {
        table: String,
        from: String,
        to: String,
    },
    AlterColumn {
        table: String,
        column: String,
        #[serde(default, rename = "type")]
        ty: Option<RawChange<String>>,
        #[serde(default)]
        sqlite_type: Option<RawChange<String>>,
        #[serde(default)]
        types: Option<RawChange<BTreeMap<String, String>>>,
        #[serde(default)]
        nullable: Option<RawChange<bool>>,
        #[serde(default)]
        default: Option<RawChange<String>>,
        #[serde(default)]
        collation: Option<RawChange<RawCollation>>,
    },
    CreateIndex {
        table: String,
        index: RawIndex,
    },
    DropIndex {
        table: String,
        index: RawIndex,
    },
    AddConstraint {
        table: String,
        constraint: RawConstraint,
        #[serde(default)]
        not_valid: bool,
    },
    ValidateConstraint {
        table: String,
        name: String,
    },
    DropConstraint {
        table: String,
        constraint: RawConstraint,
    },
    Execute {
        sql: RawSql,
    },
    SetComment {
        table: String,
        #[serde(default)]
        column: Option<String>,
        comment: RawChange<String>,
    },
    CreateSchema {
        name: String,
    },
    DropSchema {
        name: String,
    },
    MoveTable {
        table: String,
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        to: Option<String>,
    },
    CreateView(RawView),
    DropView(RawView),
    CreateEnum {
        name: String,
        values: Vec<String>,
    },
    DropEnum {
        name: String,
        values: Vec<String>,
    },
    AlterEnum {
        name: String,
        #[serde(default)]
        add: Option<String>,
        #[serde(default)]
        remove: Option<String>,
        #[serde(default)]
        before: Option<String>,
        #[serde(default)]
        rename: Option<String>,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        reorder: Option<Vec<String>>,
        #[serde(default)]
        from: Option<Vec<String>>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    name: String,
    sql: RawSql,
    #[serde(default)]
    materialized: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    table: String,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    columns: Vec<RawColumn>,
    #[serde(default)]
    primary_key: Option<RawKey>,
    #[serde(default)]
    uniques: Vec<RawKey>,
    #[serde(default)]
    foreign_keys: Vec<RawForeignKey>,
    #[serde(default)]
    checks: Vec<RawCheck>,
    #[serde(default)]
    indexes: Vec<RawIndex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    sqlite_type: Option<String>,
    /// Spellings per dialect where they differ from `type`.
    #[serde(default)]
    types: Option<BTreeMap<String, String>>,
    #[serde(default)]
    nullable: bool,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    auto_increment: bool,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    generated: Option<String>,
    #[serde(default)]
    stored: bool,
    #[serde(default)]
    collation: Option<RawCollation>,
}

/// A collation: one name, or one per dialect.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawCollation {
    All(String),
    PerDialect(BTreeMap<String, String>),
}

// serde asks it of what `RawChange` holds; an empty name is refused when lowered.
impl Default for RawCollation {
    fn default() -> Self {
        RawCollation::All(String::new())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChange<T> {
    #[serde(default)]
    from: Option<T>,
    #[serde(default)]
    to: Option<T>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    name: String,
    columns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    name: String,
    columns: Vec<String>,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    concurrently: bool,
    #[serde(default, rename = "where")]
    predicate: Option<String>,
    #[serde(default)]
    using: Option<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    expressions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: String,
    expr: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForeignKey {
    name: String,
    columns: Vec<String>,
    ref_table: String,
    ref_columns: Vec<String>,
    #[serde(default)]
    on_delete: Option<String>,
    #[serde(default)]
    on_update: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawConstraint {
    PrimaryKey {
        name: String,
        columns: Vec<String>,
    },
    Unique {
        name: String,
        columns: Vec<String>,
    },
    ForeignKey {
        name: String,
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
        #[serde(default)]
        on_delete: Option<String>,
        #[serde(default)]
        on_update: Option<String>,
    },
    Check {
        name: String,
        expr: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSql {
    All(String),
    PerDialect(std::collections::BTreeMap<String, String>),
}

/// Line numbers of byte offsets, by binary search over the line starts (a file with many
/// operations is parsed in linear time, not one scan from the top per operation).
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|nl| *nl < offset) + 1
    }
}

/// Parses the text of a migration file; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<RevisionFile, FileError> {
    let err = |line: Option<usize>, message: String| FileError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = Lines::new(text);
    let line_of = |_: &str, offset: usize| lines.of(offset);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        err(line, e.message().trim().to_string())
    })?;
    let ops = |list: Vec<Spanned<toml::Table>>, section: &str| {
        list.into_iter()
            .map(|item| {
                let line = line_of(text, item.span().start);
                let table = item.into_inner();
                let raw: RawOp = toml::Value::Table(table).try_into().map_err(|e| {
                    err(
                        Some(line),
                        format!("in [[{section}]]: {}", clean(&e.to_string())),
                    )
                })?;
                lower_op(raw).map_err(|m| err(Some(line), format!("in [[{section}]]: {m}")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let revision = raw.revision.get_ref().trim().to_string();
    input::revision_id(&revision)
        .map_err(|m| err(Some(line_of(text, raw.revision.span().start)), m))?;
    Ok(RevisionFile {
        revision,
        down_revisions: match raw.down_revision {
            None => vec![],
            Some(OneOrMany::One(s)) if s.is_empty() => vec![],
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        },
        branch_labels: raw.branch_labels,
        depends_on: raw.depends_on,
        message: raw.message,
        created: raw.created,
        breaking: raw.breaking,
        upgrade: ops(raw.upgrade, "upgrade")?,
        downgrade: ops(raw.downgrade, "downgrade")?,
    })
}

/// toml's messages for nested values are long; keep the first line, which says it.
fn clean(msg: &str) -> String {
    msg.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim()
        .to_string()
}

fn action(s: Option<String>) -> Result<ReferentialAction, String> {
    match s {
        None => Ok(ReferentialAction::NoAction),
        Some(s) => ReferentialAction::parse(&s).ok_or_else(|| {
            format!(
                "unknown referential action `{s}`, expected one of {}",
                ReferentialAction::SPELLINGS.join(", ")
            )
        }),
    }
}

/// A type as the file spells it, with its spellings per dialect (`types`, and the older
/// `sqlite_type`), each checked by the type grammar.
fn lower_type(
    ty: &str,
    sqlite: Option<String>,
    types: Option<BTreeMap<String, String>>,
) -> Result<SqlType, String> {
    input::type_spelling(ty)?;
    let mut per_dialect = types.unwrap_or_default();
    if let Some(s) = sqlite {
        per_dialect.insert("sqlite".into(), s);
    }
    for (k, v) in &per_dialect {
        if Dialect::parse(k).map(Dialect::name) != Some(k.as_str()) {
            return Err(format!(
                "`types` has an unknown dialect key `{k}`; the keys are {}",
                Dialect::ALL.map(Dialect::name).join(", ")
            ));
        }
        input::type_spelling(v)?;
    }
    Ok(SqlType::parse_per_dialect(ty, per_dialect))
}

fn lower_expr(expr: Option<String>) -> Result<Option<String>, String> {
    if let Some(e) = &expr {
        input::expression(e)?;
    }
    Ok(expr)
}

fn lower_collation(c: RawCollation) -> Result<Collation, String> {
    Ok(match c {
        RawCollation::All(n) => {
            input::collation(&n)?;
            Collation::All(n)
        }
        RawCollation::PerDialect(m) => {
            for (k, v) in &m {
                if Dialect::parse(k).map(Dialect::name) != Some(k.as_str()) {
                    return Err(format!(
                        "`collation` has an unknown dialect key `{k}`; the keys are {}",
                        Dialect::ALL.map(Dialect::name).join(", ")
                    ));
                }
                input::collation(v)?;
            }
            Collation::PerDialect(m)
        }
    })
}

fn lower_column(c: RawColumn) -> Result<ColumnDef, String> {
    let collation = c
        .collation
        .map(lower_collation)
        .transpose()
        .map_err(|e| format!("column `{}`: {e}", c.name))?;
    let generated = match (c.generated, c.stored) {
        (Some(expr), stored) => {
            input::expression(&expr).map_err(|e| format!("column `{}`: {e}", c.name))?;
            if c.default.is_some() {
                return Err(format!(
                    "column `{}`: a generated column has no default",
                    c.name
                ));
            }
            Some(crate::model::Generated { expr, stored })
        }
        (None, true) => return Err(format!("column `{}`: `stored` needs `generated`", c.name)),
        (None, false) => None,
    };
    Ok(ColumnDef {
        generated,
        ty: lower_type(&c.ty, c.sqlite_type, c.types)
            .map_err(|e| format!("column `{}`: {e}", c.name))?,
        default: lower_expr(c.default).map_err(|e| format!("column `{}`: {e}", c.name))?,
        name: c.name,
        nullable: c.nullable,
        auto_increment: c.auto_increment,
        renamed_from: None,
        comment: c.comment,
        collation,
    })
}

/// SQL given once for every dialect, or per dialect (known keys, at least one).
fn lower_sql(sql: RawSql) -> Result<ExecuteSql, String> {
    Ok(match sql {
        RawSql::All(s) => ExecuteSql::All(s),
        RawSql::PerDialect(texts) => {
            let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
            if let Some(k) = texts.keys().find(|k| !names.contains(&k.as_str())) {
                return Err(format!(
                    "`sql` has an unknown dialect key `{k}`; the keys are {}",
                    names.join(", ")
                ));
            }
            if texts.is_empty() {
                return Err(format!(
                    "`sql` needs a string or keys per dialect ({})",
                    names.join(", ")
                ));
            }
            ExecuteSql::PerDialect(texts)
        }
    })
}

fn lower_view(v: RawView) -> Result<ViewDef, String> {
    input::identifier(&v.name).map_err(|e| format!("view {e}"))?;
    let sql = lower_sql(v.sql)?;
    let texts: Vec<&String> = match &sql {
        ExecuteSql::All(s) => vec![s],
        ExecuteSql::PerDialect(m) => m.values().collect(),
    };
    for t in texts {
        input::view_query(t).map_err(|e| format!("view `{}`: {e}", v.name))?;
    }
    Ok(ViewDef {
        name: v.name,
        sql,
        materialized: v.materialized,
    })
}

fn lower_enum(name: String, values: Vec<String>) -> Result<EnumDef, String> {
    input::identifier(&name).map_err(|e| format!("enum {e}"))?;
    if values.is_empty() {
        return Err(format!("enum `{name}` needs at least one value"));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
        return Err(format!("enum `{name}` lists the value `{dup}` twice"));
    }
    Ok(EnumDef {
        name,
        values,
        renamed_values: vec![],
    })
}

fn lower_fk(f: RawForeignKey) -> Result<ForeignKeyDef, String> {
    Ok(ForeignKeyDef {
        name: f.name,
        columns: f.columns,
        ref_table: f.ref_table,
        ref_columns: f.ref_columns,
        on_delete: action(f.on_delete)?,
        on_update: action(f.on_update)?,
    })
}

fn lower_table(t: RawTable) -> Result<TableDef, String> {
    Ok(TableDef {
        name: t.table,
        columns: t
            .columns
            .into_iter()
            .map(lower_column)
            .collect::<Result<_, _>>()?,
        primary_key: t.primary_key.map(|k| PrimaryKeyDef {
            name: k.name,
            columns: k.columns,
        }),
        uniques: t
            .uniques
            .into_iter()
            .map(|k| UniqueDef {
                name: k.name,
                columns: k.columns,
            })
            .collect(),
        foreign_keys: t
            .foreign_keys
            .into_iter()
            .map(lower_fk)
            .collect::<Result<_, _>>()?,
        checks: t
            .checks
            .into_iter()
            .map(|c| lower_check(c.name, c.expr))
            .collect::<Result<_, _>>()?,
        indexes: t
            .indexes
            .into_iter()
            .map(lower_index)
            .collect::<Result<_, _>>()?,
        renamed_from: None,
        comment: t.comment,
        schema: t
            .schema
            .map(|s| input::identifier(&s).map(|()| s))
            .transpose()
            .map_err(|e| format!("schema {e}"))?,
    })
}

fn lower_check(name: String, expr: String) -> Result<CheckDef, String> {
    input::expression(&expr).map_err(|e| format!("check `{name}`: {e}"))?;
    Ok(CheckDef { name, expr })
}

fn lower_index(i: RawIndex) -> Result<IndexDef, String> {
    if let Some(p) = &i.predicate {
        input::expression(p).map_err(|e| format!("index `{}`: `where`: {e}", i.name))?;
    }
    for e in &i.expressions {
        input::expression(e).map_err(|err| format!("index `{}`: `expressions`: {err}", i.name))?;
    }
    if i.columns.is_empty() && i.expressions.is_empty() {
        return Err(format!(
            "index `{}` needs `columns` or `expressions`",
            i.name
        ));
    }
    if let Some(m) = &i.using {
        if m.is_empty() || !m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "index `{}`: `using` names an access method (gin, gist, brin, hash, btree), not `{m}`",
                i.name
            ));
        }
    }
    Ok(IndexDef {
        name: i.name,
        columns: i.columns,
        unique: i.unique,
        concurrently: i.concurrently,
        predicate: i.predicate,
        using: i.using,
        include: i.include,
        expressions: i.expressions,
    })
}

fn lower_constraint(c: RawConstraint) -> Result<Constraint, String> {
    Ok(match c {
        RawConstraint::PrimaryKey { name, columns } => {
            Constraint::PrimaryKey(PrimaryKeyDef { name, columns })
        }
        RawConstraint::Unique { name, columns } => Constraint::Unique(UniqueDef { name, columns }),
        RawConstraint::ForeignKey {
            name,
            columns,
            ref_table,
            ref_columns,
            on_delete,
            on_update,
        } => Constraint::ForeignKey(lower_fk(RawForeignKey {
            name,
            columns,
            ref_table,
            ref_columns,
            on_delete,
            on_update,
        })?),
        RawConstraint::Check { name, expr } => Constraint::Check(lower_check(name, expr)?),
    })
}

fn lower_op(raw: RawOp) -> Result<Operation, String> {
    Ok(match raw {
        RawOp::CreateTable(t) => Operation::CreateTable {
            table: lower_table(t)?,
        },
        RawOp::DropTable(t) => Operation::DropTable {
            table: lower_table(t)?,
        },
        RawOp::RenameTable { from, to } => Operation::RenameTable { from, to },
        RawOp::AddColumn { table, column } => Operation::AddColumn {
            table,
            column: lower_column(column)?,
        },
        RawOp::DropColumn { table, column } => Operation::DropColumn {
            table,
            column: lower_column(column)?,
        },
        RawOp::RenameColumn { table, from, to } => Operation::RenameColumn { table, from, to },
        RawOp::RenameIndex { table, from, to } => Operation::RenameIndex { table, from, to },
        RawOp::RenameConstraint { table, from, to } => {
            Operation::RenameConstraint { table, from, to }
        }
        RawOp::AlterColumn {
            table,
            column,
            ty,
            sqlite_type,
            types,
            nullable,
            default,
            collation,
        } => {
            let ty = match ty {
                None => None,
                Some(RawChange {
                    from: Some(from),
                    to: Some(to),
                }) => {
                    let (sf, st) = match sqlite_type {
                        Some(RawChange { from, to }) => (from, to),
                        None => (None, None),
                    };
                    let (tf, tt) = match types {
                        Some(RawChange { from, to }) => (from, to),
                        None => (None, None),
                    };
                    Some((lower_type(&from, sf, tf)?, lower_type(&to, st, tt)?))
                }
                Some(_) => return Err("`type` needs both `from` and `to`".into()),
            };
            let nullable = match nullable {
                None => None,
                Some(RawChange {
                    from: Some(a),
                    to: Some(b),
                }) => Some((a, b)),
                Some(_) => return Err("`nullable` needs both `from` and `to`".into()),
            };
            let change = AlterColumn {
                ty,
                nullable,
                default: match default {
                    None => None,
                    Some(RawChange { from, to }) => Some((lower_expr(from)?, lower_expr(to)?)),
                },
                collation: match collation {
                    None => None,
                    Some(RawChange { from, to }) => Some((
                        from.map(lower_collation).transpose()?,
                        to.map(lower_collation).transpose()?,
                    )),
                },
            };
            if change.is_empty() {
                return Err(
                    "alter_column changes nothing: give `type`, `nullable`, `default` or `collation`".into(),
                );
            }
            Operation::AlterColumn {
                table,
                column,
                change,
            }
        }
        RawOp::CreateIndex { table, index } => Operation::CreateIndex {
            table,
            index: lower_index(index)?,
        },
        RawOp::DropIndex { table, index } => Operation::DropIndex {
            table,
            index: lower_index(index)?,
        },
        RawOp::AddConstraint {
            table,
            constraint,
            not_valid,
        } => Operation::AddConstraint {
            table,
            constraint: lower_constraint(constraint)?,
            not_valid,
        },
        RawOp::ValidateConstraint { table, name } => Operation::ValidateConstraint { table, name },
        RawOp::SetComment {
            table,
            column,
            comment,
        } => {
            if comment.from == comment.to {
                return Err(
                    "`set_comment` changes nothing: `comment` needs a `from` or a `to` that differ"
                        .into(),
                );
            }
            Operation::SetComment {
                table,
                column,
                from: comment.from,
                to: comment.to,
            }
        }
        RawOp::DropConstraint { table, constraint } => Operation::DropConstraint {
            table,
            constraint: lower_constraint(constraint)?,
        },
        RawOp::CreateEnum { name, values } => Operation::CreateEnum {
            def: lower_enum(name, values)?,
        },
        RawOp::DropEnum { name, values } => Operation::DropEnum {
            def: lower_enum(name, values)?,
        },
        RawOp::AlterEnum {
            name,
            add,
            remove,
            before,
            rename,
            to,
            reorder,
            from,
        } => {
            input::identifier(&name).map_err(|e| format!("enum {e}"))?;
            let change = match (add, remove, rename, reorder) {
                (Some(value), None, None, None) if to.is_none() && from.is_none() => {
                    EnumChange::Add { value, before }
                }
                (None, Some(value), None, None) if to.is_none() && from.is_none() => {
                    EnumChange::Remove { value, before }
                }
                (None, None, Some(old), None) if before.is_none() && from.is_none() => {
                    EnumChange::Rename {
                        from: old,
                        to: to.ok_or("`rename` needs `to`, the new value")?,
                    }
                }
                (None, None, None, Some(order)) if before.is_none() && to.is_none() => {
                    EnumChange::Reorder {
                        from: from.ok_or("`reorder` needs `from`, the order it replaces")?,
                        to: order,
                    }
                }
                _ => {
                    return Err("alter_enum takes one change: `add` (with `before`), `remove` (with `before`), `rename` with `to`, or `reorder` with `from`".into())
                }
            };
            Operation::AlterEnum { name, change }
        }
        RawOp::Execute { sql } => Operation::Execute {
            sql: lower_sql(sql)?,
        },
        RawOp::CreateSchema { name } => {
            input::identifier(&name).map_err(|e| format!("schema {e}"))?;
            Operation::CreateSchema { name }
        }
        RawOp::DropSchema { name } => {
            input::identifier(&name).map_err(|e| format!("schema {e}"))?;
            Operation::DropSchema { name }
        }
        RawOp::MoveTable { table, from, to } => {
            if from == to {
                return Err("`move_table` moves nothing: `from` and `to` are the same".into());
            }
            Operation::MoveTable { table, from, to }
        }
        RawOp::CreateView(v) => Operation::CreateView {
            view: lower_view(v)?,
        },
        RawOp::DropView(v) => Operation::DropView {
            view: lower_view(v)?,
        },
    })
}

// ---------------------------------------------------------------------------------------
// Writing

/// A custom type's spellings per dialect, when it has any.
fn per_dialect(t: &SqlType) -> Option<&BTreeMap<String, String>> {
    match t {
        SqlType::Custom { per_dialect, .. } if !per_dialect.is_empty() => Some(per_dialect),
        _ => None,
    }
}

/// `{ mysql = "json", sqlite = "text" }`.
fn inline_map(m: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k} = {}", string(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// A column's spellings per dialect: `sqlite_type = ...` when SQLite is the only one (the
/// layout files have always had), else `types = { ... }`.
fn type_spellings(t: &SqlType) -> Option<String> {
    let m = per_dialect(t)?;
    Some(match (m.len(), m.get("sqlite")) {
        (1, Some(s)) => format!("sqlite_type = {}", string(s)),
        _ => format!("types = {}", inline_map(m)),
    })
}

/// A TOML string literal for `s`; multi-line text stays readable.
fn string(s: &str) -> String {
    if s.contains('\n') && !s.contains("'''") && !s.contains('\r') {
        format!("'''\n{s}'''")
    } else {
        toml::Value::String(s.to_string()).to_string()
    }
}

fn strings(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

fn column_inline(c: &ColumnDef) -> String {
    let mut s = format!(
        "{{ name = {}, type = {}",
        string(&c.name),
        string(&c.ty.to_string())
    );
    if let Some(t) = type_spellings(&c.ty) {
        let _ = write!(s, ", {t}");
    }
    if c.nullable {
        s.push_str(", nullable = true");
    }
    if let Some(d) = &c.default {
        let _ = write!(s, ", default = {}", string(d));
    }
    if c.auto_increment {
        s.push_str(", auto_increment = true");
    }
    if let Some(g) = &c.generated {
        let _ = write!(s, ", generated = {}", string(&g.expr));
        if g.stored {
            s.push_str(", stored = true");
        }
    }
    if let Some(text) = &c.comment {
        let _ = write!(s, ", comment = {}", string(text));
    }
    if let Some(k) = &c.collation {
        let _ = write!(s, ", collation = {}", collation_value(k));
    }
    s.push_str(" }");
    s
}

/// `"C"`, or `{ postgres = "C", sqlite = "BINARY" }`.
fn collation_value(k: &Collation) -> String {
    match k {
        Collation::All(n) => string(n),
        Collation::PerDialect(m) => inline_map(m),
    }
}

fn key_inline(name: &str, cols: &[String]) -> String {
    format!("{{ name = {}, columns = {} }}", string(name), strings(cols))
}

fn index_inline(i: &IndexDef) -> String {
    let mut s = format!(
        "{{ name = {}, columns = {}",
        string(&i.name),
        strings(&i.columns)
    );
    if !i.expressions.is_empty() {
        let _ = write!(s, ", expressions = {}", strings(&i.expressions));
    }
    if i.unique {
        s.push_str(", unique = true");
    }
    if i.concurrently {
        s.push_str(", concurrently = true");
    }
    if let Some(p) = &i.predicate {
        let _ = write!(s, ", where = {}", string(p));
    }
    if let Some(m) = &i.using {
        let _ = write!(s, ", using = {}", string(m));
    }
    if !i.include.is_empty() {
        let _ = write!(s, ", include = {}", strings(&i.include));
    }
    s.push_str(" }");
    s
}

fn fk_fields(f: &ForeignKeyDef) -> String {
    let mut s = format!(
        "name = {}, columns = {}, ref_table = {}, ref_columns = {}",
        string(&f.name),
        strings(&f.columns),
        string(&f.ref_table),
        strings(&f.ref_columns)
    );
    if f.on_delete != ReferentialAction::NoAction {
        let _ = write!(s, ", on_delete = {}", string(f.on_delete.as_str()));
    }
    if f.on_update != ReferentialAction::NoAction {
        let _ = write!(s, ", on_update = {}", string(f.on_update.as_str()));
    }
    s
}

fn constraint_inline(c: &Constraint) -> String {
    match c {
        Constraint::PrimaryKey(k) => format!(
            "{{ type = \"primary_key\", name = {}, columns = {} }}",
            string(&k.name),
            strings(&k.columns)
        ),
        Constraint::Unique(k) => format!(
            "{{ type = \"unique\", name = {}, columns = {} }}",
            string(&k.name),
            strings(&k.columns)
        ),
        Constraint::ForeignKey(f) => format!("{{ type = \"foreign_key\", {} }}", fk_fields(f)),
        Constraint::Check(k) => format!(
            "{{ type = \"check\", name = {}, expr = {} }}",
            string(&k.name),
            string(&k.expr)
        ),
    }
}

fn list(out: &mut String, key: &str, items: Vec<String>) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for i in items {
        let _ = writeln!(out, "    {i},");
    }
    out.push_str("]\n");
}

fn write_table(out: &mut String, t: &TableDef) {
    let _ = writeln!(out, "table = {}", string(&t.name));
    if let Some(s) = &t.schema {
        let _ = writeln!(out, "schema = {}", string(s));
    }
    if let Some(text) = &t.comment {
        let _ = writeln!(out, "comment = {}", string(text));
    }
    list(
        out,
        "columns",
        t.columns.iter().map(column_inline).collect(),
    );
    if let Some(pk) = &t.primary_key {
        let _ = writeln!(out, "primary_key = {}", key_inline(&pk.name, &pk.columns));
    }
    list(
        out,
        "uniques",
        t.uniques
            .iter()
            .map(|u| key_inline(&u.name, &u.columns))
            .collect(),
    );
    list(
        out,
        "foreign_keys",
        t.foreign_keys
            .iter()
            .map(|f| format!("{{ {} }}", fk_fields(f)))
            .collect(),
    );
    list(
        out,
        "checks",
        t.checks
            .iter()
            .map(|c| {
                format!(
                    "{{ name = {}, expr = {} }}",
                    string(&c.name),
                    string(&c.expr)
                )
            })
            .collect(),
    );
    list(out, "indexes", t.indexes.iter().map(index_inline).collect());
}

/// Writes one operation as a `[[section]]` entry, with a comment when it loses data.
pub fn write_op(out: &mut String, section: &str, op: &Operation) {
    if let Some(why) = op.destructive() {
        let _ = writeln!(out, "# DESTRUCTIVE: {why}");
    }
    let _ = writeln!(out, "[[{section}]]");
    let _ = writeln!(out, "op = \"{}\"", op.kind());
    match op {
        Operation::CreateTable { table } | Operation::DropTable { table } => {
            write_table(out, table)
        }
        Operation::RenameTable { from, to } => {
            let _ = writeln!(out, "from = {}\nto = {}", string(from), string(to));
        }
        Operation::AddColumn { table, column } | Operation::DropColumn { table, column } => {
            let _ = writeln!(
                out,
                "table = {}\ncolumn = {}",
                string(table),
                column_inline(column)
            );
        }
        Operation::RenameColumn { table, from, to }
        | Operation::RenameIndex { table, from, to }
        | Operation::RenameConstraint { table, from, to } => {
            let _ = writeln!(
                out,
                "table = {}\nfrom = {}\nto = {}",
                string(table),
                string(from),
                string(to)
            );
        }
        Operation::AlterColumn {
            table,
            column,
            change,
        } => {
            let _ = writeln!(
                out,
                "table = {}\ncolumn = {}",
                string(table),
                string(column)
            );
            if let Some((a, b)) = &change.ty {
                let _ = writeln!(
                    out,
                    "type = {{ from = {}, to = {} }}",
                    string(&a.to_string()),
                    string(&b.to_string())
                );
                match (per_dialect(a), per_dialect(b)) {
                    (None, None) => {}
                    (fa, fb) => {
                        let only_sqlite = |m: &Option<&BTreeMap<String, String>>| {
                            m.is_none_or(|m| m.keys().all(|k| k == "sqlite"))
                        };
                        if only_sqlite(&fa) && only_sqlite(&fb) {
                            let mut parts = Vec::new();
                            if let Some(s) = fa.and_then(|m| m.get("sqlite")) {
                                parts.push(format!("from = {}", string(s)));
                            }
                            if let Some(s) = fb.and_then(|m| m.get("sqlite")) {
                                parts.push(format!("to = {}", string(s)));
                            }
                            let _ = writeln!(out, "sqlite_type = {{ {} }}", parts.join(", "));
                        } else {
                            let mut parts = Vec::new();
                            if let Some(m) = fa {
                                parts.push(format!("from = {}", inline_map(m)));
                            }
                            if let Some(m) = fb {
                                parts.push(format!("to = {}", inline_map(m)));
                            }
                            let _ = writeln!(out, "types = {{ {} }}", parts.join(", "));
                        }
                    }
                }
            }
            if let Some((a, b)) = change.nullable {
                let _ = writeln!(out, "nullable = {{ from = {a}, to = {b} }}");
            }
            if let Some((a, b)) = &change.default {
                let mut parts = Vec::new();
                if let Some(a) = a {
                    parts.push(format!("from = {}", string(a)));
                }
                if let Some(b) = b {
                    parts.push(format!("to = {}", string(b)));
                }
                let _ = writeln!(out, "default = {{ {} }}", parts.join(", "));
            }
            if let Some((a, b)) = &change.collation {
                let mut parts = Vec::new();
                if let Some(a) = a {
                    parts.push(format!("from = {}", collation_value(a)));
                }
                if let Some(b) = b {
                    parts.push(format!("to = {}", collation_value(b)));
                }
                let _ = writeln!(out, "collation = {{ {} }}", parts.join(", "));
            }
        }
        Operation::CreateIndex { table, index } | Operation::DropIndex { table, index } => {
            let _ = writeln!(
                out,
                "table = {}\nindex = {}",
                string(table),
                index_inline(index)
            );
        }
        Operation::AddConstraint {
            table,
            constraint,
            not_valid,
        } => {
            let _ = writeln!(
                out,
                "table = {}\nconstraint = {}",
                string(table),
                constraint_inline(constraint)
            );
            if *not_valid {
                let _ = writeln!(out, "not_valid = true");
            }
        }
        Operation::DropConstraint { table, constraint } => {
            let _ = writeln!(
                out,
                "table = {}\nconstraint = {}",
                string(table),
                constraint_inline(constraint)
            );
        }
        Operation::ValidateConstraint { table, name } => {
            let _ = writeln!(out, "table = {}\nname = {}", string(table), string(name));
        }
        Operation::SetComment {
            table,
            column,
            from,
            to,
        } => {
            let _ = writeln!(out, "table = {}", string(table));
            if let Some(c) = column {
                let _ = writeln!(out, "column = {}", string(c));
            }
            let mut parts = Vec::new();
            if let Some(f) = from {
                parts.push(format!("from = {}", string(f)));
            }
            if let Some(t) = to {
                parts.push(format!("to = {}", string(t)));
            }
            let _ = writeln!(out, "comment = {{ {} }}", parts.join(", "));
        }
        Operation::CreateSchema { name } | Operation::DropSchema { name } => {
            let _ = writeln!(out, "name = {}", string(name));
        }
        Operation::MoveTable { table, from, to } => {
            let _ = writeln!(out, "table = {}", string(table));
            if let Some(f) = from {
                let _ = writeln!(out, "from = {}", string(f));
            }
            if let Some(t) = to {
                let _ = writeln!(out, "to = {}", string(t));
            }
        }
        Operation::CreateView { view } | Operation::DropView { view } => {
            let _ = writeln!(out, "name = {}", string(&view.name));
            write_sql(out, &view.sql);
            if view.materialized {
                let _ = writeln!(out, "materialized = true");
            }
        }
        Operation::CreateEnum { def } | Operation::DropEnum { def } => {
            let _ = writeln!(
                out,
                "name = {}\nvalues = {}",
                string(&def.name),
                strings(&def.values)
            );
        }
        Operation::AlterEnum { name, change } => {
            let _ = writeln!(out, "name = {}", string(name));
            match change {
                EnumChange::Add { value, before } | EnumChange::Remove { value, before } => {
                    let key = if matches!(change, EnumChange::Add { .. }) {
                        "add"
                    } else {
                        "remove"
                    };
                    let _ = writeln!(out, "{key} = {}", string(value));
                    if let Some(b) = before {
                        let _ = writeln!(out, "before = {}", string(b));
                    }
                }
                EnumChange::Rename { from, to } => {
                    let _ = writeln!(out, "rename = {}\nto = {}", string(from), string(to));
                }
                EnumChange::Reorder { from, to } => {
                    let _ = writeln!(out, "reorder = {}\nfrom = {}", strings(to), strings(from));
                }
            }
        }
        Operation::Execute { sql } => write_sql(out, sql),
    }
}

fn write_sql(out: &mut String, sql: &ExecuteSql) {
    match sql {
        ExecuteSql::All(s) => {
            let _ = writeln!(out, "sql = {}", string(s));
        }
        ExecuteSql::PerDialect(texts) => {
            let parts: Vec<String> = texts
                .iter()
                .map(|(k, v)| format!("{k} = {}", string(v)))
                .collect();
            let _ = writeln!(out, "sql = {{ {} }}", parts.join(", "));
        }
    }
}

/// The text of a revision file. `rebuild_notes` are comments placed before upgrade
/// operations that SQLite can only do by rebuilding the table (index into `upgrade`).
pub fn write(file: &RevisionFile, rebuild_notes: &[(usize, String)]) -> String {
    let mut out = String::new();
    out.push_str("# cargo-schema revision. Review it, add data steps, edit freely.\n");
    let _ = writeln!(out, "revision = {}", string(&file.revision));
    match file.down_revisions.as_slice() {
        [] => {}
        [one] => {
            let _ = writeln!(out, "down_revision = {}", string(one));
        }
        many => {
            let _ = writeln!(out, "down_revision = {}", strings(many));
        }
    }
    if !file.branch_labels.is_empty() {
        let _ = writeln!(out, "branch_labels = {}", strings(&file.branch_labels));
    }
    if !file.depends_on.is_empty() {
        let _ = writeln!(out, "depends_on = {}", strings(&file.depends_on));
    }
    let _ = writeln!(out, "message = {}", string(&file.message));
    let _ = writeln!(out, "created = {}", string(&file.created));
    if let Some(b) = file.breaking {
        let _ = writeln!(out, "breaking = {b}");
    }
    for (i, op) in file.upgrade.iter().enumerate() {
        out.push('\n');
        for (_, note) in rebuild_notes.iter().filter(|(at, _)| *at == i) {
            let _ = writeln!(out, "# SQLITE REBUILD: {note}");
        }
        write_op(&mut out, "upgrade", op);
    }
    for op in &file.downgrade {
        out.push('\n');
        write_op(&mut out, "downgrade", op);
    }
    out
}
