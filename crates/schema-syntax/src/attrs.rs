//! `#[table(...)]` and `#[column(...)]` attributes. Every problem is collected with its
//! span; parsing goes on after an error so that all of them are reported at once.

use proc_macro2::Span;
use schema_core::{input, ReferentialAction};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{LitBool, LitInt, LitStr};

use crate::ModelError;

const TABLE_KEYS: &[&str] = &[
    "name",
    "renamed_from",
    "primary_key",
    "index",
    "unique",
    "foreign_key",
    "check",
    "comment",
    "schema",
];
const COLUMN_KEYS: &[&str] = &[
    "primary_key",
    "auto_increment",
    "identity",
    "name",
    "max_length",
    "default",
    "nullable",
    "references",
    "on_delete",
    "on_update",
    "index",
    "unique",
    "sql_type",
    "sqlite_type",
    "renamed_from",
    "skip",
    "comment",
    "generated",
    "stored",
    "collation",
];

/// The key a nested attribute names (empty for a path that is no single name).
pub(crate) fn key_of(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default()
}

/// An attribute key `what` does not take, with the keys it does.
pub(crate) fn unknown(meta: &ParseNestedMeta<'_>, what: &str, keys: &[&str]) -> syn::Error {
    let key = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| "?".into());
    let list = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    meta.error(format!(
        "unknown {what} attribute `{key}`, expected one of {list}"
    ))
}

fn string(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    Ok(meta.value()?.parse::<LitStr>()?.value())
}

/// A string that reaches SQL, checked where it is written (`schema_core::input`).
fn checked(
    meta: &ParseNestedMeta<'_>,
    check: fn(&str) -> Result<(), String>,
) -> syn::Result<String> {
    let lit = meta.value()?.parse::<LitStr>()?;
    let value = lit.value();
    check(&value).map_err(|e| syn::Error::new(lit.span(), e))?;
    Ok(value)
}

/// A comment's text (it reaches SQL as a literal, quotes doubled; NUL cannot).
fn comment(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    let lit = meta.value()?.parse::<LitStr>()?;
    let value = lit.value();
    if value.contains('\0') {
        return Err(syn::Error::new(
            lit.span(),
            "a comment cannot hold a NUL character",
        ));
    }
    Ok(value)
}

/// `key(postgres = "...", sqlite = "...", mysql = "...")`: a string per dialect name, each
/// checked where it is written.
pub(crate) fn per_dialect(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    check: fn(&str) -> Result<(), String>,
) -> syn::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    meta.parse_nested_meta(|inner| {
        let dialect = key_of(&inner);
        let names = schema_core::Dialect::ALL.map(schema_core::Dialect::name);
        if !names.contains(&dialect.as_str()) {
            return Err(inner.error(format!(
                "unknown dialect `{dialect}` in `{key}(...)`; expected {}",
                names.join(", ")
            )));
        }
        out.insert(dialect, checked(&inner, check)?);
        Ok(())
    })?;
    Ok(out)
}

fn columns(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<String>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let list = content.parse_terminated(<LitStr as syn::parse::Parse>::parse, syn::Token![,])?;
    Ok(list.iter().map(LitStr::value).collect())
}

