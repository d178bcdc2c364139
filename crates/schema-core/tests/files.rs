//! Migration files and the revision graph: errors point at file:line and name the files.

use std::path::{Path, PathBuf};

use schema_core::checksum::checksum;
use schema_core::file;
use schema_core::graph::{GraphError, MigrationGraph, Revision};

fn parse_err(text: &str) -> String {
    file::parse(text, Path::new("m/0001.toml"))
        .expect_err("must not parse")
        .to_string()
}

#[test]
fn broken_toml_names_file_and_line() {
    let e = parse_err(
        "revision = \"0001\"\nmessage = \"x\"\n\n[[upgrade]]\nop = \"execute\"\nsql = \"SELECT 1\n",
    );
    assert!(e.starts_with("m/0001.toml:6: "), "{e}");
}

#[test]
fn unknown_op_names_the_op_and_its_line() {
    let e = parse_err("revision = \"0001\"\n\n[[upgrade]]\nop = \"add_colum\"\ntable = \"t\"\n");
    assert!(e.starts_with("m/0001.toml:3: "), "{e}");
    assert!(e.contains("unknown variant `add_colum`"), "{e}");
    assert!(e.contains("add_column"), "lists the known ops: {e}");
}

#[test]
fn unknown_field_and_bad_action_are_errors() {
    let e = parse_err("revision = \"1\"\n[[upgrade]]\nop = \"rename_table\"\nfrom = \"a\"\nto = \"b\"\nextra = 1\n");
    assert!(e.contains(":2: ") && e.contains("extra"), "{e}");
    let e = parse_err(
        "revision = \"1\"\n[[upgrade]]\nop = \"add_constraint\"\ntable = \"t\"\nconstraint = { type = \"foreign_key\", name = \"f\", columns = [\"a\"], ref_table = \"o\", ref_columns = [\"id\"], on_delete = \"explode\" }\n",
    );
    assert!(e.contains("unknown referential action `explode`"), "{e}");
    let e = parse_err("message = \"no id\"\n");
    assert!(e.contains("revision"), "{e}");
}

#[test]
fn execute_takes_one_string_or_one_per_dialect() {
    let r = file::parse(
        "revision = \"1\"\n[[upgrade]]\nop = \"execute\"\nsql = { postgres = \"SELECT 1\", sqlite = \"SELECT 2\" }\n[[upgrade]]\nop = \"execute\"\nsql = '''\nUPDATE t\nSET a = 1\n'''\n",
        Path::new("x"),
    )
    .expect("parses");
    assert_eq!(r.upgrade.len(), 2);
    let text = file::write(&r, &[]);
    assert_eq!(
        file::parse(&text, Path::new("x")).expect("written file parses"),
        r
    );
}

#[test]
fn writing_is_stable() {
    let text = "revision = \"0002\"\ndown_revision = \"0001\"\nmessage = \"m\"\ncreated = \"2026-01-01T00:00:00Z\"\n\n[[upgrade]]\nop = \"rename_column\"\ntable = \"t\"\nfrom = \"a\"\nto = \"b\"\n";
    let r = file::parse(text, Path::new("x")).expect("parses");
    let once = file::write(&r, &[]);
    let twice = file::write(&file::parse(&once, Path::new("x")).expect("parses"), &[]);
    assert_eq!(once, twice);
}

#[test]
fn file_names() {
    assert_eq!(
        file::file_name("2026-11-24T01:02:03Z", "0005", "Add e-mail to Users!"),
        "20261124_0005_add_e_mail_to_users.toml"
    );
    assert_eq!(
        file::file_name("2026-11-24", "0001", "  "),
        "20261124_0001.toml"
    );
}

fn rev(id: &str, parents: &[&str], labels: &[&str], path: &str) -> Revision {
    let mut text = format!("revision = \"{id}\"\n");
    if !parents.is_empty() {
        text.push_str(&format!("down_revision = {:?}\n", parents));
    }
    if !labels.is_empty() {
        text.push_str(&format!("branch_labels = {:?}\n", labels));
    }
    Revision {
        file: file::parse(&text, Path::new(path)).expect("parses"),
        path: PathBuf::from(path),
        checksum: checksum(&text),
    }
}

