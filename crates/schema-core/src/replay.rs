//! Offline replay: the schema that a list of operations produces, with no database.

use crate::model::{ColumnDef, Schema};
use crate::ops::Operation;
use crate::types::SqlType;

/// An operation that does not fit the schema it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("table `{0}` does not exist")]
    NoTable(String),
    #[error("table `{0}` already exists")]
    TableExists(String),
    #[error("column `{table}.{column}` does not exist")]
    NoColumn { table: String, column: String },
    #[error("column `{table}.{column}` already exists")]
    ColumnExists { table: String, column: String },
    #[error("index `{index}` does not exist on table `{table}`")]
    NoIndex { table: String, index: String },
    #[error("`{name}` already exists on table `{table}`")]
    NameExists { table: String, name: String },
    #[error("constraint `{constraint}` does not exist on table `{table}`")]
    NoConstraint { table: String, constraint: String },
    #[error("column `{table}.{column}` is used by a constraint or index; drop those first")]
    ColumnInUse { table: String, column: String },
    #[error("schema `{0}` does not exist")]
    NoSchema(String),
    #[error("schema `{0}` already exists")]
    SchemaExists(String),
    #[error("schema `{name}` still holds table `{table}`")]
    SchemaInUse { name: String, table: String },
    #[error("table `{table}` is not in schema `{schema}`")]
    NotInSchema { table: String, schema: String },
    #[error("view `{0}` does not exist")]
    NoView(String),
    #[error("a view or table `{0}` exists already")]
    ViewExists(String),
    #[error("enum type `{0}` does not exist")]
    NoEnum(String),
    #[error("enum type `{0}` already exists")]
    EnumExists(String),
    #[error("enum type `{name}` is still used by column `{table}.{column}`")]
    EnumInUse {
        name: String,
        table: String,
        column: String,
    },
    #[error("enum type `{name}`: {message}")]
    EnumChange { name: String, message: String },
    #[error("in the downgrade: {0}")]
    InDowngrade(Box<ReplayError>),
    #[error("the downgrade does not put {0} back as the upgrade found it; a downgrade must be the exact inverse (was the file cut short?)")]
    NotInverse(String),
}

/// Applies the operations in order to `schema`.
pub fn replay<'a>(
    schema: &mut Schema,
    ops: impl IntoIterator<Item = &'a Operation>,
) -> Result<(), ReplayError> {
    for op in ops {
        apply(schema, op)?;
    }
    Ok(())
}

/// Applies one operation. On error the schema is unchanged.
pub fn apply(schema: &mut Schema, op: &Operation) -> Result<(), ReplayError> {
    let op = &*with_enum_values(schema, op)?;
    match op {
        Operation::CreateEnum { .. } | Operation::DropEnum { .. } | Operation::AlterEnum { .. } => {
            apply_to_enums(schema, op)
        }
        Operation::CreateSchema { name } => {
            if !schema.schemas.insert(name.clone()) {
                return Err(ReplayError::SchemaExists(name.clone()));
            }
            Ok(())
        }
        Operation::DropSchema { name } => {
            if let Some(t) = schema
                .tables
                .values()
                .find(|t| t.schema.as_deref() == Some(name))
            {
                return Err(ReplayError::SchemaInUse {
                    name: name.clone(),
                    table: t.name.clone(),
                });
            }
            schema
                .schemas
                .remove(name)
                .then_some(())
                .ok_or_else(|| ReplayError::NoSchema(name.clone()))
        }
        Operation::MoveTable { table, from, to } => {
            if let Some(s) = to.as_ref().filter(|s| !schema.schemas.contains(*s)) {
                return Err(ReplayError::NoSchema(s.clone()));
            }
            let t = schema
                .tables
                .get_mut(table)
                .ok_or_else(|| ReplayError::NoTable(table.clone()))?;
            if t.schema != *from {
                return Err(ReplayError::NotInSchema {
                    table: table.clone(),
                    schema: from.clone().unwrap_or_default(),
                });
            }
            t.schema = to.clone();
            Ok(())
        }
        Operation::CreateView { view } => {
            if schema.views.contains_key(&view.name) || schema.tables.contains_key(&view.name) {
                return Err(ReplayError::ViewExists(view.name.clone()));
            }
            schema.views.insert(view.name.clone(), view.clone());
            Ok(())
        }
        Operation::DropView { view } => schema
            .views
            .remove(&view.name)
            .map(|_| ())
            .ok_or_else(|| ReplayError::NoView(view.name.clone())),
        Operation::CreateTable { .. }
        | Operation::DropTable { .. }
        | Operation::RenameTable { .. } => apply_to_tables(schema, op),
        // A renamed column is renamed where other tables' foreign keys name it too.
        Operation::RenameColumn {
            table: tn,
            from,
            to,
        } => rename_column(schema, tn, from, to),
        Operation::Execute { .. } => Ok(()),
        _ => {
            let tn = op.table_name().unwrap_or_default();
            let t = schema
                .tables
                .get_mut(tn)
                .ok_or_else(|| ReplayError::NoTable(tn.to_string()))?;
            apply_to_table(t, op)
        }
    }
}

