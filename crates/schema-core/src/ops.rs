//! The dialect-neutral operations a migration file lists.

use crate::model::{Collation, ColumnDef, Constraint, EnumDef, IndexDef, TableDef, ViewDef};
use crate::types::SqlType;

/// SQL for a data step: one string for every dialect, or one per dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteSql {
    All(String),
    /// Keyed by dialect name (`postgres`, `sqlite`, `mysql`); a dialect without a key
    /// skips the step.
    PerDialect(std::collections::BTreeMap<String, String>),
}

/// The changes of one `alter_column`: each field is `Some((from, to))` when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterColumn {
    pub ty: Option<(SqlType, SqlType)>,
    pub nullable: Option<(bool, bool)>,
    pub default: Option<(Option<String>, Option<String>)>,
    pub collation: Option<(Option<Collation>, Option<Collation>)>,
}

impl AlterColumn {
    pub fn is_empty(&self) -> bool {
        self.ty.is_none()
            && self.nullable.is_none()
            && self.default.is_none()
            && self.collation.is_none()
    }

    fn inverse(&self) -> AlterColumn {
        fn flip<T: Clone>(p: &Option<(T, T)>) -> Option<(T, T)> {
            p.as_ref().map(|(a, b)| (b.clone(), a.clone()))
        }
        AlterColumn {
            ty: flip(&self.ty),
            nullable: flip(&self.nullable),
            default: flip(&self.default),
            collation: flip(&self.collation),
        }
    }
}

/// One change of an enum type's values. Each carries what its inverse needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumChange {
    /// A value added before `before` (none: at the end).
    Add {
        value: String,
        before: Option<String>,
    },
    /// A value removed; `before` is the value it stood before (none: it was last), so
    /// the inverse puts it back where it was.
    Remove {
        value: String,
        before: Option<String>,
    },
    Rename {
        from: String,
        to: String,
    },
    /// The same values in another order.
    Reorder {
        from: Vec<String>,
        to: Vec<String>,
    },
}

impl EnumChange {
    pub fn inverse(&self) -> EnumChange {
        match self {
            EnumChange::Add { value, before } => EnumChange::Remove {
                value: value.clone(),
                before: before.clone(),
            },
            EnumChange::Remove { value, before } => EnumChange::Add {
                value: value.clone(),
                before: before.clone(),
            },
            EnumChange::Rename { from, to } => EnumChange::Rename {
                from: to.clone(),
                to: from.clone(),
            },
            EnumChange::Reorder { from, to } => EnumChange::Reorder {
                from: to.clone(),
                to: from.clone(),
            },
        }
    }

    /// The values after this change, or why it does not fit `values`.
    pub fn applied_to(&self, values: &[String]) -> Result<Vec<String>, String> {
        let has = |v: &str| values.iter().any(|x| x == v);
        let position = |v: &Option<String>| -> Result<usize, String> {
            match v {
                None => Ok(values.len()),
                Some(b) => values
                    .iter()
                    .position(|x| x == b)
                    .ok_or_else(|| format!("it has no value `{b}` to stand before")),
            }
        };
        let mut out = values.to_vec();
        match self {
            EnumChange::Add { value, before } => {
                if has(value) {
                    return Err(format!("it has the value `{value}` already"));
                }
                out.insert(position(before)?, value.clone());
            }
            EnumChange::Remove { value, before } => {
                let at = values
                    .iter()
                    .position(|x| x == value)
                    .ok_or_else(|| format!("it has no value `{value}`"))?;
                if values.get(at + 1) != before.as_ref() {
                    return Err(format!(
                        "`{value}` stands before {}, not {}",
                        values
                            .get(at + 1)
                            .map_or("nothing".into(), |v| format!("`{v}`")),
                        before
                            .as_ref()
                            .map_or("nothing".into(), |v| format!("`{v}`"))
                    ));
                }
                out.remove(at);
            }
            EnumChange::Rename { from, to } => {
                if has(to) {
                    return Err(format!("it has the value `{to}` already"));
                }
                let at = values
                    .iter()
                    .position(|x| x == from)
                    .ok_or_else(|| format!("it has no value `{from}`"))?;
                out[at] = to.clone();
            }
            EnumChange::Reorder { from, to } => {
                if from != values {
                    return Err(format!(
                        "its values are {}, not {} as the reorder says",
                        values.join(", "),
                        from.join(", ")
                    ));
                }
                let mut a = from.clone();
                let mut b = to.clone();
                a.sort();
                b.sort();
                if a != b {
                    return Err("a reorder must keep the same values".into());
                }
                out = to.clone();
            }
        }
        Ok(out)
    }
}

