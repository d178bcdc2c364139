//! Use cases the CLI and the embedded runner share, as plain functions over the graph:
//! rendering revisions (validated before anything runs), and a range of them to a script.

use crate::dialect::{Dialect, Step};
use crate::graph::{MigrationGraph, Revision};
use crate::input::comment_text;
use crate::model::Schema;
use crate::ops::{ExecuteSql, Operation};
use crate::replay::{apply, check_inverse, replay_revisions, revision_error, RevisionReplayError};
use crate::targets::Range;

/// Each revision's steps, replayed and rendered in order from `state` (which advances):
/// their upgrades, each checked to have an exact inverse, or their downgrades when `up` is
/// false. A revision that cannot apply is found here, before anything runs.
pub fn render_revisions<'r>(
    dialect: Dialect,
    state: &mut Schema,
    revisions: impl IntoIterator<Item = &'r Revision>,
    up: bool,
) -> Result<Vec<(&'r Revision, Vec<Step>)>, RevisionReplayError> {
    Ok(
        render_revisions_by_operation(dialect, state, revisions, up)?
            .into_iter()
            .map(|(rev, ops)| (rev, ops.into_iter().flatten().collect()))
            .collect(),
    )
}

/// A revision and the steps of each of its operations.
pub type RenderedRevision<'r> = (&'r Revision, Vec<Vec<Step>>);

/// [`render_revisions`], keeping each operation's steps apart (for a database whose DDL
/// commits itself, where progress is recorded operation by operation).
pub fn render_revisions_by_operation<'r>(
    dialect: Dialect,
    state: &mut Schema,
    revisions: impl IntoIterator<Item = &'r Revision>,
    up: bool,
) -> Result<Vec<RenderedRevision<'r>>, RevisionReplayError> {
    let mut out = Vec::new();
    for rev in revisions {
        let ops = if up {
            check_inverse(state, rev)?;
            &rev.file.upgrade
        } else {
            &rev.file.downgrade
        };
        let mut steps = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            let fail = |e| revision_error(rev, index, op.kind(), e);
            steps.push(dialect.render_op(state, op).map_err(fail)?);
            apply(state, op).map_err(fail)?;
        }
        out.push((rev, steps));
    }
    Ok(out)
}

/// The parts a revision runs in when some of its operations have steps that must run
/// outside its transaction ([`Step::Detached`]): each detached operation alone, and the
/// operations between them together. Each part is a range of operation indexes and
/// whether it is detached; after each, the history records how far the revision got.
pub fn parts(ops: &[Vec<Step>], from: usize) -> Vec<(std::ops::Range<usize>, bool)> {
    let detached = |j: usize| ops[j].iter().any(Step::is_detached);
    let mut out = Vec::new();
    let mut j = from;
    while j < ops.len() {
        let end = if detached(j) {
            j + 1
        } else {
            (j..ops.len()).find(|&k| detached(k)).unwrap_or(ops.len())
        };
        out.push((j..end, detached(j)));
        j = end;
    }
    out
}

/// Whether a revision's upgrade runs in [`parts`].
pub fn runs_in_parts(ops: &[Vec<Step>]) -> bool {
    ops.iter().flatten().any(Step::is_detached)
}

/// A revision of a range, whether it is upgraded (else reverted), and the steps of each
/// of its operations.
type RangeStep<'g> = (&'g Revision, bool, Vec<Vec<Step>>);

/// A [`Range`]'s revisions rendered in order from the state it starts at: each with
/// whether it is upgraded (else reverted) and its steps.
fn rendered_range<'g>(
    graph: &'g MigrationGraph,
    dialect: Dialect,
    range: &Range,
) -> Result<Vec<RangeStep<'g>>, String> {
    let mut state = Schema::new();
    replay_revisions(&mut state, graph.in_order(&range.from)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (ids, up) in [(&range.upgrade, true), (&range.downgrade, false)] {
        let revisions = ids.iter().filter_map(|id| graph.get(id));
        let rendered = render_revisions_by_operation(dialect, &mut state, revisions, up)
            .map_err(|e| e.to_string())?;
        out.extend(rendered.into_iter().map(|(rev, steps)| (rev, up, steps)));
    }
    Ok(out)
}

fn verb(up: bool) -> &'static str {
    if up {
        "upgrade"
    } else {
        "downgrade"
    }
}

