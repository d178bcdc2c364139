//! The schema model: what a database's tables look like, dialect-neutral.
//!
//! Every constraint and index carries its resolved name (the naming convention has
//! already been applied), so two schemas compare by plain equality.

use std::collections::BTreeMap;
use std::fmt;

use crate::types::SqlType;

/// A whole schema: tables by name, and the enum types their columns use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    pub tables: BTreeMap<String, TableDef>,
    /// Named enum types (PostgreSQL keeps them as types; SQLite and MySQL spell each
    /// column's values out, so their schemas read back without this map).
    pub enums: BTreeMap<String, EnumDef>,
    /// Views by name.
    pub views: BTreeMap<String, ViewDef>,
    /// PostgreSQL schemas the tables live in beside the connection's own (SQLite and
    /// MySQL have none: there a table keeps its plain name, unique across schemas).
    pub schemas: std::collections::BTreeSet<String>,
}

impl Schema {
    pub fn new() -> Schema {
        Schema::default()
    }

    /// The tables, with the enum types their columns use.
    pub fn from_tables(tables: impl IntoIterator<Item = TableDef>) -> Schema {
        let tables: BTreeMap<String, TableDef> =
            tables.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut enums = BTreeMap::new();
        for c in tables.values().flat_map(|t| &t.columns) {
            if let SqlType::Enum { name, values } = &c.ty {
                enums.entry(name.clone()).or_insert_with(|| EnumDef {
                    name: name.clone(),
                    values: values.clone(),
                    renamed_values: vec![],
                });
            }
        }
        let schemas = tables.values().filter_map(|t| t.schema.clone()).collect();
        Schema {
            tables,
            enums,
            views: BTreeMap::new(),
            schemas,
        }
    }

    /// The models of several crates as one schema (an app and the crates it builds on):
    /// `Schema::combine([core::models(), plugin::models()])`.
    pub fn combine(parts: impl IntoIterator<Item = Schema>) -> Schema {
        let mut enums = BTreeMap::new();
        let mut views = BTreeMap::new();
        let mut tables = Vec::new();
        for p in parts {
            enums.extend(p.enums);
            views.extend(p.views);
            tables.extend(p.tables.into_values());
        }
        let mut s = Schema::from_tables(tables);
        // A part's own definition carries its hints.
        s.enums.extend(enums);
        s.views = views;
        s
    }

