//! The model source for tables that already exist (`init --from-database`): one
//! `#[derive(Table)]` struct per table, every name written out, so that parsing it back
//! gives the same tables whatever the naming convention.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use schema_core::{SqlType, TableDef};

/// Rust's keywords that cannot be raw identifiers either, and the rest of the keywords.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// A string literal of Rust source.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

/// `s` lower-cased, with `_` for each character that is not an ASCII letter or digit.
fn lower_word(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A field name for a column: the column name when it is a plain snake_case identifier
/// (raw for a keyword), else a cleaned one (and the caller writes `name = ...`).
fn field_name(column: &str, taken: &mut BTreeSet<String>) -> (String, bool) {
    let plain = !column.is_empty()
        && column
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !column.starts_with(|c: char| c.is_ascii_digit())
        && !NOT_RAW.contains(&column);
    let mut name = if plain {
        column.to_string()
    } else {
        let mut n = lower_word(column);
        if n.is_empty()
            || n.starts_with(|c: char| c.is_ascii_digit())
            || NOT_RAW.contains(&n.as_str())
        {
            n.insert_str(0, "c_");
        }
        n
    };
    let base = name.clone();
    let mut i = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}_{i}");
        i += 1;
    }
    let renamed = name != column;
    if KEYWORDS.contains(&name.as_str()) {
        name = format!("r#{name}");
    }
    (name, renamed)
}

/// A struct name for a table: its PascalCase.
fn struct_name(table: &str, taken: &mut BTreeSet<String>) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in table.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    let base = out.clone();
    let mut i = 2;
    while !taken.insert(out.clone()) || KEYWORDS.contains(&out.as_str()) {
        out = format!("{base}{i}");
        i += 1;
    }
    out
}

/// The Rust type of a column type, and the attribute it needs beside it.
fn rust_type(ty: &SqlType) -> (&'static str, Option<String>) {
    match ty {
        SqlType::SmallInt => ("i16", None),
        SqlType::Integer => ("i32", None),
        SqlType::BigInt => ("i64", None),
        SqlType::Real => ("f32", None),
        SqlType::Double => ("f64", None),
        SqlType::Boolean => ("bool", None),
        SqlType::Text => ("String", None),
        SqlType::Varchar(n) => ("String", Some(format!("max_length = {n}"))),
        SqlType::Bytes => ("Vec<u8>", None),
        SqlType::Date => ("chrono::NaiveDate", None),
        SqlType::Timestamp => ("chrono::NaiveDateTime", None),
        SqlType::TimestampTz => ("chrono::DateTime<chrono::Utc>", None),
        SqlType::Uuid => ("uuid::Uuid", None),
        SqlType::Decimal(None) => ("rust_decimal::Decimal", None),
        SqlType::Json => ("serde_json::Value", None),
        // No Rust type says these: text in Rust, the type named.
        other => (
            "String",
            Some(format!("sql_type = {}", lit(&other.to_string()))),
        ),
    }
}

/// The enum types the tables' columns use, each with the Rust name it is written under:
/// by the type's name, or (SQLite keeps no name) after its table and column.
fn enum_types(
    tables: &[TableDef],
    taken: &mut BTreeSet<String>,
) -> BTreeMap<(String, String), (String, String, Vec<String>)> {
    let mut by_type: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for t in tables {
        for c in &t.columns {
            let SqlType::Enum { name, values } = &c.ty else {
                continue;
            };
            let sql_name = if name.is_empty() {
                lower_word(&format!("{}_{}", t.name, c.name))
            } else {
                name.clone()
            };
            let (rust, _) = by_type
                .entry(sql_name.clone())
                .or_insert_with(|| (struct_name(&sql_name, taken), values.clone()))
                .clone();
            out.insert(
                (t.name.clone(), c.name.clone()),
                (rust, sql_name, values.clone()),
            );
        }
    }
    out
}

/// `#[derive(Enum)]` for one type, every value written out.
fn write_enum(out: &mut String, rust: &str, sql_name: &str, values: &[String]) {
    let _ = writeln!(out, "\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]");
    let _ = writeln!(out, "#[enum_type(name = {})]", lit(sql_name));
    let _ = writeln!(out, "pub enum {rust} {{");
    let mut variants = BTreeSet::new();
    for v in values {
        let variant = struct_name(v, &mut variants);
        let _ = writeln!(out, "    #[enum_value(name = {})]\n    {variant},", lit(v));
    }
    let _ = writeln!(out, "}}");
}