/// The script of a [`Range`]: its upgrades, or its downgrades, each under a comment that
/// names the revision.
pub fn render_range(
    graph: &MigrationGraph,
    dialect: Dialect,
    range: &Range,
) -> Result<String, String> {
    let mut text = String::new();
    for (rev, up, steps) in rendered_range(graph, dialect, range)? {
        text.push_str(&format!(
            "-- {} {}: {}\n",
            verb(up),
            rev.id(),
            comment_text(&rev.file.message)
        ));
        text.push_str(&statements(&steps, up));
    }
    Ok(text)
}

/// A revision's statements, one per line: an upgrade's as the runner sends them, a
/// downgrade's as they run inside its transaction.
fn statements(steps: &[Vec<Step>], up: bool) -> String {
    steps
        .iter()
        .flatten()
        .map(|s| {
            let s = if up { s.to_string() } else { in_transaction(s) };
            format!("{s};\n")
        })
        .collect()
}

/// A step as it runs inside a transaction (a downgrade runs whole).
fn in_transaction(s: &Step) -> String {
    match s.as_sql() {
        Some(sql) => sql.to_string(),
        None => s.to_string(),
    }
}

/// A [`Range`] as a script that does what the runner does: the history table, then each
/// revision in its own transaction (none on MySQL, whose DDL commits itself) with its
/// history row, for a DBA to run with `psql -v ON_ERROR_STOP=1 -f`, `sqlite3 -bail` or
/// the `mariadb` client. `heading` opens it as comments.
pub fn render_script(
    graph: &MigrationGraph,
    dialect: Dialect,
    range: &Range,
    heading: &str,
    history_at: Option<&str>,
) -> Result<String, String> {
    let rendered = rendered_range(graph, dialect, range)?;
    let mut text = String::new();
    for line in heading.lines() {
        text.push_str(&format!("-- {}\n", comment_text(line)));
    }
    text.push_str(&format!("{};\n", dialect.history_table_sql(history_at)));
    let h = dialect.history_ref(history_at);
    let (begin, commit) = dialect.script_transaction();
    for (rev, up, steps) in rendered {
        let content = rev.content_checksum();
        if up && runs_in_parts(&steps) {
            // As the runner does: what may not run in a transaction runs alone, and the
            // history says after each part how far the revision got.
            text.push_str(&format!(
                "\n-- {} {} (in parts): {}\n",
                verb(up),
                rev.id(),
                comment_text(&rev.file.message)
            ));
            let record = (
                rev.checksum.as_str(),
                content.as_str(),
                rev.file.is_breaking(),
            );
            for (range, detached) in parts(&steps, 0) {
                let progress = (range.end < steps.len()).then(|| format!("upgrade {}", range.end));
                let row = dialect.history_progress_sql(&h, rev.id(), record, progress.as_deref());
                if !detached {
                    text.push_str(&begin);
                }
                for s in steps[range].iter().flatten() {
                    text.push_str(&format!("{s};\n"));
                }
                text.push_str(&format!("{row};\n"));
                if !detached {
                    text.push_str(commit);
                }
            }
            continue;
        }
        text.push_str(&format!(
            "\n-- {} {}: {}\n{begin}",
            verb(up),
            rev.id(),
            comment_text(&rev.file.message)
        ));
        text.push_str(&statements(&steps, up));
        let record = up.then_some((
            rev.checksum.as_str(),
            content.as_str(),
            rev.file.is_breaking(),
        ));
        text.push_str(&format!(
            "{};\n{commit}",
            dialect.history_row_sql(&h, rev.id(), record)
        ));
    }
    Ok(text)
}

