//! Use cases the CLI and the embedded runner share, as plain functions over the graph:
//! rendering revisions (validated before anything runs), and a range of them to a script.

use std::collections::BTreeSet;

use crate::dialect::{Dialect, Step};
use crate::graph::{MigrationGraph, Revision};
use crate::input::comment_text;
use crate::model::Schema;
use crate::replay::{apply, check_inverse, replay_revisions, revision_error, RevisionReplayError};

/// Each revision's steps, replayed and rendered in order from `state` (which advances):
/// their upgrades, each checked to have an exact inverse, or their downgrades when `up` is
/// false. A revision that cannot apply is found here, before anything runs.
pub fn render_revisions<'r>(
    dialect: Dialect,
    state: &mut Schema,
    revisions: impl IntoIterator<Item = &'r Revision>,
    up: bool,
) -> Result<Vec<(&'r Revision, Vec<Step>)>, RevisionReplayError> {
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
            steps.extend(dialect.render_op(state, op).map_err(fail)?);
            apply(state, op).map_err(fail)?;
        }
        out.push((rev, steps));
    }
    Ok(out)
}

/// The script that takes a database from the revisions `from` to the revisions `to`:
/// upgrade SQL when `to` is ahead of `from`, downgrade SQL when it is behind.
pub fn render_range(
    graph: &MigrationGraph,
    dialect: Dialect,
    from: &BTreeSet<String>,
    to: &BTreeSet<String>,
) -> Result<String, String> {
    let mut state = Schema::new();
    replay_revisions(&mut state, graph.in_order(from)).map_err(|e| e.to_string())?;
    let mut text = String::new();
    let up: BTreeSet<String> = to.difference(from).cloned().collect();
    let down: BTreeSet<String> = from.difference(to).cloned().collect();
    let upgrades = render_revisions(dialect, &mut state, graph.in_order(&up), true)
        .map_err(|e| e.to_string())?;
    for (rev, steps) in upgrades {
        text.push_str(&format!(
            "-- upgrade {}: {}\n",
            rev.id(),
            comment_text(&rev.file.message)
        ));
        for s in steps {
            text.push_str(&format!("{s};\n"));
        }
    }
    let downgrades = render_revisions(dialect, &mut state, graph.in_order(&down).rev(), false)
        .map_err(|e| e.to_string())?;
    for (rev, steps) in downgrades {
        text.push_str(&format!(
            "-- downgrade {}: {}\n",
            rev.id(),
            comment_text(&rev.file.message)
        ));
        for s in steps {
            text.push_str(&format!("{s};\n"));
        }
    }
    Ok(text)
}