/// One schema or data step. Drop operations keep the full definition of what they drop,
/// so every schema operation has an exact inverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    CreateTable {
        table: TableDef,
    },
    DropTable {
        table: TableDef,
    },
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: ColumnDef,
    },
    DropColumn {
        table: String,
        column: ColumnDef,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    AlterColumn {
        table: String,
        column: String,
        change: AlterColumn,
    },
    /// Renames an index (a changed name, same definition).
    RenameIndex {
        table: String,
        from: String,
        to: String,
    },
    /// Renames a constraint (a changed name, same definition).
    RenameConstraint {
        table: String,
        from: String,
        to: String,
    },
    CreateIndex {
        table: String,
        index: IndexDef,
    },
    DropIndex {
        table: String,
        index: IndexDef,
    },
    AddConstraint {
        table: String,
        constraint: Constraint,
        /// PostgreSQL: added `NOT VALID` (existing rows unchecked, so it takes no long
        /// lock); a later `ValidateConstraint` checks them.
        not_valid: bool,
    },
    /// PostgreSQL: checks the existing rows against a constraint added `NOT VALID`, in a
    /// transaction of its own (it does not block writes). Nothing elsewhere, and nothing
    /// to undo: the schema is the same before and after.
    ValidateConstraint {
        table: String,
        name: String,
    },
    DropConstraint {
        table: String,
        constraint: Constraint,
    },
    Execute {
        sql: ExecuteSql,
    },
    /// Creates a named enum type (PostgreSQL; nothing on the dialects that spell the
    /// values on each column).
    CreateEnum {
        def: EnumDef,
    },
    DropEnum {
        def: EnumDef,
    },
    /// Changes an enum type's values; the columns of the type follow.
    AlterEnum {
        name: String,
        change: EnumChange,
    },
    /// A PostgreSQL schema (nothing elsewhere).
    CreateSchema {
        name: String,
    },
    DropSchema {
        name: String,
    },
    /// Moves a table to another PostgreSQL schema (none: the connection's own).
    MoveTable {
        table: String,
        from: Option<String>,
        to: Option<String>,
    },
    CreateView {
        view: ViewDef,
    },
    DropView {
        view: ViewDef,
    },
    /// Sets (or, to `None`, removes) the comment of a table, or of one of its columns.
    SetComment {
        table: String,
        column: Option<String>,
        from: Option<String>,
        to: Option<String>,
    },
}

