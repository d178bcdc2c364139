//! The one parser of model definitions (`#[derive(Table)]` structs), lowering a struct to
//! the core schema model; the derive macro and the CLI both call it, so they never disagree.

mod attrs;
pub mod config;
pub mod enums;
pub mod source;
pub mod tokens;
pub mod views;
pub mod write;

use std::collections::BTreeSet;

use proc_macro2::Span;
use schema_core::manifest::ModelSettings;
use schema_core::naming::NameParts;
use schema_core::{
    input, CheckDef, ColumnDef, ForeignKeyDef, IndexDef, PrimaryKeyDef, SqlType, TableDef,
    UniqueDef,
};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

pub use attrs::{ColumnAttrs, TableAttrs};
pub use enums::{lower_enum, ModelEnum};
pub use views::{lower_view, ModelView};

/// A problem in a model definition, at the span that caused it.
#[derive(Debug, Clone)]
pub struct ModelError {
    pub span: Span,
    pub message: String,
}

impl ModelError {
    pub fn new(span: Span, message: impl Into<String>) -> ModelError {
        ModelError {
            span,
            message: message.into(),
        }
    }

    pub fn to_syn(&self) -> syn::Error {
        syn::Error::new(self.span, &self.message)
    }
}

/// A lowered model: its table, and where each foreign key was declared (for errors about
/// the table it references).
#[derive(Debug, Clone)]
pub struct ModelTable {
    pub struct_name: String,
    pub table: TableDef,
    pub reference_spans: Vec<(String, Span)>,
}

/// Whether the struct has `#[derive(Table)]` (by the derive's last path segment).
pub fn derives_table(attrs: &[syn::Attribute]) -> bool {
    derives(attrs, "Table")
}

/// Whether the item has `#[derive(<name>)]` (by the derive's last path segment).
pub fn derives(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|m| {
                if m.path.segments.last().is_some_and(|s| s.ident == name) {
                    found = true;
                }
                Ok(())
            });
            found
        })
}

/// `BlogPost` -> `blog_post`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// How deep a field's type may nest generic arguments (`Option<Vec<u8>>` is 3).
pub const MAX_TYPE_DEPTH: usize = 16;

/// How deep a type nests, following each level's first generic argument (what
/// [`map_type`] reads), without recursion.
pub fn type_depth(ty: &syn::Type) -> usize {
    let mut depth = 0;
    let mut ty = Some(ty);
    while let Some(t) = ty {
        depth += 1;
        ty = match t {
            syn::Type::Path(p) => p.path.segments.last().and_then(|seg| match &seg.arguments {
                syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                }),
                _ => None,
            }),
            _ => None,
        };
    }
    depth
}

/// The column type a Rust type maps to, by its last path segment; `None` when unknown.
/// The bool is whether the type is `Option<_>` (a nullable column).
pub fn map_type(ty: &syn::Type) -> Option<(SqlType, bool)> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let first_arg = || match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    let name = seg.ident.to_string();
    let t = match name.as_str() {
        "Option" => {
            let (inner, _) = map_type(first_arg()?)?;
            return Some((inner, true));
        }
        "i16" => SqlType::SmallInt,
        "i32" => SqlType::Integer,
        "i64" => SqlType::BigInt,
        "f32" => SqlType::Real,
        "f64" => SqlType::Double,
        "bool" => SqlType::Boolean,
        "String" => SqlType::Text,
        "Vec" => match first_arg()? {
            syn::Type::Path(p) if p.path.is_ident("u8") => SqlType::Bytes,
            _ => return None,
        },
        "NaiveDate" => SqlType::Date,
        "NaiveDateTime" | "PrimitiveDateTime" => SqlType::Timestamp,
        "DateTime" | "OffsetDateTime" => SqlType::TimestampTz,
        "Uuid" => SqlType::Uuid,
        "Decimal" => SqlType::Decimal(None),
        "Value" => SqlType::Json,
        _ => return None,
    };
    Some((t, false))
}

/// The `///` doc comment of an item, its lines trimmed and joined (none when empty).
fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join("\n").trim().replace('\0', "");
    (!text.is_empty()).then_some(text)
}

