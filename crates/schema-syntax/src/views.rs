//! `#[derive(View)]` structs: a view, its query written once or per dialect.

use schema_core::{input, ExecuteSql, ViewDef};
use syn::LitStr;

use crate::{snake_case, ModelError};

/// A lowered `#[derive(View)]`.
#[derive(Debug, Clone)]
pub struct ModelView {
    pub struct_name: String,
    pub def: ViewDef,
}

const VIEW_KEYS: &[&str] = &["name", "sql", "materialized"];

/// Lowers one `#[derive(View)]` struct. Every problem is reported, each at its span.
pub fn lower_view(item: &syn::ItemStruct) -> Result<ModelView, Vec<ModelError>> {
    let mut errors = Vec::new();
    let mut name = None;
    let mut materialized = false;
    let mut sql: Option<ExecuteSql> = None;
    let checked_query = |lit: &LitStr| -> syn::Result<String> {
        input::view_query(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e))?;
        Ok(lit.value())
    };
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("view")) {
        let r = attr.parse_nested_meta(|meta| {
            let key = crate::attrs::key_of(&meta);
            match key.as_str() {
                "name" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    input::identifier(&lit.value())
                        .map_err(|e| syn::Error::new(lit.span(), format!("view {e}")))?;
                    name = Some(lit.value());
                }
                "materialized" => {
                    materialized = if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<syn::LitBool>()?.value
                    } else {
                        true
                    };
                }
                "sql" if meta.input.peek(syn::token::Paren) => {
                    sql = Some(ExecuteSql::PerDialect(crate::attrs::per_dialect(
                        &meta,
                        "sql",
                        input::view_query,
                    )?));
                }
                "sql" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    sql = Some(ExecuteSql::All(checked_query(&lit)?));
                }
                _ => return Err(crate::attrs::unknown(&meta, "view", VIEW_KEYS)),
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
    let sql = match sql {
        Some(ExecuteSql::PerDialect(m)) if m.is_empty() => None,
        other => other,
    };
    if sql.is_none() && errors.is_empty() {
        errors.push(ModelError::new(
            item.ident.span(),
            "#[derive(View)] needs #[view(sql = \"SELECT ...\")] (or sql(postgres = \"...\", ...))",
        ));
    }
    match sql {
        Some(sql) if errors.is_empty() => Ok(ModelView {
            struct_name: item.ident.to_string(),
            def: ViewDef {
                name: name.unwrap_or_else(|| snake_case(&item.ident.to_string())),
                sql,
                materialized,
            },
        }),
        _ => Err(errors),
    }
}
