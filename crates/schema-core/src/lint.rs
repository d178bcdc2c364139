//! Lock risks of revisions on PostgreSQL: what takes a strong lock on a table that
//! already has rows, or breaks code that is still running, each with its safe form.

use crate::graph::Revision;
use crate::model::{Constraint, Schema};
use crate::ops::Operation;
use crate::replay::apply;
use crate::types::SqlType;

/// One finding of `cargo schema lint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub revision: String,
    /// The upgrade step, from 1.
    pub step: usize,
    pub rule: &'static str,
    pub message: String,
    pub safe_form: String,
    /// Errors fail `lint`; warnings do not.
    pub error: bool,
}

/// Functions whose value changes per row: a default calling one rewrites the table.
const VOLATILE: [&str; 6] = [
    "random(",
    "clock_timestamp(",
    "gen_random_uuid(",
    "uuid_generate_v4(",
    "timeofday(",
    "nextval(",
];

/// The findings of one revision, given the schema just before it.
pub fn lint_revision(before: &Schema, rev: &Revision) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut state = before.clone();
    let declared_compatible = rev.file.breaking == Some(false);
    for (i, op) in rev.file.upgrade.iter().enumerate() {
        // A table created in this revision has no rows and no readers yet.
        let existing = op
            .table_name()
            .is_some_and(|t| before.table(t).is_some() && state.table(t).is_some());
        let mut find = |rule: &'static str, error: bool, message: String, safe: &str| {
            out.push(Finding {
                revision: rev.id().to_string(),
                step: i + 1,
                rule,
                message,
                safe_form: safe.to_string(),
                error,
            })
        };
        if declared_compatible && op.is_breaking() {
            find(
                "breaking-in-compatible",
                true,
                format!("`{}` breaks running code, and the revision says breaking = false", op.summary()),
                "mark it breaking = true, or move the change to a later revision shipped after the code (revision --split)",
            );
        }
        if existing {
            match op {
                Operation::AddConstraint { table, constraint: Constraint::ForeignKey(fk), not_valid: false } => find(
                    "foreign-key-without-not-valid",
                    true,
                    format!("adding foreign key {} scans {table} while blocking writes to it and to {}", fk.name, fk.ref_table),
                    "add it with not_valid = true, then a validate_constraint step (what revision writes for an existing table)",
                ),
                Operation::AddConstraint { table, constraint: Constraint::Check(ck), not_valid: false } => find(
                    "check-without-not-valid",
                    true,
                    format!("adding check {} scans {table} while blocking writes to it", ck.name),
                    "add it with not_valid = true, then a validate_constraint step (what revision writes for an existing table)",
                ),
                Operation::AlterColumn { table, column, change } => {
                    if change.nullable == Some((true, false)) {
                        find(
                            "set-not-null",
                            true,
                            format!("SET NOT NULL on {table}.{column} scans the table under an ACCESS EXCLUSIVE lock"),
                            "add CHECK (column IS NOT NULL) NOT VALID, validate it in a later revision, then SET NOT NULL (which uses the check), then drop the check",
                        );
                    }
                    if let Some((from, to)) = &change.ty {
                        if !widens_in_place(from, to) {
                            find(
                                "type-change-rewrites",
                                true,
                                format!("changing {table}.{column} from {from} to {to} rewrites the table under an ACCESS EXCLUSIVE lock"),
                                "add a new column, backfill it in batches, switch the code, then drop the old one",
                            );
                        }
                    }
                }
                Operation::AddConstraint { table, constraint: Constraint::Unique(u), .. } => find(
                    "unique-without-concurrent-index",
                    false,
                    format!("adding unique {} builds its index while blocking writes to {table}", u.name),
                    "build a unique index CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX (execute steps)",
                ),
                Operation::CreateIndex { table, index } if !index.concurrently => find(
                    "index-without-concurrently",
                    false,
                    format!("building index {} blocks writes to {table} until it is built", index.name),
                    "declare it `concurrently` (index(..., concurrently)), so it is built with CREATE INDEX CONCURRENTLY outside the revision's transaction",
                ),
                Operation::AddColumn { table, column } => {
                    if let Some(d) = &column.default {
                        let lower = d.to_ascii_lowercase();
                        if VOLATILE.iter().any(|f| lower.contains(f)) {
                            find(
                                "volatile-default",
                                true,
                                format!("column {table}.{} gets a volatile default ({d}): every row is rewritten under an ACCESS EXCLUSIVE lock", column.name),
                                "add it without a default, backfill in batches, then set the default",
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        if apply(&mut state, op).is_err() {
            break;
        }
    }
    out
}

/// Whether a type change keeps the stored values as they are (no table rewrite).
fn widens_in_place(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    matches!(
        (from, to),
        (Varchar(a), Varchar(b)) if b >= a
    ) || matches!((from, to), (Varchar(_), Text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ColumnDef, TableDef};
    use crate::ops::AlterColumn;

    fn rev(ops: Vec<Operation>, breaking: Option<bool>) -> Revision {
        Revision {
            file: crate::file::RevisionFile {
                revision: "0002".into(),
                breaking,
                upgrade: ops,
                ..Default::default()
            },
            path: "x.toml".into(),
            checksum: String::new(),
        }
    }

    #[test]
    fn strong_locks_on_existing_tables_are_found_new_tables_are_not() {
        let users = TableDef {
            name: "users".into(),
            columns: vec![ColumnDef::new("name", SqlType::Varchar(10))],
            ..Default::default()
        };
        let before = Schema::from_tables([users.clone()]);
        let widen = Operation::AlterColumn {
            table: "users".into(),
            column: "name".into(),
            change: AlterColumn {
                ty: Some((SqlType::Varchar(10), SqlType::Varchar(20))),
                ..Default::default()
            },
        };
        let narrow = Operation::AlterColumn {
            table: "users".into(),
            column: "name".into(),
            change: AlterColumn {
                ty: Some((SqlType::Varchar(10), SqlType::Integer)),
                nullable: Some((true, false)),
                ..Default::default()
            },
        };
        let rules: Vec<&str> = lint_revision(&before, &rev(vec![widen, narrow.clone()], None))
            .iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, ["set-not-null", "type-change-rewrites"]);
        // The same change on a table this revision creates is fine.
        let fresh = rev(
            vec![
                Operation::CreateTable {
                    table: users.clone(),
                },
                narrow,
            ],
            None,
        );
        assert!(lint_revision(&Schema::new(), &fresh).is_empty());
        // A drop in a revision that says it is compatible.
        let drop = Operation::DropColumn {
            table: "users".into(),
            column: users.columns[0].clone(),
        };
        let found = lint_revision(&before, &rev(vec![drop], Some(false)));
        assert_eq!(found[0].rule, "breaking-in-compatible");
        assert!(found[0].error);
    }
}