/// The table name a struct declares, even when the rest of its definition has errors.
pub fn table_name_of(item: &syn::ItemStruct) -> String {
    TableAttrs::parse(&item.attrs, &mut Vec::new())
        .name
        .unwrap_or_else(|| snake_case(&item.ident.to_string()))
}

/// Lowers one `#[derive(Table)]` struct; a field whose type is one of `enums` is a
/// column of that enum type. Every problem is reported, each at its span.
pub fn lower_struct(
    item: &syn::ItemStruct,
    settings: &ModelSettings,
    enums: &[ModelEnum],
) -> Result<ModelTable, Vec<ModelError>> {
    let naming = &settings.naming;
    let mut errors = Vec::new();
    let tattrs = TableAttrs::parse(&item.attrs, &mut errors);
    let table_name = tattrs
        .name
        .clone()
        .unwrap_or_else(|| snake_case(&item.ident.to_string()));
    let mut t = TableDef {
        name: table_name.clone(),
        schema: tattrs.schema.clone(),
        renamed_from: tattrs.renamed_from.clone(),
        comment: tattrs
            .comment
            .clone()
            .or_else(|| doc_comment(&item.attrs).filter(|_| settings.doc_comments)),
        ..Default::default()
    };
    let mut reference_spans = Vec::new();
    let name = |kind: &str, columns: &[String], referred: &str, n: &str| {
        naming.name(
            kind,
            &NameParts {
                table: &table_name,
                columns,
                referred_table: referred,
                name: n,
            },
        )
    };

    let fields = match &item.fields {
        syn::Fields::Named(f) => f.named.iter().collect::<Vec<_>>(),
        _ => {
            errors.push(ModelError::new(
                item.ident.span(),
                "#[derive(Table)] needs a struct with named fields",
            ));
            vec![]
        }
    };
    let mut pk_span: Option<Span> = None;
    let mut numbered_by_table_key: Vec<(String, Span, String)> = Vec::new();
    for field in fields {
        let cattrs = ColumnAttrs::parse(&field.attrs, &mut errors);
        if cattrs.skip {
            continue;
        }
        let Some(ident) = &field.ident else { continue };
        let col_name = cattrs
            .name
            .clone()
            .unwrap_or_else(|| ident.unraw().to_string());
        let depth = type_depth(&field.ty);
        if depth > MAX_TYPE_DEPTH {
            errors.push(ModelError::new(
                field.ty.span(),
                format!("field `{ident}`: its type is nested {depth} deep; at most {MAX_TYPE_DEPTH} is read"),
            ));
            continue;
        }
        let mapped = map_type(&field.ty).or_else(|| {
            enums::field_enum(&field.ty, enums).map(|(e, optional)| (e.sql_type(), optional))
        });
        let nullable_wrapper = is_option(&field.ty);
        let Some(ty) = field_type(field, ident, &cattrs, mapped.as_ref(), &mut errors) else {
            continue;
        };
        if t.columns.iter().any(|c| c.name == col_name) {
            errors.push(ModelError::new(
                ident.span(),
                format!("field `{ident}`: table `{table_name}` has a column `{col_name}` already"),
            ));
        }
        let mut col = ColumnDef::new(col_name.clone(), ty);
        col.nullable = nullable_wrapper || cattrs.nullable;
        col.default = cattrs.default.clone();
        col.renamed_from = cattrs.renamed_from.clone();
        col.collation = cattrs.collation.clone();
        match (&cattrs.generated, cattrs.stored) {
            (Some(expr), stored) => {
                if cattrs.default.is_some() || cattrs.primary_key {
                    errors.push(ModelError::new(
                        ident.span(),
                        format!("field `{ident}`: a generated column has no default and is no primary key"),
                    ));
                }
                col.generated = Some(schema_core::Generated {
                    expr: expr.clone(),
                    stored,
                });
            }
            (None, true) => errors.push(ModelError::new(
                ident.span(),
                format!("field `{ident}`: `stored` needs `generated = \"...\"`"),
            )),
            (None, false) => {}
        }
        col.comment = cattrs
            .comment
            .clone()
            .or_else(|| doc_comment(&field.attrs).filter(|_| settings.doc_comments));
        let cols = vec![col_name.clone()];
        if cattrs.primary_key {
            if let Some(_prev) = pk_span.replace(ident.span()) {
                errors.push(ModelError::new(
                    ident.span(),
                    format!("field `{ident}`: a table has one primary key; for a composite key use #[table(primary_key(columns(...)))]"),
                ));
            }
            if col.nullable {
                errors.push(ModelError::new(
                    field.ty.span(),
                    format!("field `{ident}`: a primary key cannot be nullable"),
                ));
            }
            col.auto_increment = col.ty.is_integer() && cattrs.auto_increment.unwrap_or(true);
            t.primary_key = Some(PrimaryKeyDef {
                name: name("pk", &cols, "", ""),
                columns: cols.clone(),
            });
        } else if cattrs.auto_increment == Some(true) {
            // Allowed when the table's primary key (named in #[table(primary_key(...))])
            // is this column alone: checked once the table attributes are read.
            numbered_by_table_key.push((col_name.clone(), field.span(), ident.to_string()));
        }
        if let Some((target, span)) = &cattrs.references {
            let (rt, rc) = match target.split_once('.') {
                Some((t, c)) => (t.to_string(), c.to_string()),
                None => (target.clone(), "id".to_string()),
            };
            let fk_name = name("fk", &cols, &rt, "");
            reference_spans.push((fk_name.clone(), *span));
            t.foreign_keys.push(ForeignKeyDef {
                name: fk_name,
                columns: cols.clone(),
                ref_table: rt,
                ref_columns: vec![rc],
                on_delete: cattrs.on_delete.unwrap_or_default(),
                on_update: cattrs.on_update.unwrap_or_default(),
            });
        } else if cattrs.on_delete.is_some() || cattrs.on_update.is_some() {
            errors.push(ModelError::new(
                field.span(),
                format!("field `{ident}`: `on_delete`/`on_update` need `references`"),
            ));
        }
        if cattrs.unique {
            t.uniques.push(UniqueDef {
                name: name("uq", &cols, "", ""),
                columns: cols.clone(),
            });
        }
        if cattrs.index {
            t.indexes.push(IndexDef {
                name: name("ix", &cols, "", ""),
                columns: cols.clone(),
                unique: false,
                concurrently: false,
                ..Default::default()
            });
        }
        t.columns.push(col);
    }

    lower_table_attrs(
        &mut t,
        &tattrs,
        pk_span.is_some(),
        &name,
        &mut reference_spans,
        &mut errors,
    );
    for (col, span, ident) in numbered_by_table_key {
        let alone = t
            .primary_key
            .as_ref()
            .is_some_and(|pk| pk.columns == [col.clone()]);
        match t.columns.iter_mut().find(|c| c.name == col) {
            Some(c) if alone && c.ty.is_integer() => c.auto_increment = true,
            _ => errors.push(ModelError::new(
                span,
                format!("field `{ident}`: `auto_increment` needs `primary_key` (on the field, or a table primary key of this integer column alone)"),
            )),
        }
    }
    check_names(&t, item.ident.span(), &mut errors);
    if errors.is_empty() {
        Ok(ModelTable {
            struct_name: item.ident.to_string(),
            table: t,
            reference_spans,
        })
    } else {
        Err(errors)
    }
}