/// What a listed dialect lacks among the operations (PostgreSQL 15 has no virtual
/// generated columns, MariaDB no partial indexes): one line per item, naming it;
/// `revision` refuses to write them.
pub fn unsupported_on(ops: &[Operation], dialects: &[Dialect]) -> Vec<String> {
    let mut out = Vec::new();
    for op in ops {
        let Operation::CreateView { view } = op else {
            continue;
        };
        if view.materialized {
            for d in dialects.iter().filter(|d| **d != Dialect::Postgres) {
                out.push(format!(
                    "view {} is materialized, which only PostgreSQL has and `dialects` lists {d}: leave {d} out, or make it a plain view",
                    view.name
                ));
            }
        }
        if let ExecuteSql::PerDialect(texts) = &view.sql {
            for d in dialects.iter().filter(|d| !texts.contains_key(d.name())) {
                out.push(format!(
                    "view {} has no `{d}` query, and `dialects` lists {d}: give `sql({d} = \"...\")` or one query for all",
                    view.name
                ));
            }
        }
    }
    if dialects.contains(&Dialect::Mysql) {
        for op in ops {
            let indexes: Vec<(&str, &crate::model::IndexDef)> = match op {
                Operation::CreateTable { table } => table
                    .indexes
                    .iter()
                    .map(|i| (table.name.as_str(), i))
                    .collect(),
                Operation::CreateIndex { table, index } => vec![(table.as_str(), index)],
                _ => vec![],
            };
            for (t, i) in indexes {
                if i.predicate.is_some() {
                    out.push(format!(
                        "index {} on {t} is partial (`where`), which MariaDB/MySQL does not have: leave mysql out of the crate's `dialects`, or drop the condition",
                        i.name
                    ));
                }
                if !i.expressions.is_empty() {
                    out.push(format!(
                        "index {} on {t} has expressions, which MariaDB does not index: leave mysql out of the crate's `dialects`, or index a stored generated column instead",
                        i.name
                    ));
                }
            }
        }
    }
    if !dialects.contains(&Dialect::Postgres) {
        return out;
    }
    for op in ops {
        let columns: Vec<(&str, &crate::model::ColumnDef)> = match op {
            Operation::CreateTable { table } => table
                .columns
                .iter()
                .map(|c| (table.name.as_str(), c))
                .collect(),
            Operation::AddColumn { table, column } => vec![(table.as_str(), column)],
            _ => vec![],
        };
        for (t, c) in columns {
            if c.generated.as_ref().is_some_and(|g| !g.stored) {
                out.push(format!(
                    "column {t}.{} is a virtual generated column, which PostgreSQL 15 does not have: mark it `stored`, or leave postgres out of the crate's `dialects`",
                    c.name
                ));
            }
        }
    }
    out
}

/// Where a revision does not cover the dialects its crate lists: `execute` steps with SQL
/// per dialect but none for a listed one (there the step does nothing). One line each.
pub fn dialect_gaps(rev: &Revision, dialects: &[Dialect]) -> Vec<String> {
    let mut out = Vec::new();
    for (list, direction) in [
        (&rev.file.upgrade, "upgrade"),
        (&rev.file.downgrade, "downgrade"),
    ] {
        for (i, op) in list.iter().enumerate() {
            let Operation::Execute {
                sql: ExecuteSql::PerDialect(texts),
            } = op
            else {
                continue;
            };
            for d in dialects.iter().filter(|d| !texts.contains_key(d.name())) {
                out.push(format!(
                    "revision {}: {direction} step {} (`execute`) has no `{d}` SQL, and `dialects` lists {d}: there it does nothing",
                    rev.id(),
                    i + 1
                ));
            }
        }
    }
    out
}

/// One revision of a split: its upgrade and its downgrade.
pub type SplitPart = (Vec<Operation>, Vec<Operation>);

/// `revision --split`: the compatible changes, to ship before the code, and the breaking
/// ones, to ship after it. A NOT NULL column without a default is added nullable in the
/// first and made NOT NULL in the second. Each part's downgrade is its upgrade's exact
/// inverse. Refused when the parts do not replay in that order from `state`.
pub fn split_breaking(state: &Schema, upgrade: &[Operation]) -> Result<[SplitPart; 2], String> {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for op in upgrade {
        match op {
            Operation::AddColumn { table, column }
                if !column.nullable && column.default.is_none() =>
            {
                let mut nullable = column.clone();
                nullable.nullable = true;
                first.push(Operation::AddColumn {
                    table: table.clone(),
                    column: nullable,
                });
                second.push(Operation::AlterColumn {
                    table: table.clone(),
                    column: column.name.clone(),
                    change: crate::ops::AlterColumn {
                        nullable: Some((true, false)),
                        ..Default::default()
                    },
                });
            }
            op if op.is_breaking() => second.push(op.clone()),
            op => first.push(op.clone()),
        }
    }
    let mut replayed = state.clone();
    for op in first.iter().chain(&second) {
        apply(&mut replayed, op).map_err(|e| {
            format!("the compatible changes cannot go first ({e}); write them as one revision")
        })?;
    }
    let inverse = |ops: &[Operation]| -> Result<Vec<Operation>, String> {
        ops.iter()
            .rev()
            .filter(|o| o.needs_inverse())
            .map(|o| {
                o.inverse()
                    .ok_or_else(|| format!("`{}` has no automatic inverse", o.kind()))
            })
            .collect()
    };
    let (down1, down2) = (inverse(&first)?, inverse(&second)?);
    Ok([(first, down1), (second, down2)])
}