/// The source of one module holding a struct per table, in the order given, and an enum
/// per enum type its columns use.
/// `#[derive(View)]` structs for views (appended to [`model_source`] by whoever has
/// views to write: `import`).
pub fn view_source(views: &[schema_core::ViewDef]) -> String {
    let mut out = String::new();
    let mut taken = BTreeSet::new();
    for v in views {
        let mut attrs = vec![format!("name = {}", lit(&v.name))];
        match &v.sql {
            schema_core::ops::ExecuteSql::All(q) => attrs.push(format!("sql = {}", lit(q))),
            schema_core::ops::ExecuteSql::PerDialect(m) => attrs.push(format!(
                "sql({})",
                m.iter()
                    .map(|(d, q)| format!("{d} = {}", lit(q)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        if v.materialized {
            attrs.push("materialized".into());
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "#[derive(schema::View)]");
        let _ = writeln!(out, "#[view({})]", attrs.join(", "));
        let _ = writeln!(out, "pub struct {};", struct_name(&v.name, &mut taken));
    }
    out
}

pub fn model_source(tables: &[TableDef], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "//! {line}");
    }
    let mut structs = BTreeSet::new();
    let enums = enum_types(tables, &mut structs);
    if enums.is_empty() {
        let _ = writeln!(out, "\nuse schema::Table;");
    } else {
        let _ = writeln!(out, "\nuse schema::{{Enum, Table}};");
    }
    let mut written = BTreeSet::new();
    for (rust, sql_name, values) in enums.values() {
        if written.insert(sql_name.clone()) {
            write_enum(&mut out, rust, sql_name, values);
        }
    }
    for t in tables {
        let _ = writeln!(out);
        let _ = writeln!(out, "#[derive(Debug, Clone, Table)]");
        let mut table_attrs = vec![format!("name = {}", lit(&t.name))];
        if let Some(s) = &t.schema {
            table_attrs.push(format!("schema = {}", lit(s)));
        }
        if let Some(c) = &t.comment {
            table_attrs.push(format!("comment = {}", lit(c)));
        }
        let _ = writeln!(out, "#[table({})]", table_attrs.join(", "));
        if let Some(pk) = &t.primary_key {
            let _ = writeln!(
                out,
                "#[table(primary_key(name = {}, columns({})))]",
                lit(&pk.name),
                list(&pk.columns)
            );
        }
        for u in &t.uniques {
            let _ = writeln!(
                out,
                "#[table(unique(name = {}, columns({})))]",
                lit(&u.name),
                list(&u.columns)
            );
        }
        for fk in &t.foreign_keys {
            let _ = writeln!(
                out,
                "#[table(foreign_key(name = {}, columns({}), ref_table = {}, ref_columns({}), on_delete = {}, on_update = {}))]",
                lit(&fk.name),
                list(&fk.columns),
                lit(&fk.ref_table),
                list(&fk.ref_columns),
                lit(fk.on_delete.as_str()),
                lit(fk.on_update.as_str()),
            );
        }
        for c in &t.checks {
            let _ = writeln!(
                out,
                "#[table(check(name = {}, expr = {}))]",
                lit(&c.name),
                lit(&c.expr)
            );
        }
        for i in &t.indexes {
            let mut extra = String::new();
            if !i.expressions.is_empty() {
                let _ = write!(extra, ", expressions({})", list(&i.expressions));
            }
            if i.unique {
                extra.push_str(", unique");
            }
            if let Some(p) = &i.predicate {
                let _ = write!(extra, ", where = {}", lit(p));
            }
            if let Some(m) = &i.using {
                let _ = write!(extra, ", using = {}", lit(m));
            }
            if !i.include.is_empty() {
                let _ = write!(extra, ", include({})", list(&i.include));
            }
            let _ = writeln!(
                out,
                "#[table(index(name = {}, columns({}){extra}))]",
                lit(&i.name),
                list(&i.columns),
            );
        }
        let _ = writeln!(out, "pub struct {} {{", struct_name(&t.name, &mut structs));
        let mut fields = BTreeSet::new();
        for c in &t.columns {
            let (field, renamed) = field_name(&c.name, &mut fields);
            let (ty, type_attr) = match enums.get(&(t.name.clone(), c.name.clone())) {
                Some((rust, _, _)) => (rust.as_str(), None),
                None => rust_type(&c.ty),
            };
            let mut attrs: Vec<String> = Vec::new();
            if renamed {
                attrs.push(format!("name = {}", lit(&c.name)));
            }
            attrs.extend(type_attr);
            if c.auto_increment {
                attrs.push("auto_increment".into());
            }
            if let Some(d) = &c.default {
                attrs.push(format!("default = {}", lit(d)));
            }
            if let Some(g) = &c.generated {
                attrs.push(format!("generated = {}", lit(&g.expr)));
                if g.stored {
                    attrs.push("stored".into());
                }
            }
            if let Some(text) = &c.comment {
                attrs.push(format!("comment = {}", lit(text)));
            }
            match &c.collation {
                Some(schema_core::Collation::All(n)) => {
                    attrs.push(format!("collation = {}", lit(n)))
                }
                Some(schema_core::Collation::PerDialect(m)) => attrs.push(format!(
                    "collation({})",
                    m.iter()
                        .map(|(k, v)| format!("{k} = {}", lit(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None => {}
            }
            if !attrs.is_empty() {
                let _ = writeln!(out, "    #[column({})]", attrs.join(", "));
            }
            let ty = if c.nullable {
                format!("Option<{ty}>")
            } else {
                ty.to_string()
            };
            let _ = writeln!(out, "    pub {field}: {ty},");
        }
        let _ = writeln!(out, "}}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema_core::{
        CheckDef, ColumnDef, ForeignKeyDef, IndexDef, PrimaryKeyDef, ReferentialAction, UniqueDef,
    };

    #[test]
    fn written_models_parse_back_to_the_same_tables() {
        let mut id = ColumnDef::new("id", SqlType::BigInt);
        id.auto_increment = true;
        let mut email = ColumnDef::new("Email Address", SqlType::Varchar(200));
        email.default = Some("'none@example.com'".into());
        email.collation = Some(schema_core::Collation::PerDialect(
            [("postgres".to_string(), "C".to_string())].into(),
        ));
        let mut kind = ColumnDef::new("type", SqlType::Decimal(Some((10, 2))));
        kind.nullable = true;
        kind.comment = Some("what \"kind\" it is, in money".into());
        let users = TableDef {
            name: "app users".into(),
            columns: vec![
                id,
                email,
                kind,
                ColumnDef::new(
                    "self",
                    SqlType::Custom {
                        name: "citext".into(),
                        per_dialect: Default::default(),
                    },
                ),
                ColumnDef::new("at", SqlType::TimestampTz),
                ColumnDef::new(
                    "role",
                    SqlType::Enum {
                        name: "user_role".into(),
                        values: vec!["owner".into(), "read-only".into()],
                    },
                ),
            ],
            primary_key: Some(PrimaryKeyDef {
                name: "users_pkey".into(),
                columns: vec!["id".into()],
            }),
            uniques: vec![UniqueDef {
                name: "users_email_key".into(),
                columns: vec!["Email Address".into()],
            }],
            checks: vec![CheckDef {
                name: "users_type_check".into(),
                expr: "(\"type\" > 0)".into(),
            }],
            indexes: vec![IndexDef {
                name: "users_at_idx".into(),
                columns: vec!["at".into(), "id".into()],
                unique: true,
                predicate: Some("\"type\" IS NOT NULL".into()),
                using: Some("btree".into()),
                include: vec!["self".into()],
                concurrently: false,
                expressions: vec!["lower(\"self\")".into()],
            }],
            comment: Some("people who sign in".into()),
            ..Default::default()
        };
        let posts = TableDef {
            name: "posts".into(),
            columns: vec![
                ColumnDef::new("user_id", SqlType::BigInt),
                ColumnDef::new("n", SqlType::Integer),
                ColumnDef {
                    generated: Some(schema_core::Generated {
                        expr: "n * 2".into(),
                        stored: true,
                    }),
                    ..ColumnDef::new("twice", SqlType::Integer)
                },
            ],
            primary_key: Some(PrimaryKeyDef {
                name: "posts_pkey".into(),
                columns: vec!["user_id".into(), "n".into()],
            }),
            foreign_keys: vec![ForeignKeyDef {
                name: "posts_user_id_fkey".into(),
                columns: vec!["user_id".into()],
                ref_table: "app users".into(),
                ref_columns: vec!["id".into()],
                on_delete: ReferentialAction::SetNull,
                on_update: ReferentialAction::Cascade,
            }],
            ..Default::default()
        };
        let source = model_source(&[users.clone(), posts.clone()], "adopted");
        let parsed = crate::source::models_in_text(&source, &Default::default(), &[]).0;
        let tables: Vec<TableDef> = parsed.into_iter().map(|m| m.table).collect();
        assert_eq!(tables, [users, posts], "{source}");
        assert!(source.contains("pub r#type: Option<String>,"), "{source}");
        // `identity` is the same as `auto_increment`.
        let with_identity = source.replace("#[column(auto_increment)]", "#[column(identity)]");
        assert_ne!(with_identity, source);
        let again: Vec<TableDef> =
            crate::source::models_in_text(&with_identity, &Default::default(), &[])
                .0
                .into_iter()
                .map(|m| m.table)
                .collect();
        assert_eq!(again, tables);
        assert!(
            source.contains(
                "#[column(name = \"self\", sql_type = \"citext\")]\n    pub c_self: String,"
            ),
            "{source}"
        );
    }
}