    /// Every column of the named enum type, as (table, column).
    pub fn enum_columns(&self, enum_name: &str) -> Vec<(&TableDef, &ColumnDef)> {
        self.tables
            .values()
            .flat_map(|t| t.columns.iter().map(move |c| (t, c)))
            .filter(|(_, c)| matches!(&c.ty, SqlType::Enum { name, .. } if name == enum_name))
            .collect()
    }

    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.get(name)
    }

    /// A copy without the model-only rename hints, as a database would have it.
    pub fn without_hints(&self) -> Schema {
        let mut s = self.clone();
        for e in s.enums.values_mut() {
            e.renamed_values.clear();
        }
        for t in s.tables.values_mut() {
            t.renamed_from = None;
            for c in &mut t.columns {
                c.renamed_from = None;
            }
        }
        s
    }

    /// A copy in a canonical order (columns, constraints and indexes by name). Column
    /// order is not part of a schema's meaning here: `ADD COLUMN` appends, so a migrated
    /// table may list its columns in another order than the model that describes it.
    pub fn canonical(&self) -> Schema {
        let mut s = self.without_hints();
        for t in s.tables.values_mut() {
            t.columns.sort_by(|a, b| a.name.cmp(&b.name));
            t.uniques.sort_by(|a, b| a.name.cmp(&b.name));
            t.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
            t.checks.sort_by(|a, b| a.name.cmp(&b.name));
            t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        }
        s
    }

    /// Foreign keys that point at a table this schema does not have, with the table
    /// that holds them (the caller decides whether another crate provides it).
    pub fn dangling_references(&self) -> Vec<(&TableDef, &ForeignKeyDef)> {
        let mut out = Vec::new();
        for t in self.tables.values() {
            for fk in &t.foreign_keys {
                if !self.tables.contains_key(&fk.ref_table) {
                    out.push((t, fk));
                }
            }
        }
        out
    }

    /// Table names ordered so that every referenced table comes before the tables that
    /// reference it; foreign keys that close a cycle are returned separately so the
    /// caller can add them once both tables exist.
    pub fn creation_order(&self, names: &[String]) -> (Vec<String>, Vec<(String, String)>) {
        let wanted: std::collections::BTreeSet<&str> = names.iter().map(|s| s.as_str()).collect();
        let mut order = Vec::new();
        let mut deferred = Vec::new();
        let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 visiting, 2 done
        fn visit<'a>(
            schema: &'a Schema,
            wanted: &std::collections::BTreeSet<&'a str>,
            name: &'a str,
            state: &mut BTreeMap<&'a str, u8>,
            order: &mut Vec<String>,
            deferred: &mut Vec<(String, String)>,
        ) {
            state.insert(name, 1);
            if let Some(t) = schema.tables.get(name) {
                for fk in &t.foreign_keys {
                    let target = fk.ref_table.as_str();
                    if target == name || !wanted.contains(target) {
                        continue;
                    }
                    match state.get(target) {
                        Some(1) => deferred.push((name.to_string(), fk.name.clone())),
                        Some(_) => {}
                        None => visit(schema, wanted, target, state, order, deferred),
                    }
                }
            }
            state.insert(name, 2);
            order.push(name.to_string());
        }
        for name in names {
            if !state.contains_key(name.as_str()) {
                visit(self, &wanted, name, &mut state, &mut order, &mut deferred);
            }
        }
        (order, deferred)
    }
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Option<PrimaryKeyDef>,
    pub uniques: Vec<UniqueDef>,
    pub foreign_keys: Vec<ForeignKeyDef>,
    pub checks: Vec<CheckDef>,
    pub indexes: Vec<IndexDef>,
    /// Model-only hint: the table's previous name. Never stored in a migration.
    pub renamed_from: Option<String>,
    /// Stored by PostgreSQL and MySQL; SQLite keeps it in the model only.
    pub comment: Option<String>,
    /// The PostgreSQL schema it lives in (none: the connection's own).
    pub schema: Option<String>,
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_mut(&mut self, name: &str) -> Option<&mut ColumnDef> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    /// Every named constraint except indexes, as one list.
    pub fn constraints(&self) -> Vec<Constraint> {
        let mut out = Vec::new();
        if let Some(pk) = &self.primary_key {
            out.push(Constraint::PrimaryKey(pk.clone()));
        }
        out.extend(self.uniques.iter().cloned().map(Constraint::Unique));
        out.extend(
            self.foreign_keys
                .iter()
                .cloned()
                .map(Constraint::ForeignKey),
        );
        out.extend(self.checks.iter().cloned().map(Constraint::Check));
        out
    }

    pub fn constraint(&self, name: &str) -> Option<Constraint> {
        self.constraints().into_iter().find(|c| c.name() == name)
    }

    pub fn add_constraint(&mut self, c: Constraint) {
        match c {
            Constraint::PrimaryKey(pk) => self.primary_key = Some(pk),
            Constraint::Unique(u) => self.uniques.push(u),
            Constraint::ForeignKey(fk) => self.foreign_keys.push(fk),
            Constraint::Check(ck) => self.checks.push(ck),
        }
    }

    /// Removes the named constraint; returns whether there was one.
    pub fn remove_constraint(&mut self, name: &str) -> bool {
        if self.primary_key.as_ref().is_some_and(|pk| pk.name == name) {
            self.primary_key = None;
            return true;
        }
        let before = self.uniques.len() + self.foreign_keys.len() + self.checks.len();
        self.uniques.retain(|u| u.name != name);
        self.foreign_keys.retain(|f| f.name != name);
        self.checks.retain(|c| c.name != name);
        before != self.uniques.len() + self.foreign_keys.len() + self.checks.len()
    }

    /// Whether any constraint or index mentions the column.
    pub fn uses_column(&self, column: &str) -> bool {
        let has = |cols: &[String]| cols.iter().any(|c| c == column);
        self.primary_key.as_ref().is_some_and(|p| has(&p.columns))
            || self.uniques.iter().any(|u| has(&u.columns))
            || self.foreign_keys.iter().any(|f| has(&f.columns))
            || self.indexes.iter().any(|i| has(&i.columns))
    }
}

/// A view: its query (one for every dialect, or one per dialect), as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDef {
    pub name: String,
    pub sql: crate::ops::ExecuteSql,
    /// PostgreSQL's materialized view (its rows kept, refreshed by hand).
    pub materialized: bool,
}

impl ViewDef {
    /// Whether the view's query names `object` (a table or view), by its words: enough
    /// to order views and to know which a change of `object` touches (a false match only
    /// recreates a view).
    pub fn mentions(&self, object: &str) -> bool {
        let texts: Vec<&str> = match &self.sql {
            crate::ops::ExecuteSql::All(s) => vec![s.as_str()],
            crate::ops::ExecuteSql::PerDialect(m) => m.values().map(String::as_str).collect(),
        };
        texts.iter().any(|t| {
            t.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .any(|w| w.eq_ignore_ascii_case(object))
        })
    }
}

impl Schema {
    /// View names ordered so that a view comes after the views it reads.
    pub fn view_order(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut visiting = std::collections::BTreeSet::new();
        fn visit(
            s: &Schema,
            name: &str,
            out: &mut Vec<String>,
            visiting: &mut std::collections::BTreeSet<String>,
        ) {
            if out.iter().any(|o| o == name) || !visiting.insert(name.to_string()) {
                return;
            }
            if let Some(v) = s.views.get(name) {
                for other in s.views.keys().filter(|o| *o != name) {
                    if v.mentions(other) {
                        visit(s, other, out, visiting);
                    }
                }
            }
            out.push(name.to_string());
        }
        for name in self.views.keys() {
            visit(self, name, &mut out, &mut visiting);
        }
        out
    }

