//! `#[derive(Table)]` and `#[derive(Enum)]`: a thin shim over `schema-syntax`, which the
//! CLI uses too.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use proc_macro::TokenStream;
use quote::quote;
use schema_core::manifest::ModelSettings;
use schema_core::TableDef;
use schema_syntax::config::{self, CrateSettings};
use schema_syntax::{check_references, lower_struct, source, ModelEnum, ModelTable};

#[proc_macro_derive(Table, attributes(table, column))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    let file = proc_macro::Span::call_site().local_file();
    syn::parse::<syn::ItemStruct>(input)
        .and_then(|item| expand(&item, file.as_deref()))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[proc_macro_derive(View, attributes(view))]
pub fn derive_view(input: TokenStream) -> TokenStream {
    syn::parse::<syn::ItemStruct>(input)
        .and_then(|item| {
            let model = schema_syntax::lower_view(&item).map_err(combine)?;
            let ident = &item.ident;
            let name = &model.def.name;
            let view = schema_syntax::tokens::view_expr(&quote! { ::schema::core }, &model.def);
            Ok(quote! {
                impl ::schema::View for #ident {
                    const VIEW_NAME: &'static str = #name;
                    fn view_def() -> ::schema::core::ViewDef {
                        #view
                    }
                }
            })
        })
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[proc_macro_derive(Enum, attributes(enum_type, enum_value))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    syn::parse::<syn::ItemEnum>(input)
        .and_then(|item| expand_enum(&item))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_enum(item: &syn::ItemEnum) -> syn::Result<proc_macro2::TokenStream> {
    let model = schema_syntax::lower_enum(item).map_err(combine)?;
    let ident = &item.ident;
    let name = &model.def.name;
    let values = &model.def.values;
    let variants: Vec<syn::Ident> = model
        .variants
        .iter()
        .map(|v| syn::Ident::new(v, proc_macro2::Span::call_site()))
        .collect();
    Ok(quote! {
        impl ::schema::EnumType for #ident {
            const TYPE_NAME: &'static str = #name;
            const VALUES: &'static [&'static str] = &[#(#values),*];
            fn as_value(&self) -> &'static str {
                match self {
                    #(Self::#variants => #values,)*
                }
            }
            fn from_value(value: &str) -> ::std::option::Option<Self> {
                match value {
                    #(#values => ::std::option::Option::Some(Self::#variants),)*
                    _ => ::std::option::Option::None,
                }
            }
        }
    })
}

fn expand(item: &syn::ItemStruct, file: Option<&Path>) -> syn::Result<proc_macro2::TokenStream> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let settings = match &manifest_dir {
        Some(d) => settings_for(d).map_err(|e| syn::Error::new(item.ident.span(), e))?,
        None => CrateSettings {
            model: ModelSettings::default(),
            roots: vec![],
        },
    };
    // A field of a `#[derive(Enum)]` type is known by reading the enums of this file and
    // of the crate roots, as the CLI finds them.
    let enums = known_enums(&settings, file);
    let model = lower_struct(item, &settings.model, &enums).map_err(combine)?;
    // References are checked against every table this crate and its `depends-on` crates
    // define, found by reading their source as the CLI does.
    // Referenced columns are checked too, since the other tables' definitions are known.
    if !model.table.foreign_keys.is_empty() {
        let mut models = vec![model.clone()];
        models.extend(
            known_tables(&settings, file)
                .into_iter()
                .filter(|t| t.name != model.table.name)
                .map(|table| ModelTable {
                    struct_name: String::new(),
                    table,
                    reference_spans: vec![],
                }),
        );
        // Only this struct's errors: the others are reported by their own derive.
        let errors: Vec<_> = check_references(&models, &BTreeSet::new())
            .into_iter()
            .filter(|(i, _)| *i == 0)
            .map(|(_, e)| e)
            .collect();
        if !errors.is_empty() {
            return Err(combine(errors));
        }
    }
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let core = quote! { ::schema::core };
    let table = schema_syntax::tokens::table_expr(&core, &model.table);
    let name = &model.table.name;
    Ok(quote! {
        impl #impl_generics ::schema::Table for #ident #ty_generics #where_clause {
            const TABLE_NAME: &'static str = #name;
            fn table_def() -> #core::TableDef {
                #table
            }
        }
    })
}

fn combine(errors: Vec<schema_syntax::ModelError>) -> syn::Error {
    let mut iter = errors.into_iter().map(|e| e.to_syn());
    let mut first = iter
        .next()
        .unwrap_or_else(|| syn::Error::new(proc_macro2::Span::call_site(), "invalid model"));
    for e in iter {
        first.combine(e);
    }
    first
}

/// What one file defines: its tables and enum types (no `mod` following).
type Definitions = (Vec<TableDef>, Vec<ModelEnum>);

fn definitions_in(path: &Path, model: &ModelSettings) -> Definitions {
    // One compiler process expands every derive of a crate: read each file once.
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Definitions>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(d) = cache.lock().ok().and_then(|m| m.get(path).cloned()) {
        return d;
    }
    let d: Definitions = std::fs::read_to_string(path)
        .map(|text| {
            let (tables, enums) = source::models_in_text(&text, model, &[]);
            (tables.into_iter().map(|m| m.table).collect(), enums)
        })
        .unwrap_or_default();
    if let Ok(mut map) = cache.lock() {
        map.insert(path.to_path_buf(), d.clone());
    }
    d
}

/// The tables of the file being expanded and of the crate roots in `settings` (this
/// crate and those it `depends-on`), found the way the CLI finds them.
fn known_tables(settings: &CrateSettings, file: Option<&Path>) -> Vec<TableDef> {
    let mut tables: Vec<TableDef> = file
        .map(|f| definitions_in(f, &settings.model).0)
        .unwrap_or_default();
    for root in &settings.roots {
        tables.extend(crate_definitions_cached(root, &settings.model).0);
    }
    tables
}

/// The enum types of the file being expanded and of the crate roots in `settings`.
fn known_enums(settings: &CrateSettings, file: Option<&Path>) -> Vec<ModelEnum> {
    let mut enums: Vec<ModelEnum> = file
        .map(|f| definitions_in(f, &settings.model).1)
        .unwrap_or_default();
    for root in &settings.roots {
        enums.extend(crate_definitions_cached(root, &settings.model).1);
    }
    enums
}

/// [`source::crate_definitions`], once per crate root and compiler process.
fn crate_definitions_cached(root: &Path, model: &ModelSettings) -> Definitions {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Definitions>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().ok().and_then(|m| m.get(root).cloned()) {
        return t;
    }
    let t = source::crate_definitions(root, model);
    if let Ok(mut m) = cache.lock() {
        m.insert(root.to_path_buf(), t.clone());
    }
    t
}

/// The crate's settings, read once per crate by the compiler process.
fn settings_for(manifest_dir: &Path) -> Result<CrateSettings, String> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, CrateSettings>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(s) = cache.lock().ok().and_then(|m| m.get(manifest_dir).cloned()) {
        return Ok(s);
    }
    let s = config::crate_settings(manifest_dir)?;
    if let Ok(mut m) = cache.lock() {
        m.insert(manifest_dir.to_path_buf(), s.clone());
    }
    Ok(s)
}
