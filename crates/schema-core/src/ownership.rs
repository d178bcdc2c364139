//! Which branch owns each table of the workspace state, and which revision gave each
//! table and column its current name: what autogenerate needs to diff a crate against
//! its own tables only and to write the `depends_on` a new revision needs.

use std::collections::{BTreeMap, BTreeSet};

use crate::graph::MigrationGraph;
use crate::model::{ColumnDef, Constraint, ForeignKeyDef, Schema};
use crate::ops::Operation;

fn owned_by(objects: &BTreeMap<String, ObjectOrigin>, branch: &str) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|(_, o)| o.branch.as_deref() == Some(branch))
        .map(|(n, _)| n.clone())
        .collect()
}

/// Where one table of the state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOrigin {
    /// The branch whose revision created the table (a rename keeps the owner).
    pub branch: Option<String>,
    /// The revision that created it.
    pub created_by: String,
    /// The revision that created it or last renamed it.
    pub named_by: String,
    /// For each column, the revision that added it or last renamed it.
    pub columns: BTreeMap<String, String>,
}

/// Where an enum type or a view of the state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectOrigin {
    pub branch: Option<String>,
    pub created_by: String,
}

/// The origin of every table, enum type and view the whole graph, replayed in order,
/// leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    pub tables: BTreeMap<String, TableOrigin>,
    pub enums: BTreeMap<String, ObjectOrigin>,
    pub views: BTreeMap<String, ObjectOrigin>,
}

impl Ownership {
    /// Follows every revision's upgrade in graph order. Operations that do not fit are
    /// skipped: replay reports those, with their file and line.
    pub fn of(graph: &MigrationGraph) -> Ownership {
        let mut tables: BTreeMap<String, TableOrigin> = BTreeMap::new();
        let mut enums = BTreeMap::new();
        let mut views = BTreeMap::new();
        for rev in graph.ordered() {
            let key = rev.id();
            let origin = || ObjectOrigin {
                branch: graph.branch_of(key),
                created_by: key.to_string(),
            };
            for op in &rev.file.upgrade {
                match op {
                    Operation::CreateEnum { def } => {
                        enums.insert(def.name.clone(), origin());
                    }
                    Operation::DropEnum { def } => {
                        enums.remove(&def.name);
                    }
                    Operation::CreateView { view } => {
                        views.insert(view.name.clone(), origin());
                    }
                    Operation::DropView { view } => {
                        views.remove(&view.name);
                    }
                    Operation::CreateTable { table } => {
                        tables.insert(
                            table.name.clone(),
                            TableOrigin {
                                branch: graph.branch_of(key),
                                created_by: key.to_string(),
                                named_by: key.to_string(),
                                columns: table
                                    .columns
                                    .iter()
                                    .map(|c| (c.name.clone(), key.to_string()))
                                    .collect(),
                            },
                        );
                    }
                    Operation::DropTable { table } => {
                        tables.remove(&table.name);
                    }
                    Operation::RenameTable { from, to } => {
                        if let Some(mut t) = tables.remove(from) {
                            t.named_by = key.to_string();
                            tables.insert(to.clone(), t);
                        }
                    }
                    Operation::AddColumn { table, column } => {
                        if let Some(t) = tables.get_mut(table) {
                            t.columns.insert(column.name.clone(), key.to_string());
                        }
                    }
                    Operation::DropColumn { table, column } => {
                        if let Some(t) = tables.get_mut(table) {
                            t.columns.remove(&column.name);
                        }
                    }
                    Operation::RenameColumn { table, from, to } => {
                        if let Some(t) = tables.get_mut(table) {
                            t.columns.remove(from);
                            t.columns.insert(to.clone(), key.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Ownership {
            tables,
            enums,
            views,
        }
    }

    /// The enum types a branch's revisions created.
    pub fn enums_of(&self, branch: &str) -> BTreeSet<String> {
        owned_by(&self.enums, branch)
    }

    /// The views a branch's revisions created.
    pub fn views_of(&self, branch: &str) -> BTreeSet<String> {
        owned_by(&self.views, branch)
    }

    /// The tables a branch owns.
    pub fn tables_of(&self, branch: &str) -> BTreeSet<String> {
        self.tables
            .iter()
            .filter(|(_, o)| o.branch.as_deref() == Some(branch))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The revisions that created or named the tables and columns referred to by the
    /// foreign keys these operations create, drop, rename or change a column of; `after`
    /// is the schema the operations lead to (where a renamed constraint is found).
    pub fn referenced_by(&self, ops: &[Operation], after: &Schema) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        // A column of another branch's enum type needs the revision that created it.
        let mut enum_of = |ty: &crate::SqlType| {
            if let crate::SqlType::Enum { name, .. } = ty {
                if let Some(o) = self.enums.get(name) {
                    out.insert(o.created_by.clone());
                }
            }
        };
        for op in ops {
            match op {
                Operation::CreateTable { table } => {
                    table.columns.iter().for_each(|c| enum_of(&c.ty))
                }
                Operation::AddColumn { column, .. } => enum_of(&column.ty),
                Operation::AlterColumn { change, .. } => {
                    if let Some((_, to)) = &change.ty {
                        enum_of(to)
                    }
                }
                _ => {}
            }
        }
        let mut refer = |fk: &ForeignKeyDef| {
            if let Some(t) = self.tables.get(&fk.ref_table) {
                out.insert(t.named_by.clone());
                for c in &fk.ref_columns {
                    if let Some(k) = t.columns.get(c) {
                        out.insert(k.clone());
                    }
                }
            }
        };
        let fks = |table: &str| -> Vec<ForeignKeyDef> {
            after
                .tables
                .get(table)
                .map(|t| t.foreign_keys.clone())
                .unwrap_or_default()
        };
        for op in ops {
            match op {
                Operation::CreateTable { table } => table.foreign_keys.iter().for_each(&mut refer),
                Operation::AddConstraint {
                    constraint: Constraint::ForeignKey(fk),
                    ..
                }
                | Operation::DropConstraint {
                    constraint: Constraint::ForeignKey(fk),
                    ..
                } => refer(fk),
                Operation::RenameConstraint { table, to, .. } => fks(table)
                    .iter()
                    .filter(|fk| fk.name == *to)
                    .for_each(&mut refer),
                Operation::AddColumn {
                    table,
                    column: ColumnDef { name, .. },
                }
                | Operation::AlterColumn {
                    table,
                    column: name,
                    ..
                }
                | Operation::RenameColumn {
                    table, to: name, ..
                } => fks(table)
                    .iter()
                    .filter(|fk| fk.columns.contains(name))
                    .for_each(&mut refer),
                _ => {}
            }
        }
        out
    }
}
