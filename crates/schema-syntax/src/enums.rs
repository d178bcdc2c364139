//! `#[derive(Enum)]` Rust enums: a named SQL enum type whose values are the variants.

use schema_core::{input, EnumDef, SqlType};
use syn::spanned::Spanned;
use syn::LitStr;

use crate::attrs::{key_of, unknown};
use crate::{snake_case, ModelError};

/// A lowered `#[derive(Enum)]`: the Rust name fields use, the SQL type, and each
/// variant's value (in declaration order, as `values`).
#[derive(Debug, Clone)]
pub struct ModelEnum {
    pub rust_name: String,
    pub def: EnumDef,
    /// Variant identifiers, in the order of `def.values`.
    pub variants: Vec<String>,
}

impl ModelEnum {
    pub fn sql_type(&self) -> SqlType {
        SqlType::Enum {
            name: self.def.name.clone(),
            values: self.def.values.clone(),
        }
    }
}

/// The longest value PostgreSQL keeps (NAMEDATALEN - 1 bytes).
const MAX_VALUE_BYTES: usize = 63;

const ENUM_TYPE_KEYS: &[&str] = &["name", "rename_all"];
const ENUM_VALUE_KEYS: &[&str] = &["name", "renamed_from"];
const RENAME_RULES: &[&str] = &[
    "snake_case",
    "lowercase",
    "UPPERCASE",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "PascalCase",
];

fn renamed(rule: &str, variant: &str) -> String {
    match rule {
        "lowercase" => variant.to_lowercase(),
        "UPPERCASE" => variant.to_uppercase(),
        "SCREAMING_SNAKE_CASE" => snake_case(variant).to_uppercase(),
        "kebab-case" => snake_case(variant).replace('_', "-"),
        "PascalCase" => variant.to_string(),
        _ => snake_case(variant),
    }
}

/// A value as it reaches SQL (a literal, quotes doubled): not empty, no NUL, at most what
/// PostgreSQL keeps.
fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("an enum value cannot be empty".into());
    }
    if v.contains('\0') {
        return Err("an enum value cannot hold a NUL character".into());
    }
    if v.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "enum value `{v}` is {} bytes; PostgreSQL keeps at most {MAX_VALUE_BYTES}",
            v.len()
        ));
    }
    Ok(())
}

/// Lowers one `#[derive(Enum)]`. Every problem is reported, each at its span.
pub fn lower_enum(item: &syn::ItemEnum) -> Result<ModelEnum, Vec<ModelError>> {
    let mut errors = Vec::new();
    let mut name = None;
    let mut rule = "snake_case".to_string();
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("enum_type")) {
        let r = attr.parse_nested_meta(|meta| {
            match key_of(&meta).as_str() {
                "name" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    input::identifier(&lit.value())
                        .map_err(|e| syn::Error::new(lit.span(), format!("enum type {e}")))?;
                    name = Some(lit.value());
                }
                "rename_all" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    if !RENAME_RULES.contains(&lit.value().as_str()) {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!(
                                "unknown `rename_all` rule `{}`, expected one of {}",
                                lit.value(),
                                RENAME_RULES.join(", ")
                            ),
                        ));
                    }
                    rule = lit.value();
                }
                _ => return Err(unknown(&meta, "enum_type", ENUM_TYPE_KEYS)),
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
    let name = name.unwrap_or_else(|| snake_case(&item.ident.to_string()));
    let mut def = EnumDef {
        name: name.clone(),
        ..Default::default()
    };
    let mut variants = Vec::new();
    for v in &item.variants {
        if !matches!(v.fields, syn::Fields::Unit) {
            errors.push(ModelError::new(
                v.span(),
                format!(
                    "variant `{}`: an enum type's variants carry no data",
                    v.ident
                ),
            ));
            continue;
        }
        let mut value = renamed(&rule, &v.ident.to_string());
        let mut span = v.ident.span();
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("enum_value")) {
            let r = attr.parse_nested_meta(|meta| {
                match key_of(&meta).as_str() {
                    "name" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        value = lit.value();
                        span = lit.span();
                    }
                    "renamed_from" => {
                        let lit = meta.value()?.parse::<LitStr>()?;
                        check_value(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e))?;
                        def.renamed_values.push((lit.value(), String::new()));
                    }
                    _ => return Err(unknown(&meta, "enum_value", ENUM_VALUE_KEYS)),
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
        // A `renamed_from` names the old spelling of this variant's final value.
        for (_, new) in def.renamed_values.iter_mut().filter(|(_, n)| n.is_empty()) {
            *new = value.clone();
        }
        if let Err(e) = check_value(&value) {
            errors.push(ModelError::new(span, format!("variant `{}`: {e}", v.ident)));
        }
        if def.values.contains(&value) {
            errors.push(ModelError::new(
                span,
                format!(
                    "variant `{}`: enum `{name}` has the value `{value}` already",
                    v.ident
                ),
            ));
        }
        def.values.push(value);
        variants.push(v.ident.to_string());
    }
    if item.variants.is_empty() {
        errors.push(ModelError::new(
            item.ident.span(),
            "an enum type needs at least one variant",
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(ModelError::new(
            item.generics.span(),
            "#[derive(Enum)] takes no generic parameters",
        ));
    }
    if errors.is_empty() {
        Ok(ModelEnum {
            rust_name: item.ident.to_string(),
            def,
            variants,
        })
    } else {
        Err(errors)
    }
}

/// The enum a field's type names (by its last path segment, inside `Option<_>`), with
/// whether it is optional.
pub fn field_enum<'a>(ty: &syn::Type, enums: &'a [ModelEnum]) -> Option<(&'a ModelEnum, bool)> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident == "Option" {
        let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
            return None;
        };
        let inner = a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })?;
        return field_enum(inner, enums).map(|(e, _)| (e, true));
    }
    if !seg.arguments.is_none() {
        return None;
    }
    enums
        .iter()
        .find(|e| seg.ident == e.rust_name)
        .map(|e| (e, false))
}