#[test]
fn graph_errors_name_the_files() {
    let dup = MigrationGraph::new(vec![
        rev("1", &[], &["a"], "m/a.toml"),
        rev("1", &[], &[], "m/b.toml"),
    ])
    .expect_err("duplicate");
    let msg = dup[0].to_string();
    assert!(
        msg.contains("m/a.toml") && msg.contains("m/b.toml") && msg.contains("renumber"),
        "{msg}"
    );

    let missing =
        MigrationGraph::new(vec![rev("2", &["1"], &[], "m/two.toml")]).expect_err("missing parent");
    assert!(
        missing[0].to_string().contains("m/two.toml") && missing[0].to_string().contains("`1`")
    );

    let cycle = MigrationGraph::new(vec![
        rev("1", &["2"], &[], "m/1.toml"),
        rev("2", &["1"], &[], "m/2.toml"),
    ])
    .expect_err("cycle");
    assert!(matches!(&cycle[0], GraphError::Cycle { ids } if ids.len() == 2));
}

#[test]
fn two_heads_on_a_branch_and_their_merge() {
    let mut revs = vec![
        rev("1", &[], &["blog"], "m/1.toml"),
        rev("2", &["1"], &[], "m/2.toml"),
        rev("3", &["1"], &[], "m/3.toml"),
    ];
    let g = MigrationGraph::new(revs.clone()).expect("graph");
    let errors = g.head_errors();
    assert_eq!(errors.len(), 1);
    let msg = errors[0].to_string();
    assert!(
        msg.contains("branch `blog` has 2 heads")
            && msg.contains("m/2.toml")
            && msg.contains("merge"),
        "{msg}"
    );
    revs.push(rev("4", &["2", "3"], &[], "m/4.toml"));
    let g = MigrationGraph::new(revs).expect("graph");
    assert!(g.head_errors().is_empty());
    assert_eq!(g.heads().iter().map(|r| r.id()).collect::<Vec<_>>(), ["4"]);
    assert_eq!(g.resolve("blog@head").expect("resolves"), ["4"]);
    assert!(g.resolve("nope").is_err());
}

/// Spellings per dialect are a map (`types`); a file with only `sqlite_type` is written
/// back as it was, and one with a MySQL spelling keeps it through a round trip.
#[test]
fn type_spellings_per_dialect_round_trip() {
    let head = "# cargo-schema revision. Review it, add data steps, edit freely.\nrevision = \"0001\"\nmessage = \"m\"\ncreated = \"2026-01-01T00:00:00Z\"\n\n";
    let old = format!("{head}[[upgrade]]\nop = \"add_column\"\ntable = \"t\"\ncolumn = {{ name = \"doc\", type = \"jsonb\", sqlite_type = \"text\" }}\n");
    let r = file::parse(&old, Path::new("x")).expect("parses");
    assert_eq!(file::write(&r, &[]), old, "today's layout, byte for byte");
    let new = format!("{head}[[upgrade]]\nop = \"add_column\"\ntable = \"t\"\ncolumn = {{ name = \"doc\", type = \"jsonb\", types = {{ mysql = \"json\", sqlite = \"text\" }} }}\n");
    let r = file::parse(&new, Path::new("x")).expect("parses");
    assert_eq!(file::write(&r, &[]), new);
    let schema_core::Operation::AddColumn { column, .. } = &r.upgrade[0] else {
        panic!("add_column")
    };
    use schema_core::Dialect;
    assert_eq!(Dialect::Mysql.type_sql(&column.ty), "json");
    assert_eq!(Dialect::Sqlite.type_sql(&column.ty), "text");
    assert_eq!(Dialect::Postgres.type_sql(&column.ty), "jsonb");
    let alter = format!("{head}# DESTRUCTIVE: narrows t.doc from jsonb to hstore\n[[upgrade]]\nop = \"alter_column\"\ntable = \"t\"\ncolumn = \"doc\"\ntype = {{ from = \"jsonb\", to = \"hstore\" }}\ntypes = {{ from = {{ mysql = \"json\" }}, to = {{ mysql = \"longtext\", sqlite = \"text\" }} }}\n");
    let r = file::parse(&alter, Path::new("x")).expect("parses");
    assert_eq!(file::write(&r, &[]), alter);
    let e = parse_err(&format!("{head}[[upgrade]]\nop = \"add_column\"\ntable = \"t\"\ncolumn = {{ name = \"doc\", type = \"jsonb\", types = {{ oracle = \"clob\" }} }}\n"));
    assert!(e.contains("unknown dialect key `oracle`"), "{e}");
}