impl Operation {
    /// The file spelling of the operation kind (`op = "..."`).
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::CreateTable { .. } => "create_table",
            Operation::DropTable { .. } => "drop_table",
            Operation::RenameTable { .. } => "rename_table",
            Operation::AddColumn { .. } => "add_column",
            Operation::DropColumn { .. } => "drop_column",
            Operation::RenameColumn { .. } => "rename_column",
            Operation::RenameIndex { .. } => "rename_index",
            Operation::RenameConstraint { .. } => "rename_constraint",
            Operation::AlterColumn { .. } => "alter_column",
            Operation::CreateIndex { .. } => "create_index",
            Operation::DropIndex { .. } => "drop_index",
            Operation::AddConstraint { .. } => "add_constraint",
            Operation::ValidateConstraint { .. } => "validate_constraint",
            Operation::DropConstraint { .. } => "drop_constraint",
            Operation::Execute { .. } => "execute",
            Operation::SetComment { .. } => "set_comment",
            Operation::CreateEnum { .. } => "create_enum",
            Operation::DropEnum { .. } => "drop_enum",
            Operation::AlterEnum { .. } => "alter_enum",
            Operation::CreateView { .. } => "create_view",
            Operation::CreateSchema { .. } => "create_schema",
            Operation::DropSchema { .. } => "drop_schema",
            Operation::MoveTable { .. } => "move_table",
            Operation::DropView { .. } => "drop_view",
        }
    }

    pub const KINDS: &'static [&'static str] = &[
        "create_table",
        "drop_table",
        "rename_table",
        "add_column",
        "drop_column",
        "rename_column",
        "alter_column",
        "rename_index",
        "rename_constraint",
        "create_index",
        "drop_index",
        "add_constraint",
        "validate_constraint",
        "drop_constraint",
        "execute",
        "set_comment",
        "create_enum",
        "drop_enum",
        "alter_enum",
        "create_view",
        "drop_view",
        "create_schema",
        "drop_schema",
        "move_table",
    ];

    /// Whether code written for the schema before this operation may fail on the schema
    /// after it (DESIGN's list): drops, renames, type changes, a column made NOT NULL, a
    /// NOT NULL column added without a default, a default dropped (unless the column
    /// becomes nullable in the same change), a unique, foreign key or check added, a
    /// unique index, and any data step.
    pub fn is_breaking(&self) -> bool {
        match self {
            Operation::DropTable { .. }
            | Operation::DropColumn { .. }
            | Operation::RenameTable { .. }
            | Operation::RenameColumn { .. }
            | Operation::Execute { .. } => true,
            // Code that inserts rows must give a NOT NULL column without a default; not a
            // computed one, which it cannot give at all.
            Operation::AddColumn { column, .. } => {
                !column.nullable && column.default.is_none() && column.generated.is_none()
            }
            Operation::AlterColumn { change, .. } => {
                change.ty.is_some()
                    || change.nullable == Some((true, false))
                    || (matches!(&change.default, Some((Some(_), None)))
                        && change.nullable != Some((false, true)))
            }
            Operation::AddConstraint { constraint, .. } => {
                !matches!(constraint, crate::model::Constraint::PrimaryKey(_))
            }
            Operation::CreateIndex { index, .. } => index.unique,
            // Code may still write a removed or renamed value; an added one, or a new
            // order, breaks nothing that ran before.
            Operation::AlterEnum { change, .. } => matches!(
                change,
                EnumChange::Remove { .. } | EnumChange::Rename { .. }
            ),
            Operation::DropEnum { .. }
            | Operation::DropView { .. }
            | Operation::DropSchema { .. }
            | Operation::MoveTable { .. } => true,
            Operation::CreateSchema { .. }
            | Operation::CreateView { .. }
            | Operation::CreateEnum { .. }
            | Operation::CreateTable { .. }
            | Operation::RenameIndex { .. }
            | Operation::RenameConstraint { .. }
            | Operation::DropIndex { .. }
            | Operation::ValidateConstraint { .. }
            | Operation::SetComment { .. }
            | Operation::DropConstraint { .. } => false,
        }
    }

    /// Whether undoing it takes an operation: a validation changes nothing to undo.
    pub fn needs_inverse(&self) -> bool {
        !matches!(self, Operation::ValidateConstraint { .. })
    }

    /// The operation that undoes this one; `None` for a data step, which only its author
    /// can invert, and for what [`Operation::needs_inverse`] says needs none.
    pub fn inverse(&self) -> Option<Operation> {
        Some(match self {
            Operation::CreateTable { table } => Operation::DropTable {
                table: table.clone(),
            },
            Operation::DropTable { table } => Operation::CreateTable {
                table: table.clone(),
            },
            Operation::RenameTable { from, to } => Operation::RenameTable {
                from: to.clone(),
                to: from.clone(),
            },
            Operation::AddColumn { table, column } => Operation::DropColumn {
                table: table.clone(),
                column: column.clone(),
            },
            Operation::DropColumn { table, column } => Operation::AddColumn {
                table: table.clone(),
                column: column.clone(),
            },
            Operation::RenameIndex { table, from, to } => Operation::RenameIndex {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
            Operation::RenameConstraint { table, from, to } => Operation::RenameConstraint {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
            Operation::RenameColumn { table, from, to } => Operation::RenameColumn {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
            Operation::AlterColumn {
                table,
                column,
                change,
            } => Operation::AlterColumn {
                table: table.clone(),
                column: column.clone(),
                change: change.inverse(),
            },
            Operation::CreateIndex { table, index } => Operation::DropIndex {
                table: table.clone(),
                index: index.clone(),
            },
            Operation::DropIndex { table, index } => Operation::CreateIndex {
                table: table.clone(),
                index: index.clone(),
            },
            Operation::AddConstraint {
                table, constraint, ..
            } => Operation::DropConstraint {
                table: table.clone(),
                constraint: constraint.clone(),
            },
            Operation::DropConstraint { table, constraint } => Operation::AddConstraint {
                table: table.clone(),
                constraint: constraint.clone(),
                not_valid: false,
            },
            Operation::SetComment {
                table,
                column,
                from,
                to,
            } => Operation::SetComment {
                table: table.clone(),
                column: column.clone(),
                from: to.clone(),
                to: from.clone(),
            },
            Operation::CreateEnum { def } => Operation::DropEnum { def: def.clone() },
            Operation::DropEnum { def } => Operation::CreateEnum { def: def.clone() },
            Operation::AlterEnum { name, change } => Operation::AlterEnum {
                name: name.clone(),
                change: change.inverse(),
            },
            Operation::CreateSchema { name } => Operation::DropSchema { name: name.clone() },
            Operation::DropSchema { name } => Operation::CreateSchema { name: name.clone() },
            Operation::MoveTable { table, from, to } => Operation::MoveTable {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
            Operation::CreateView { view } => Operation::DropView { view: view.clone() },
            Operation::DropView { view } => Operation::CreateView { view: view.clone() },
            Operation::Execute { .. } | Operation::ValidateConstraint { .. } => return None,
        })
    }

    /// Why this operation can lose data, if it can.
    pub fn destructive(&self) -> Option<String> {
        match self {
            Operation::DropTable { table } => {
                Some(format!("drops table {} and every row in it", table.name))
            }
            Operation::DropColumn { table, column } => {
                Some(format!("drops column {table}.{} and its data", column.name))
            }
            Operation::AlterColumn {
                table,
                column,
                change,
            } => match &change.ty {
                Some((from, to)) if from.is_narrowing_to(to) => {
                    Some(format!("narrows {table}.{column} from {from} to {to}"))
                }
                _ => None,
            },
            Operation::AlterEnum {
                name,
                change: EnumChange::Remove { value, .. },
            } => Some(format!(
                "removes value '{value}' from enum {name}; refused while rows hold it"
            )),
            _ => None,
        }
    }

    /// One line for summaries: `+ add column users.email`.
    pub fn summary(&self) -> String {
        match self {
            Operation::CreateTable { table } => format!("+ create table {}", table.name),
            Operation::DropTable { table } => format!("- drop table {}", table.name),
            Operation::RenameTable { from, to } => format!("~ rename table {from} -> {to}"),
            Operation::AddColumn { table, column } => {
                format!("+ add column {table}.{} ({})", column.name, column.ty)
            }
            Operation::DropColumn { table, column } => {
                format!("- drop column {table}.{}", column.name)
            }
            Operation::RenameColumn { table, from, to } => {
                format!("~ rename column {table}.{from} -> {to}")
            }
            Operation::RenameIndex { table, from, to } => {
                format!("~ rename index {from} -> {to} on {table}")
            }
            Operation::RenameConstraint { table, from, to } => {
                format!("~ rename constraint {from} -> {to} on {table}")
            }
            Operation::AlterColumn {
                table,
                column,
                change,
            } => {
                let mut what = Vec::new();
                if let Some((a, b)) = &change.ty {
                    what.push(format!("type {a} -> {b}"));
                }
                if let Some((_, b)) = &change.nullable {
                    what.push(if *b {
                        "drop not null".into()
                    } else {
                        "set not null".into()
                    });
                }
                if let Some((_, b)) = &change.default {
                    what.push(match b {
                        Some(d) => format!("default {d}"),
                        None => "drop default".into(),
                    });
                }
                if let Some((_, b)) = &change.collation {
                    what.push(match b {
                        Some(Collation::All(n)) => format!("collation {n}"),
                        Some(Collation::PerDialect(m)) => format!(
                            "collation {}",
                            m.iter()
                                .map(|(k, v)| format!("{k} {v}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        None => "default collation".into(),
                    });
                }
                format!("~ alter column {table}.{column}: {}", what.join(", "))
            }
            Operation::CreateIndex { table, index } => {
                format!(
                    "+ create index {} on {table} ({})",
                    index.name,
                    index.columns.join(", ")
                )
            }
            Operation::DropIndex { table, index } => {
                format!("- drop index {} on {table}", index.name)
            }
            Operation::AddConstraint {
                table,
                constraint,
                not_valid,
            } => format!(
                "+ add {} constraint {} on {table}{}",
                constraint.kind().replace('_', " "),
                constraint.name(),
                if *not_valid { " (not valid yet)" } else { "" }
            ),
            Operation::ValidateConstraint { table, name } => {
                format!("~ validate constraint {name} on {table}")
            }
            Operation::DropConstraint { table, constraint } => format!(
                "- drop {} constraint {} on {table}",
                constraint.kind().replace('_', " "),
                constraint.name()
            ),
            Operation::Execute { .. } => "* execute SQL".to_string(),
            Operation::SetComment {
                table, column, to, ..
            } => {
                let on = match column {
                    Some(c) => format!("{table}.{c}"),
                    None => table.clone(),
                };
                match to {
                    Some(_) => format!("~ comment on {on}"),
                    None => format!("- comment on {on}"),
                }
            }
            Operation::CreateEnum { def } => {
                format!("+ create enum {} ({})", def.name, def.values.join(", "))
            }
            Operation::DropEnum { def } => format!("- drop enum {}", def.name),
            Operation::CreateView { view } => format!(
                "+ create {}view {}",
                if view.materialized {
                    "materialized "
                } else {
                    ""
                },
                view.name
            ),
            Operation::DropView { view } => format!("- drop view {}", view.name),
            Operation::CreateSchema { name } => format!("+ create schema {name}"),
            Operation::DropSchema { name } => format!("- drop schema {name}"),
            Operation::MoveTable { table, to, .. } => format!(
                "~ move table {table} to schema {}",
                to.as_deref().unwrap_or("(the connection's own)")
            ),
            Operation::AlterEnum { name, change } => match change {
                EnumChange::Add { value, .. } => format!("+ add value '{value}' to enum {name}"),
                EnumChange::Remove { value, .. } => {
                    format!("- remove value '{value}' from enum {name}")
                }
                EnumChange::Rename { from, to } => {
                    format!("~ rename value '{from}' -> '{to}' of enum {name}")
                }
                EnumChange::Reorder { to, .. } => {
                    format!("~ reorder enum {name} ({})", to.join(", "))
                }
            },
        }
    }

    /// The table the operation changes, if it changes one.
    pub fn table_name(&self) -> Option<&str> {
        match self {
            Operation::CreateTable { table } | Operation::DropTable { table } => Some(&table.name),
            Operation::RenameTable { from, .. } => Some(from),
            Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::RenameIndex { table, .. }
            | Operation::RenameConstraint { table, .. }
            | Operation::AlterColumn { table, .. }
            | Operation::CreateIndex { table, .. }
            | Operation::DropIndex { table, .. }
            | Operation::AddConstraint { table, .. }
            | Operation::ValidateConstraint { table, .. }
            | Operation::SetComment { table, .. }
            | Operation::DropConstraint { table, .. } => Some(table),
            Operation::Execute { .. }
            | Operation::CreateEnum { .. }
            | Operation::DropEnum { .. }
            | Operation::AlterEnum { .. }
            | Operation::CreateView { .. }
            | Operation::DropView { .. }
            | Operation::CreateSchema { .. }
            | Operation::DropSchema { .. } => None,
            Operation::MoveTable { table, .. } => Some(table),
        }
    }
}