fn action(meta: &ParseNestedMeta<'_>) -> syn::Result<ReferentialAction> {
    let lit = meta.value()?.parse::<LitStr>()?;
    ReferentialAction::parse(&lit.value()).ok_or_else(|| {
        syn::Error::new(
            lit.span(),
            format!(
                "unknown referential action `{}`, expected one of {}",
                lit.value(),
                ReferentialAction::SPELLINGS
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

fn flag(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        Ok(meta.value()?.parse::<LitBool>()?.value)
    } else {
        Ok(true)
    }
}

#[derive(Debug, Clone)]
pub struct IndexAttr {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub unique: bool,
    pub concurrently: bool,
    pub predicate: Option<String>,
    pub using: Option<String>,
    pub include: Vec<String>,
    pub expressions: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ForeignKeyAttr {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_delete: ReferentialAction,
    pub on_update: ReferentialAction,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct CheckAttr {
    pub name: Option<String>,
    pub expr: String,
}

/// What `#[table(...)]` attributes say.
#[derive(Debug, Clone, Default)]
pub struct TableAttrs {
    pub name: Option<String>,
    pub renamed_from: Option<String>,
    pub primary_key: Option<(Vec<String>, Option<String>, Span)>,
    pub indexes: Vec<IndexAttr>,
    pub uniques: Vec<IndexAttr>,
    pub foreign_keys: Vec<ForeignKeyAttr>,
    pub checks: Vec<CheckAttr>,
    pub comment: Option<String>,
    pub schema: Option<String>,
}

impl TableAttrs {
    pub fn parse(attrs: &[syn::Attribute], errors: &mut Vec<ModelError>) -> TableAttrs {
        let mut out = TableAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("table")) {
            let r = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                let key = key_of(&meta);
                match key.as_str() {
                    "name" => out.name = Some(string(&meta)?),
                    "renamed_from" => out.renamed_from = Some(string(&meta)?),
                    "comment" => out.comment = Some(comment(&meta)?),
                    "schema" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        input::identifier(&lit.value())
                            .map_err(|e| syn::Error::new(lit.span(), format!("schema {e}")))?;
                        // Creating it would fail: it exists in every database.
                        if lit.value() == "public" {
                            return Err(syn::Error::new(
                                lit.span(),
                                "a table without `schema` lives in the connection's own schema (`public` by default): leave `schema = \"public\"` out",
                            ));
                        }
                        out.schema = Some(lit.value());
                    }
                    "primary_key" => {
                        let (mut cols, mut name) = (Vec::new(), None);
                        meta.parse_nested_meta(|m| {
                            if m.path.is_ident("columns") {
                                cols = columns(&m)?;
                            } else if m.path.is_ident("name") {
                                name = Some(string(&m)?);
                            } else {
                                return Err(unknown(&m, "primary_key", &["columns", "name"]));
                            }
                            Ok(())
                        })?;
                        out.primary_key = Some((cols, name, span));
                    }
                    "index" | "unique" => {
                        let mut ix = IndexAttr {
                            name: None,
                            columns: vec![],
                            unique: key == "unique",
                            concurrently: false,
                            predicate: None,
                            using: None,
                            include: vec![],
                            expressions: vec![],
                            span,
                        };
                        let is_index = key == "index";
                        meta.parse_nested_meta(|m| {
                            if m.path.is_ident("columns") {
                                ix.columns = columns(&m)?;
                            } else if m.path.is_ident("name") {
                                ix.name = Some(string(&m)?);
                            } else if is_index && m.path.is_ident("unique") {
                                ix.unique = flag(&m)?;
                            } else if is_index && m.path.is_ident("concurrently") {
                                ix.concurrently = flag(&m)?;
                            } else if is_index && m.path.is_ident("where") {
                                ix.predicate = Some(checked(&m, input::expression)?);
                            } else if is_index && m.path.is_ident("using") {
                                let lit = m.value()?.parse::<LitStr>()?;
                                let method = lit.value();
                                if method.is_empty()
                                    || !method.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                                {
                                    return Err(syn::Error::new(
                                        lit.span(),
                                        "`using` names an access method: gin, gist, brin, hash or btree",
                                    ));
                                }
                                ix.using = Some(method);
                            } else if is_index && m.path.is_ident("include") {
                                ix.include = columns(&m)?;
                            } else if is_index && m.path.is_ident("expressions") {
                                let content;
                                syn::parenthesized!(content in m.input);
                                let list = content.parse_terminated(
                                    <LitStr as syn::parse::Parse>::parse,
                                    syn::Token![,],
                                )?;
                                for lit in &list {
                                    input::expression(&lit.value())
                                        .map_err(|e| syn::Error::new(lit.span(), e))?;
                                }
                                ix.expressions = list.iter().map(LitStr::value).collect();
                            } else {
                                let keys: &[&str] = if is_index {
                                    &["columns", "expressions", "name", "unique", "concurrently", "where", "using", "include"]
                                } else {
                                    &["columns", "name"]
                                };
                                return Err(unknown(&m, &key, keys));
                            }
                            Ok(())
                        })?;
                        if is_index {
                            out.indexes.push(ix);
                        } else {
                            out.uniques.push(ix);
                        }
                    }
                    "foreign_key" => {
                        let mut fk = ForeignKeyAttr {
                            name: None,
                            columns: vec![],
                            ref_table: String::new(),
                            ref_columns: vec![],
                            on_delete: ReferentialAction::NoAction,
                            on_update: ReferentialAction::NoAction,
                            span,
                        };
                        meta.parse_nested_meta(|m| {
                            let k = key_of(&m);
                            match k.as_str() {
                                "columns" => fk.columns = columns(&m)?,
                                "ref_columns" => fk.ref_columns = columns(&m)?,
                                "ref_table" => fk.ref_table = string(&m)?,
                                "name" => fk.name = Some(string(&m)?),
                                "on_delete" => fk.on_delete = action(&m)?,
                                "on_update" => fk.on_update = action(&m)?,
                                _ => {
                                    return Err(unknown(
                                        &m,
                                        "foreign_key",
                                        &[
                                            "columns",
                                            "ref_table",
                                            "ref_columns",
                                            "name",
                                            "on_delete",
                                            "on_update",
                                        ],
                                    ))
                                }
                            }
                            Ok(())
                        })?;
                        if fk.ref_table.is_empty() {
                            return Err(syn::Error::new(
                                span,
                                "foreign_key needs `ref_table = \"...\"`",
                            ));
                        }
                        if fk.ref_columns.is_empty() {
                            fk.ref_columns = vec!["id".into()];
                        }
                        out.foreign_keys.push(fk);
                    }
                    "check" => {
                        let (mut name, mut expr) = (None, None);
                        meta.parse_nested_meta(|m| {
                            if m.path.is_ident("name") {
                                name = Some(string(&m)?);
                            } else if m.path.is_ident("expr") {
                                expr = Some(checked(&m, input::expression)?);
                            } else {
                                return Err(unknown(&m, "check", &["name", "expr"]));
                            }
                            Ok(())
                        })?;
                        let expr = expr
                            .ok_or_else(|| syn::Error::new(span, "check needs `expr = \"...\"`"))?;
                        out.checks.push(CheckAttr { name, expr });
                    }
                    _ => return Err(unknown(&meta, "table", TABLE_KEYS)),
                }
                Ok(())
            });
            if let Err(e) = r {
                errors.extend(
                    e.into_iter()
                        .map(|e| ModelError::new(e.span(), e.to_string())),
                );
            }
        }
        out
    }
}

/// What `#[column(...)]` attributes say.
#[derive(Debug, Clone, Default)]
pub struct ColumnAttrs {
    pub primary_key: bool,
    pub auto_increment: Option<bool>,
    pub name: Option<String>,
    pub max_length: Option<u32>,
    pub default: Option<String>,
    pub nullable: bool,
    pub references: Option<(String, Span)>,
    pub on_delete: Option<ReferentialAction>,
    pub on_update: Option<ReferentialAction>,
    pub index: bool,
    pub unique: bool,
    pub sql_type: Option<String>,
    pub sqlite_type: Option<String>,
    /// `sql_type(postgres = "jsonb", sqlite = "text", mysql = "json")`.
    pub sql_types: std::collections::BTreeMap<String, String>,
    pub renamed_from: Option<String>,
    pub skip: bool,
    pub comment: Option<String>,
    pub generated: Option<String>,
    pub stored: bool,
    pub collation: Option<schema_core::Collation>,
}

impl ColumnAttrs {
    pub fn parse(attrs: &[syn::Attribute], errors: &mut Vec<ModelError>) -> ColumnAttrs {
        let mut out = ColumnAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("column")) {
            let r = attr.parse_nested_meta(|meta| {
                let key = key_of(&meta);
                match key.as_str() {
                    "primary_key" => out.primary_key = flag(&meta)?,
                    // `identity` is DESIGN's spelling: PostgreSQL's identity column,
                    // MariaDB's AUTO_INCREMENT, SQLite's rowid alias.
                    "auto_increment" | "identity" => out.auto_increment = Some(flag(&meta)?),
                    "name" => out.name = Some(string(&meta)?),
                    "max_length" => {
                        let lit = meta.value()?.parse::<LitInt>()?;
                        let n: u32 = lit.base10_parse()?;
                        if n == 0 {
                            return Err(syn::Error::new(
                                lit.span(),
                                "`max_length` must be at least 1",
                            ));
                        }
                        out.max_length = Some(n);
                    }
                    "default" => out.default = Some(checked(&meta, input::expression)?),
                    "nullable" => out.nullable = flag(&meta)?,
                    "references" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        out.references = Some((lit.value(), lit.span()));
                    }
                    "on_delete" => out.on_delete = Some(action(&meta)?),
                    "on_update" => out.on_update = Some(action(&meta)?),
                    "index" => out.index = flag(&meta)?,
                    "unique" => out.unique = flag(&meta)?,
                    "sql_type" if meta.input.peek(syn::token::Paren) => {
                        out.sql_types
                            .extend(per_dialect(&meta, "sql_type", input::type_spelling)?);
                    }
                    "sql_type" => out.sql_type = Some(checked(&meta, input::type_spelling)?),
                    "sqlite_type" => out.sqlite_type = Some(checked(&meta, input::type_spelling)?),
                    "renamed_from" => out.renamed_from = Some(string(&meta)?),
                    "generated" => out.generated = Some(checked(&meta, input::expression)?),
                    "stored" => out.stored = flag(&meta)?,
                    "collation" if meta.input.peek(syn::token::Paren) => {
                        out.collation = Some(schema_core::Collation::PerDialect(per_dialect(
                            &meta,
                            "collation",
                            input::collation,
                        )?));
                    }
                    "collation" => {
                        out.collation = Some(schema_core::Collation::All(checked(
                            &meta,
                            input::collation,
                        )?))
                    }
                    "skip" => out.skip = flag(&meta)?,
                    "comment" => out.comment = Some(comment(&meta)?),
                    _ => return Err(unknown(&meta, "column", COLUMN_KEYS)),
                }
                Ok(())
            });
            if let Err(e) = r {
                errors.extend(
                    e.into_iter()
                        .map(|e| ModelError::new(e.span(), e.to_string())),
                );
            }
        }
        out
    }
}
