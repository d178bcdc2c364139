//! Use cases the CLI and the embedded runner share, as plain functions over the graph:
//! rendering a range of revisions to a script.

use std::collections::BTreeSet;

use crate::dialect::Dialect;
use crate::graph::MigrationGraph;
use crate::input::comment_text;
use crate::model::Schema;
use crate::replay::replay_revisions;

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
    for rev in graph.in_order(&up) {
        text.push_str(&format!(
            "-- upgrade {}: {}\n",
            rev.id(),
            comment_text(&rev.file.message)
        ));
        let steps = dialect
            .render_ops(&mut state, &rev.file.upgrade)
            .map_err(|e| format!("{}: revision `{}`: {e}", rev.path.display(), rev.id()))?;
        for s in steps {
            text.push_str(&format!("{s};\n"));
        }
    }
    for rev in graph.in_order(&down).rev() {
        text.push_str(&format!(
            "-- downgrade {}: {}\n",
            rev.id(),
            comment_text(&rev.file.message)
        ));
        let steps = dialect
            .render_ops(&mut state, &rev.file.downgrade)
            .map_err(|e| format!("{}: revision `{}`: {e}", rev.path.display(), rev.id()))?;
        for s in steps {
            text.push_str(&format!("{s};\n"));
        }
    }
    Ok(text)
}