/// The operation with the values of every enum column it carries filled in from
/// `schema` (files name only the type), or an error naming an enum `schema` lacks.
pub fn with_enum_values<'a>(
    schema: &Schema,
    op: &'a Operation,
) -> Result<std::borrow::Cow<'a, Operation>, ReplayError> {
    let needs = |ty: &SqlType| matches!(ty, SqlType::Enum { name, values } if schema.enums.get(name).is_none_or(|e| e.values != *values));
    let column_needs = |c: &ColumnDef| needs(&c.ty);
    let any = match op {
        Operation::CreateTable { table } | Operation::DropTable { table } => {
            table.columns.iter().any(column_needs)
        }
        Operation::AddColumn { column, .. } | Operation::DropColumn { column, .. } => {
            column_needs(column)
        }
        Operation::AlterColumn { change, .. } => change
            .ty
            .as_ref()
            .is_some_and(|(a, b)| needs(a) || needs(b)),
        _ => false,
    };
    if !any {
        return Ok(std::borrow::Cow::Borrowed(op));
    }
    let fill = |ty: &mut SqlType| -> Result<(), ReplayError> {
        if let SqlType::Enum { name, values } = ty {
            let def = schema
                .enums
                .get(name)
                .ok_or_else(|| ReplayError::NoEnum(name.clone()))?;
            *values = def.values.clone();
        }
        Ok(())
    };
    let mut op = op.clone();
    match &mut op {
        Operation::CreateTable { table } | Operation::DropTable { table } => {
            for c in &mut table.columns {
                fill(&mut c.ty)?;
            }
        }
        Operation::AddColumn { column, .. } | Operation::DropColumn { column, .. } => {
            fill(&mut column.ty)?
        }
        Operation::AlterColumn { change, .. } => {
            if let Some((a, b)) = &mut change.ty {
                // The type it leaves may be gone already (a downgrade's order); only the
                // type it goes to must exist.
                let _ = fill(a);
                fill(b)?;
            }
        }
        _ => {}
    }
    Ok(std::borrow::Cow::Owned(op))
}