/// A name from the naming convention: kind, columns, referred table, check name.
type NameOf<'a> = dyn Fn(&str, &[String], &str, &str) -> String + 'a;

/// The table-level definitions of `#[table(...)]` (primary key, indexes, uniques, foreign
/// keys, checks); their columns must exist.
fn lower_table_attrs(
    t: &mut TableDef,
    tattrs: &TableAttrs,
    pk_from_field: bool,
    name: &NameOf<'_>,
    reference_spans: &mut Vec<(String, Span)>,
    errors: &mut Vec<ModelError>,
) {
    let t_name = t.name.clone();
    let known: BTreeSet<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let check_cols = |cols: &[String], span: Span, errors: &mut Vec<ModelError>| {
        for c in cols {
            if !known.contains(c) {
                errors.push(ModelError::new(
                    span,
                    format!("table `{}` has no column `{c}`", t_name),
                ));
            }
        }
        if cols.is_empty() {
            errors.push(ModelError::new(
                span,
                "`columns(...)` must name at least one column",
            ));
        }
    };
    if let Some((cols, n, span)) = &tattrs.primary_key {
        check_cols(cols, *span, errors);
        if pk_from_field {
            errors.push(ModelError::new(
                *span,
                "two primary keys: a field has #[column(primary_key)] already",
            ));
        }
        t.primary_key = Some(PrimaryKeyDef {
            name: n.clone().unwrap_or_else(|| name("pk", cols, "", "")),
            columns: cols.clone(),
        });
    }
    for ix in &tattrs.indexes {
        // An index of expressions alone names no column, and needs a name of its own.
        let expressions_only = ix.columns.is_empty() && !ix.expressions.is_empty();
        if !expressions_only {
            check_cols(&ix.columns, ix.span, errors);
        } else if ix.name.is_none() {
            errors.push(ModelError::new(
                ix.span,
                "an index of `expressions` alone needs `name = \"...\"`",
            ));
        }
        if !ix.include.is_empty() {
            check_cols(&ix.include, ix.span, errors);
        }
        t.indexes.push(IndexDef {
            name: ix
                .name
                .clone()
                .unwrap_or_else(|| name("ix", &ix.columns, "", "")),
            columns: ix.columns.clone(),
            unique: ix.unique,
            concurrently: ix.concurrently,
            predicate: ix.predicate.clone(),
            using: ix.using.clone(),
            include: ix.include.clone(),
            expressions: ix.expressions.clone(),
        });
    }
    for uq in &tattrs.uniques {
        check_cols(&uq.columns, uq.span, errors);
        t.uniques.push(UniqueDef {
            name: uq
                .name
                .clone()
                .unwrap_or_else(|| name("uq", &uq.columns, "", "")),
            columns: uq.columns.clone(),
        });
    }
    for fk in &tattrs.foreign_keys {
        check_cols(&fk.columns, fk.span, errors);
        if fk.columns.len() != fk.ref_columns.len() {
            errors.push(ModelError::new(
                fk.span,
                "`columns` and `ref_columns` must have the same length",
            ));
        }
        let fk_name = fk
            .name
            .clone()
            .unwrap_or_else(|| name("fk", &fk.columns, &fk.ref_table, ""));
        reference_spans.push((fk_name.clone(), fk.span));
        t.foreign_keys.push(ForeignKeyDef {
            name: fk_name,
            columns: fk.columns.clone(),
            ref_table: fk.ref_table.clone(),
            ref_columns: fk.ref_columns.clone(),
            on_delete: fk.on_delete,
            on_update: fk.on_update,
        });
    }
    for (i, ck) in tattrs.checks.iter().enumerate() {
        t.checks.push(CheckDef {
            name: ck
                .name
                .clone()
                .unwrap_or_else(|| name("ck", &[], "", &(i + 1).to_string())),
            expr: ck.expr.clone(),
        });
    }
}

