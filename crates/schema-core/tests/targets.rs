//! Targets and ownership as plain functions over a graph of two branches and an upstream
//! dependency whose ids collide with the workspace's.

use std::collections::BTreeSet;
use std::path::PathBuf;

use schema_core::graph::{GraphError, MigrationGraph, Revision};
use schema_core::ownership::Ownership;
use schema_core::resolver::{settle, BranchSource};

fn rev(text: &str, path: &str) -> Revision {
    Revision {
        file: schema_core::file::parse(text, std::path::Path::new(path)).expect("parses"),
        path: PathBuf::from(path),
        checksum: schema_core::checksum::checksum(text),
    }
}

fn table(name: &str, fk_to: Option<&str>) -> String {
    let fk = fk_to
        .map(|t| format!("\nforeign_keys = [{{ name = \"fk_{name}_{t}\", columns = [\"ref\"], ref_table = \"{t}\", ref_columns = [\"id\"] }}]"))
        .unwrap_or_default();
    format!(
        "[[upgrade]]\nop = \"create_table\"\ntable = \"{name}\"\ncolumns = [{{ name = \"id\", type = \"bigint\" }}, {{ name = \"ref\", type = \"bigint\", nullable = true }}]{fk}\n\n[[downgrade]]\nop = \"drop_table\"\ntable = \"{name}\"\ncolumns = [{{ name = \"id\", type = \"bigint\" }}, {{ name = \"ref\", type = \"bigint\", nullable = true }}]{fk}\n"
    )
}

/// upstream: 0001; core: 0001 -> 0003 (rename) ; plugin: 0002 (needs core 0001) -> 0004
/// (needs 0003).
fn graph() -> MigrationGraph {
    let sources = [
        BranchSource {
            branch: "up".into(),
            dir: "up".into(),
            dependency: true,
            sees: vec![],
        },
        BranchSource {
            branch: "core".into(),
            dir: "core".into(),
            dependency: false,
            sees: vec!["up".into()],
        },
        BranchSource {
            branch: "plugin".into(),
            dir: "plugin".into(),
            dependency: false,
            sees: vec!["core".into(), "up".into()],
        },
    ];
    let up = vec![rev(
        &format!("revision = \"0001\"\n{}", table("accounts", None)),
        "up/1.toml",
    )];
    let core = vec![
        rev(&format!("revision = \"0001\"\ndepends_on = [\"up@0001\"]\n{}", table("channels", Some("accounts"))), "core/1.toml"),
        rev("revision = \"0003\"\ndown_revision = \"0001\"\n[[upgrade]]\nop = \"rename_table\"\nfrom = \"channels\"\nto = \"channel_list\"\n\n[[downgrade]]\nop = \"rename_table\"\nfrom = \"channel_list\"\nto = \"channels\"\n", "core/3.toml"),
    ];
    let plugin = vec![
        rev(
            &format!(
                "revision = \"0002\"\ndepends_on = [\"0001\"]\n{}",
                table("mirrors", Some("channels"))
            ),
            "plugin/2.toml",
        ),
        rev(
            "revision = \"0004\"\ndown_revision = \"0002\"\ndepends_on = [\"0003\"]\n",
            "plugin/4.toml",
        ),
    ];
    MigrationGraph::new(settle(&sources, vec![up, core, plugin])).expect("graph")
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_dependency_s_ids_are_qualified_and_bare_ids_resolve_only_when_unique() {
    let g = graph();
    assert_eq!(
        g.get("up@0001").map(|r| r.file.depends_on.clone()),
        Some(vec![])
    );
    assert_eq!(
        g.get("0001").map(|r| r.file.depends_on.clone()),
        Some(vec!["up@0001".to_string()])
    );
    assert!(matches!(
        g.revision_key("0001"),
        Err(GraphError::AmbiguousId { .. })
    ));
    assert_eq!(g.revision_key("core@0001").as_deref(), Ok("0001"));
    assert_eq!(g.revision_key("0003").as_deref(), Ok("0003"));
    assert_eq!(
        g.branch_of("0004").as_deref(),
        Some("plugin"),
        "the root's label, added in memory"
    );
    assert_eq!(g.target_for("0001"), "core@0001");
}

#[test]
fn downgrade_reverts_the_branch_after_the_target_and_what_depends_on_it_only() {
    let g = graph();
    let all = set(&["up@0001", "0001", "0002", "0003", "0004"]);
    let plan = g.downgrade_plan("core@0001", &all).expect("plan");
    assert_eq!(plan.revisions, ["0004", "0003"]);
    assert_eq!(plan.other_branches(&g), ["0004"]);
    assert_eq!(
        g.downgrade_plan("plugin@-1", &all).expect("plan").revisions,
        ["0004"]
    );
    assert_eq!(
        g.downgrade_plan("core@base", &all).expect("plan").revisions,
        ["0004", "0003", "0002", "0001"]
    );
    assert!(matches!(
        g.downgrade_plan("-1", &all),
        Err(GraphError::SeveralBranches { .. })
    ));
    assert!(matches!(
        g.upgrade_set("head", &all),
        Err(GraphError::SeveralHeads { .. })
    ));
    assert_eq!(
        g.upgrade_set("plugin@+1", &set(&["up@0001", "0001"]))
            .expect("set"),
        set(&["up@0001", "0001", "0002"])
    );
}

#[test]
fn a_range_between_branches_is_the_upgrade_it_adds() {
    let g = graph();
    let r = g.range("plugin@0002", "0003").expect("range");
    assert_eq!(r.upgrade, ["0003"]);
    assert!(r.downgrade.is_empty());
    let back = g.range("0004", "core@0001").expect("range");
    assert_eq!(back.downgrade, ["0004", "0003"]);
}

#[test]
fn ownership_follows_renames_and_names_what_a_reference_needs() {
    let g = graph();
    let o = Ownership::of(&g);
    assert_eq!(o.tables["channel_list"].branch.as_deref(), Some("core"));
    assert_eq!(o.tables["channel_list"].created_by, "0001");
    assert_eq!(o.tables["channel_list"].named_by, "0003");
    assert_eq!(o.tables_of("up"), set(&["accounts"]));
    let mut state = schema_core::Schema::new();
    schema_core::replay::replay_revisions(&mut state, g.ordered()).expect("replays");
    assert_eq!(
        state.tables["mirrors"].foreign_keys[0].ref_table, "channel_list",
        "the rename moved the reference"
    );
    let op = schema_core::Operation::CreateTable {
        table: state.tables["mirrors"].clone(),
    };
    assert_eq!(o.referenced_by(&[op], &state), set(&["0001", "0003"]));
}