/// Operations on enum types; the columns of an altered type follow it.
fn apply_to_enums(schema: &mut Schema, op: &Operation) -> Result<(), ReplayError> {
    match op {
        Operation::CreateEnum { def } => {
            if schema.enums.contains_key(&def.name) {
                return Err(ReplayError::EnumExists(def.name.clone()));
            }
            let mut def = def.clone();
            def.renamed_values.clear();
            schema.enums.insert(def.name.clone(), def);
        }
        Operation::DropEnum { def } => {
            if !schema.enums.contains_key(&def.name) {
                return Err(ReplayError::NoEnum(def.name.clone()));
            }
            if let Some((t, c)) = schema.enum_columns(&def.name).first() {
                return Err(ReplayError::EnumInUse {
                    name: def.name.clone(),
                    table: t.name.clone(),
                    column: c.name.clone(),
                });
            }
            schema.enums.remove(&def.name);
        }
        Operation::AlterEnum { name, change } => {
            let e = schema
                .enums
                .get_mut(name)
                .ok_or_else(|| ReplayError::NoEnum(name.clone()))?;
            e.values = change
                .applied_to(&e.values)
                .map_err(|message| ReplayError::EnumChange {
                    name: name.clone(),
                    message,
                })?;
            let values = e.values.clone();
            // A default naming a renamed value names the new one (PostgreSQL keeps the
            // value itself, not its spelling; the other dialects are told).
            let renamed = match change {
                crate::ops::EnumChange::Rename { from, to } => Some((
                    crate::dialect::string_literal(from),
                    crate::dialect::string_literal(to),
                )),
                _ => None,
            };
            for c in schema.tables.values_mut().flat_map(|t| &mut t.columns) {
                if let SqlType::Enum { name: n, values: v } = &mut c.ty {
                    if n == name {
                        *v = values.clone();
                        if let (Some((from, to)), Some(d)) = (&renamed, &mut c.default) {
                            if d.trim() == from {
                                *d = to.clone();
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Operations on the set of tables.
fn apply_to_tables(schema: &mut Schema, op: &Operation) -> Result<(), ReplayError> {
    match op {
        Operation::CreateTable { table: def } => {
            if schema.tables.contains_key(&def.name) {
                return Err(ReplayError::TableExists(def.name.clone()));
            }
            if let Some(s) = def.schema.as_ref().filter(|s| !schema.schemas.contains(*s)) {
                return Err(ReplayError::NoSchema(s.clone()));
            }
            let mut def = def.clone();
            def.renamed_from = None;
            schema.tables.insert(def.name.clone(), def);
        }
        Operation::DropTable { table: def } => {
            schema
                .tables
                .remove(&def.name)
                .ok_or_else(|| ReplayError::NoTable(def.name.clone()))?;
        }
        Operation::RenameTable { from, to } => {
            if schema.tables.contains_key(to) {
                return Err(ReplayError::TableExists(to.clone()));
            }
            let mut t = schema
                .tables
                .remove(from)
                .ok_or_else(|| ReplayError::NoTable(from.clone()))?;
            t.name = to.clone();
            schema.tables.insert(to.clone(), t);
            for other in schema.tables.values_mut() {
                for fk in &mut other.foreign_keys {
                    if fk.ref_table == *from {
                        fk.ref_table = to.clone();
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn rename_column(schema: &mut Schema, tn: &str, from: &str, to: &str) -> Result<(), ReplayError> {
    let t = schema
        .tables
        .get_mut(tn)
        .ok_or_else(|| ReplayError::NoTable(tn.to_string()))?;
    if t.column(to).is_some() {
        return Err(ReplayError::ColumnExists {
            table: tn.to_string(),
            column: to.to_string(),
        });
    }
    let c = t.column_mut(from).ok_or_else(|| ReplayError::NoColumn {
        table: tn.to_string(),
        column: from.to_string(),
    })?;
    c.name = to.to_string();
    let rename = |cols: &mut Vec<String>| {
        for c in cols.iter_mut() {
            if c == from {
                *c = to.to_string();
            }
        }
    };
    if let Some(pk) = &mut t.primary_key {
        rename(&mut pk.columns);
    }
    t.uniques.iter_mut().for_each(|u| rename(&mut u.columns));
    t.foreign_keys
        .iter_mut()
        .for_each(|f| rename(&mut f.columns));
    t.indexes.iter_mut().for_each(|i| rename(&mut i.columns));
    for other in schema.tables.values_mut() {
        for fk in &mut other.foreign_keys {
            if fk.ref_table == tn {
                rename(&mut fk.ref_columns);
            }
        }
    }
    Ok(())
}

/// Operations inside one table.
fn apply_to_table(t: &mut crate::model::TableDef, op: &Operation) -> Result<(), ReplayError> {
    fn name_taken(t: &crate::model::TableDef, name: &str) -> bool {
        t.constraint(name).is_some() || t.indexes.iter().any(|i| i.name == name)
    }
    match op {
        Operation::AddColumn { table: tn, column } => {
            if t.column(&column.name).is_some() {
                return Err(ReplayError::ColumnExists {
                    table: tn.clone(),
                    column: column.name.clone(),
                });
            }
            let mut c = column.clone();
            c.renamed_from = None;
            t.columns.push(c);
        }
        Operation::DropColumn { table: tn, column } => {
            if t.column(&column.name).is_none() {
                return Err(ReplayError::NoColumn {
                    table: tn.clone(),
                    column: column.name.clone(),
                });
            }
            if t.uses_column(&column.name) {
                return Err(ReplayError::ColumnInUse {
                    table: tn.clone(),
                    column: column.name.clone(),
                });
            }
            t.columns.retain(|c| c.name != column.name);
        }
        Operation::RenameIndex {
            table: tn,
            from,
            to,
        } => {
            if name_taken(t, to) {
                return Err(ReplayError::NameExists {
                    table: tn.clone(),
                    name: to.clone(),
                });
            }
            let i = t
                .indexes
                .iter_mut()
                .find(|i| i.name == *from)
                .ok_or_else(|| ReplayError::NoIndex {
                    table: tn.clone(),
                    index: from.clone(),
                })?;
            i.name = to.clone();
        }
        Operation::RenameConstraint {
            table: tn,
            from,
            to,
        } => {
            if name_taken(t, to) {
                return Err(ReplayError::NameExists {
                    table: tn.clone(),
                    name: to.clone(),
                });
            }
            rename_constraint(t, tn, from, to)?;
        }
        Operation::AlterColumn {
            table: tn,
            column,
            change,
        } => {
            let c = t.column_mut(column).ok_or_else(|| ReplayError::NoColumn {
                table: tn.clone(),
                column: column.clone(),
            })?;
            if let Some((_, ty)) = &change.ty {
                c.ty = ty.clone();
            }
            if let Some((_, n)) = change.nullable {
                c.nullable = n;
            }
            if let Some((_, d)) = &change.default {
                c.default = d.clone();
            }
            if let Some((_, k)) = &change.collation {
                c.collation = k.clone();
            }
        }
        Operation::CreateIndex { table: tn, index } => {
            if name_taken(t, &index.name) {
                return Err(ReplayError::NameExists {
                    table: tn.clone(),
                    name: index.name.clone(),
                });
            }
            check_columns(t, tn, &index.columns)?;
            t.indexes.push(index.clone());
        }
        Operation::DropIndex { table: tn, index } => {
            let before = t.indexes.len();
            t.indexes.retain(|i| i.name != index.name);
            if before == t.indexes.len() {
                return Err(ReplayError::NoIndex {
                    table: tn.clone(),
                    index: index.name.clone(),
                });
            }
        }
        Operation::AddConstraint {
            table: tn,
            constraint,
            ..
        } => {
            if name_taken(t, constraint.name()) {
                return Err(ReplayError::NameExists {
                    table: tn.clone(),
                    name: constraint.name().to_string(),
                });
            }
            t.add_constraint(constraint.clone());
        }
        Operation::SetComment {
            table: tn,
            column: Some(c),
            to,
            ..
        } => {
            let col = t.columns.iter_mut().find(|x| x.name == *c).ok_or_else(|| {
                ReplayError::NoColumn {
                    table: tn.clone(),
                    column: c.clone(),
                }
            })?;
            col.comment = to.clone();
        }
        Operation::SetComment {
            column: None, to, ..
        } => t.comment = to.clone(),
        Operation::ValidateConstraint { table: tn, name } if t.constraint(name).is_none() => {
            return Err(ReplayError::NoConstraint {
                table: tn.clone(),
                constraint: name.clone(),
            });
        }
        Operation::DropConstraint {
            table: tn,
            constraint,
        } => {
            t.remove_constraint(constraint.name())
                .then_some(())
                .ok_or_else(|| ReplayError::NoConstraint {
                    table: tn.clone(),
                    constraint: constraint.name().to_string(),
                })?;
        }
        _ => {}
    }
    Ok(())
}

/// Renames a constraint in place: same place in its list, new name.
fn rename_constraint(
    t: &mut crate::model::TableDef,
    tn: &str,
    from: &str,
    to: &str,
) -> Result<(), ReplayError> {
    let mut c = t
        .constraint(from)
        .ok_or_else(|| ReplayError::NoConstraint {
            table: tn.to_string(),
            constraint: from.to_string(),
        })?;
    let to = to.to_string();
    match &mut c {
        crate::model::Constraint::PrimaryKey(k) => {
            k.name = to;
            t.primary_key = Some(k.clone());
        }
        crate::model::Constraint::Unique(_) => t
            .uniques
            .iter_mut()
            .filter(|u| u.name == from)
            .for_each(|u| u.name = to.clone()),
        crate::model::Constraint::ForeignKey(_) => t
            .foreign_keys
            .iter_mut()
            .filter(|f| f.name == from)
            .for_each(|f| f.name = to.clone()),
        crate::model::Constraint::Check(_) => t
            .checks
            .iter_mut()
            .filter(|k| k.name == from)
            .for_each(|k| k.name = to.clone()),
    }
    Ok(())
}

fn check_columns(t: &crate::model::TableDef, tn: &str, cols: &[String]) -> Result<(), ReplayError> {
    for c in cols {
        if t.column(c).is_none() {
            return Err(ReplayError::NoColumn {
                table: tn.to_string(),
                column: c.clone(),
            });
        }
    }
    Ok(())
}

/// A revision whose operations do not fit the schema its predecessors produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: revision `{revision}`, operation {} ({kind}): {source}", .path.display(), .index + 1)]
pub struct RevisionReplayError {
    pub path: std::path::PathBuf,
    pub revision: String,
    pub index: usize,
    pub kind: &'static str,
    pub source: Box<ReplayError>,
}

/// Replays the upgrades of `revisions` (in the order given) onto `schema`, checking on
/// the way that each revision's downgrade is the exact inverse of its upgrade.
pub fn replay_revisions<'a>(
    schema: &mut Schema,
    revisions: impl IntoIterator<Item = &'a crate::graph::Revision>,
) -> Result<(), RevisionReplayError> {
    for r in revisions {
        check_inverse(schema, r)?;
        for (index, op) in r.file.upgrade.iter().enumerate() {
            apply(schema, op).map_err(|e| revision_error(r, index, op.kind(), e))?;
        }
    }
    Ok(())
}

/// Checks, from `schema` (the state before `r`), that `r`'s upgrade applies and its
/// downgrade puts every table it touches back exactly as it was; on success `schema` is
/// as it was. A downgrade cut short is found here, before anything runs.
pub fn check_inverse(
    schema: &mut Schema,
    r: &crate::graph::Revision,
) -> Result<(), RevisionReplayError> {
    let touched: std::collections::BTreeSet<&str> = r
        .file
        .upgrade
        .iter()
        .chain(&r.file.downgrade)
        .flat_map(touched_tables)
        .collect();
    // An altered enum changes the columns of its type, wherever they are.
    let alters_enums = r
        .file
        .upgrade
        .iter()
        .chain(&r.file.downgrade)
        .any(|op| matches!(op, Operation::AlterEnum { .. }));
    let touched: std::collections::BTreeSet<&str> = if alters_enums {
        schema.tables.keys().map(String::as_str).collect()
    } else {
        touched
    };
    let before: Vec<(String, Option<crate::model::TableDef>)> = touched
        .iter()
        .map(|n| (n.to_string(), schema.tables.get(*n).cloned()))
        .collect();
    let (enums_before, views_before, schemas_before) = (
        schema.enums.clone(),
        schema.views.clone(),
        schema.schemas.clone(),
    );
    for (index, op) in r.file.upgrade.iter().enumerate() {
        apply(schema, op).map_err(|e| revision_error(r, index, op.kind(), e))?;
    }
    for (index, op) in r.file.downgrade.iter().enumerate() {
        apply(schema, op).map_err(|e| {
            revision_error(r, index, op.kind(), ReplayError::InDowngrade(Box::new(e)))
        })?;
    }
    // Enum types, views and schemas the downgrade does not put back as they were.
    fn changed<V: PartialEq>(
        now: &std::collections::BTreeMap<String, V>,
        was: &std::collections::BTreeMap<String, V>,
    ) -> Option<String> {
        now.keys()
            .chain(was.keys())
            .find(|n| now.get(*n) != was.get(*n))
            .cloned()
    }
    let not_back = changed(&schema.enums, &enums_before)
        .map(|n| format!("enum `{n}`"))
        .or_else(|| changed(&schema.views, &views_before).map(|n| format!("view `{n}`")))
        .or_else(|| {
            schema
                .schemas
                .symmetric_difference(&schemas_before)
                .next()
                .map(|n| format!("schema `{n}`"))
        });
    if let Some(what) = not_back {
        let last = r.file.downgrade.len().saturating_sub(1);
        return Err(revision_error(
            r,
            last,
            "downgrade",
            ReplayError::NotInverse(what),
        ));
    }
    for (name, was) in &before {
        let now = schema.tables.get(name.as_str());
        // Equal as they stand is the common case; otherwise order must not count.
        if now != was.as_ref() && now.map(canonical_table) != was.as_ref().map(canonical_table) {
            let last = r.file.downgrade.len().saturating_sub(1);
            return Err(revision_error(
                r,
                last,
                "downgrade",
                ReplayError::NotInverse(format!("table `{name}`")),
            ));
        }
    }
    Ok(())
}

pub(crate) fn revision_error(
    r: &crate::graph::Revision,
    index: usize,
    kind: &'static str,
    source: ReplayError,
) -> RevisionReplayError {
    RevisionReplayError {
        path: r.path.clone(),
        revision: r.id().to_string(),
        index,
        kind,
        source: Box::new(source),
    }
}

/// The tables an operation reads or writes.
fn touched_tables(op: &Operation) -> Vec<&str> {
    match op {
        Operation::RenameTable { from, to } => vec![from, to],
        other => other.table_name().into_iter().collect(),
    }
}

/// One table in the form schemas are compared in (order of columns and constraints
/// aside).
fn canonical_table(t: &crate::model::TableDef) -> Schema {
    Schema::from_tables([t.clone()]).canonical()
}