    /// The views that read `object`, directly or through other views, in creation order.
    pub fn views_over(&self, objects: &[&str]) -> Vec<String> {
        let mut hit: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let order = self.view_order();
        // In creation order, a view's dependencies are decided before it.
        for name in &order {
            let v = &self.views[name];
            if objects.iter().any(|o| v.mentions(o)) || hit.iter().any(|h| v.mentions(h)) {
                hit.insert(name.clone());
            }
        }
        order.into_iter().filter(|n| hit.contains(n)).collect()
    }
}

/// A named enum type: its values in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumDef {
    pub name: String,
    pub values: Vec<String>,
    /// Model-only hint: (old value, new value) pairs. Never stored in a migration.
    pub renamed_values: Vec<(String, String)>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    /// A server default: a SQL expression, as written.
    pub default: Option<String>,
    /// An integer primary key the database numbers itself (identity / rowid).
    pub auto_increment: bool,
    /// Model-only hint: the column's previous name. Never stored in a migration.
    pub renamed_from: Option<String>,
    /// Stored by PostgreSQL and MySQL; SQLite keeps it in the model only.
    pub comment: Option<String>,
    /// A column the database computes from others of its row.
    pub generated: Option<Generated>,
    /// How the column's text compares and sorts (`COLLATE ...`), where not the default.
    pub collation: Option<Collation>,
}

/// A collation's name, one for every dialect or one per dialect (their names differ:
/// PostgreSQL `C`, SQLite `BINARY`, MySQL `utf8mb4_bin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collation {
    All(String),
    /// Keyed by dialect name; a dialect without a key keeps its default.
    PerDialect(BTreeMap<String, String>),
}

impl Collation {
    /// The name for the dialect named, if it has one.
    pub fn for_dialect(&self, dialect: &str) -> Option<&str> {
        match self {
            Collation::All(n) => Some(n),
            Collation::PerDialect(m) => m.get(dialect).map(String::as_str),
        }
    }
}

/// `GENERATED ALWAYS AS (expr) STORED|VIRTUAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub expr: String,
    /// Computed on write and kept (else computed on read; PostgreSQL 15 has only stored).
    pub stored: bool,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>, ty: SqlType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            ty,
            nullable: false,
            default: None,
            auto_increment: false,
            renamed_from: None,
            comment: None,
            generated: None,
            collation: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKeyDef {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueDef {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_delete: ReferentialAction,
    pub on_update: ReferentialAction,
}

#[derive(Debug, Clone, Default)]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// PostgreSQL: build (and drop) it without blocking writes, outside the revision's
    /// transaction. How an index is built is not what it is: equality ignores this, so a
    /// model gaining `concurrently` is no change and introspection compares equal.
    pub concurrently: bool,
    /// A partial index's condition (`WHERE ...`; PostgreSQL and SQLite).
    pub predicate: Option<String>,
    /// PostgreSQL's access method (`gin`, `gist`, `brin`, `hash`; none: btree).
    pub using: Option<String>,
    /// PostgreSQL: columns stored in the index beside its key (`INCLUDE (...)`).
    pub include: Vec<String>,
    /// Expressions in the key after `columns` (`lower(email)`; PostgreSQL and SQLite).
    pub expressions: Vec<String>,
}

impl PartialEq for IndexDef {
    fn eq(&self, other: &IndexDef) -> bool {
        self.name == other.name
            && self.columns == other.columns
            && self.unique == other.unique
            && self.predicate == other.predicate
            && self.using == other.using
            && self.include == other.include
            && self.expressions == other.expressions
    }
}

impl Eq for IndexDef {}

/// What a foreign key does when the referenced row is deleted or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum ReferentialAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl ReferentialAction {
    pub const SPELLINGS: &'static [&'static str] = &[
        "no action",
        "restrict",
        "cascade",
        "set null",
        "set default",
    ];

    pub fn parse(s: &str) -> Option<ReferentialAction> {
        Some(
            match s.trim().to_ascii_lowercase().replace('_', " ").as_str() {
                "no action" => ReferentialAction::NoAction,
                "restrict" => ReferentialAction::Restrict,
                "cascade" => ReferentialAction::Cascade,
                "set null" => ReferentialAction::SetNull,
                "set default" => ReferentialAction::SetDefault,
                _ => return None,
            },
        )
    }

    pub fn as_str(self) -> &'static str {
        Self::SPELLINGS[self as usize]
    }
}

impl fmt::Display for ReferentialAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named table constraint, as add/drop constraint operations carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    PrimaryKey(PrimaryKeyDef),
    Unique(UniqueDef),
    ForeignKey(ForeignKeyDef),
    Check(CheckDef),
}

impl Constraint {
    pub fn name(&self) -> &str {
        match self {
            Constraint::PrimaryKey(c) => &c.name,
            Constraint::Unique(c) => &c.name,
            Constraint::ForeignKey(c) => &c.name,
            Constraint::Check(c) => &c.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Constraint::PrimaryKey(_) => "primary_key",
            Constraint::Unique(_) => "unique",
            Constraint::ForeignKey(_) => "foreign_key",
            Constraint::Check(_) => "check",
        }
    }
}