/// The SQL type of a field: `sql_type` (one name, or one per dialect) when given, else
/// what its Rust type maps to (`max_length` making a `String` a `varchar`). `None` after
/// an error.
fn field_type(
    field: &syn::Field,
    ident: &syn::Ident,
    cattrs: &ColumnAttrs,
    mapped: Option<&(SqlType, bool)>,
    errors: &mut Vec<ModelError>,
) -> Option<SqlType> {
    // `sql_type(postgres = ..., sqlite = ..., mysql = ...)`: the type's name is
    // PostgreSQL's (else the first given), the rest its spellings per dialect.
    let mut per_dialect = cattrs.sql_types.clone();
    if let Some(s) = &cattrs.sqlite_type {
        per_dialect.insert("sqlite".into(), s.clone());
    }
    let sql_name = cattrs.sql_type.clone().or_else(|| {
        per_dialect
            .remove("postgres")
            .or_else(|| per_dialect.values().next().cloned())
    });
    Some(match (&sql_name, mapped) {
        (Some(sql), _) => SqlType::parse_per_dialect(sql, per_dialect),
        (None, Some((t, _))) => match (cattrs.max_length, t) {
            (Some(n), SqlType::Text) => SqlType::Varchar(n),
            (Some(_), _) => {
                errors.push(ModelError::new(
                    field.ty.span(),
                    format!("field `{ident}`: `max_length` applies to String fields only"),
                ));
                t.clone()
            }
            (None, t) => t.clone(),
        },
        (None, None) => {
            let ty = &field.ty;
            errors.push(ModelError::new(
                field.ty.span(),
                format!(
                    "field `{ident}` has type `{}`, which has no SQL type; give it \
                     #[column(sql_type = \"...\")] or #[column(skip)], or #[derive(Enum)] it in this crate",
                    quote::quote!(#ty).to_string().replace(' ', "")
                ),
            ));
            return None;
        }
    })
}

/// Names the database would refuse: two definitions under one name, and names longer
/// than PostgreSQL keeps (it cuts them silently, after which nothing compares equal).
fn check_names(t: &TableDef, span: Span, errors: &mut Vec<ModelError>) {
    let mut names = BTreeSet::new();
    for n in t
        .constraints()
        .iter()
        .map(|c| c.name().to_string())
        .chain(t.indexes.iter().map(|i| i.name.clone()))
    {
        if !names.insert(n.clone()) {
            errors.push(ModelError::new(
                span,
                format!(
                    "table `{}` defines the name `{n}` twice; give one a `name = \"...\"`",
                    t.name
                ),
            ));
        }
    }
    let constraints = t.constraints();
    let too_long = std::iter::once(("table", t.name.clone()))
        .chain(t.columns.iter().map(|c| ("column", c.name.clone())))
        .chain(
            constraints
                .iter()
                .map(|c| ("constraint", c.name().to_string())),
        )
        .chain(t.indexes.iter().map(|i| ("index", i.name.clone())));
    for (kind, n) in too_long {
        if let Err(e) = input::identifier(&n) {
            errors.push(ModelError::new(span, format!("{kind} {e}")));
        }
    }
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// Foreign keys whose table is neither among `models` nor in `other_tables`, and
/// referenced columns the target does not have; each at the span that declared it.
/// Each error comes with the index of the model that declared the foreign key.
pub fn check_references(
    models: &[ModelTable],
    other_tables: &BTreeSet<String>,
) -> Vec<(usize, ModelError)> {
    let mut errors = Vec::new();
    for (mi, m) in models.iter().enumerate() {
        for fk in &m.table.foreign_keys {
            let span = m
                .reference_spans
                .iter()
                .find(|(n, _)| *n == fk.name)
                .map(|(_, s)| *s)
                .unwrap_or_else(Span::call_site);
            match models.iter().find(|o| o.table.name == fk.ref_table) {
                Some(target) => {
                    for c in &fk.ref_columns {
                        if target.table.column(c).is_none() {
                            errors.push((mi, ModelError::new(
                                span,
                                format!("`{}` references `{}.{c}`, but table `{}` has no column `{c}`", m.table.name, fk.ref_table, fk.ref_table),
                            )));
                        }
                    }
                }
                None if other_tables.contains(&fk.ref_table) => {}
                None => errors.push((
                    mi,
                    ModelError::new(
                        span,
                        format!(
                            "`{}` references table `{}`, which no model defines{}",
                            m.table.name,
                            fk.ref_table,
                            known_hint(models, other_tables)
                        ),
                    ),
                )),
            }
        }
    }
    errors
}

fn known_hint(models: &[ModelTable], other: &BTreeSet<String>) -> String {
    let mut names: Vec<&str> = models
        .iter()
        .map(|m| m.table.name.as_str())
        .chain(other.iter().map(String::as_str))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        String::new()
    } else {
        format!(" (known tables: {})", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("BlogPost"), "blog_post");
        assert_eq!(snake_case("HTTPLog"), "http_log");
        assert_eq!(snake_case("Tag2Post"), "tag2_post");
    }
}
