//! Reading a model crate's source without compiling it: from the crate root, following
//! `mod` declarations, collecting every `#[derive(Table)]` struct with its file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schema_core::manifest::ModelSettings;

use crate::{
    check_references, derives, derives_table, lower_enum, lower_struct, lower_view, ModelEnum,
    ModelError, ModelTable, ModelView,
};

/// A problem in a source file, at file:line:col.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", .path.display())]
pub struct SourceError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending source line, for display.
    pub source_line: String,
}

impl SourceError {
    fn at(path: &Path, text: &str, e: &ModelError) -> SourceError {
        let start = e.span.start();
        SourceError {
            path: path.to_path_buf(),
            line: start.line,
            column: start.column + 1,
            message: e.message.clone(),
            source_line: text
                .lines()
                .nth(start.line.saturating_sub(1))
                .unwrap_or("")
                .to_string(),
        }
    }

    fn io(path: &Path, e: std::io::Error) -> SourceError {
        SourceError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: e.to_string(),
            source_line: String::new(),
        }
    }
}

/// A model with the file it was found in.
#[derive(Debug, Clone)]
pub struct FoundModel {
    pub model: ModelTable,
    pub path: PathBuf,
    pub line: usize,
}

/// A `#[derive(Enum)]` with the file it was found in.
#[derive(Debug, Clone)]
pub struct FoundEnum {
    pub model: ModelEnum,
    pub path: PathBuf,
    pub line: usize,
}

/// A `#[derive(View)]` with the file it was found in.
#[derive(Debug, Clone)]
pub struct FoundView {
    pub model: ModelView,
    pub path: PathBuf,
    pub line: usize,
}

/// What a crate's source defines: its tables, enum types and views.
#[derive(Debug, Clone, Default)]
pub struct CrateModels {
    pub tables: Vec<FoundModel>,
    pub enums: Vec<FoundEnum>,
    pub views: Vec<FoundView>,
}

/// Every model of the crate whose root file is `root`, lowered with `settings`;
/// `other_tables` are tables and `other_enums` enum types that crates this one depends on
/// provide. All errors are returned at once.
pub fn crate_models(
    root: &Path,
    settings: &ModelSettings,
    other_tables: &BTreeSet<String>,
    other_enums: &[ModelEnum],
) -> Result<CrateModels, Vec<SourceError>> {
    let mut scan = Scan::default();
    walk(root, true, &mut scan);
    let mut errors = std::mem::take(&mut scan.errors);
    let text_of = |scan: &Scan, path: &Path| -> String {
        scan.texts
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let mut enums: Vec<FoundEnum> = Vec::new();
    for (path, item) in &scan.enums {
        match lower_enum(item) {
            Ok(model) => {
                let twice = enums.iter().find(|e| {
                    e.model.def.name == model.def.name || e.model.rust_name == model.rust_name
                });
                let elsewhere = other_enums.iter().any(|o| o.def.name == model.def.name);
                if twice.is_some() || elsewhere {
                    let at = twice
                        .map(|p| format!("at {}:{}", p.path.display(), p.line))
                        .unwrap_or_else(|| "by a crate this one depends on".into());
                    errors.push(SourceError {
                        path: path.clone(),
                        line: item.ident.span().start().line,
                        column: 1,
                        message: format!(
                            "enum `{}` (type `{}`) is defined twice: here and {at}",
                            model.rust_name, model.def.name,
                        ),
                        source_line: String::new(),
                    });
                    continue;
                }
                enums.push(FoundEnum {
                    model,
                    path: path.clone(),
                    line: item.ident.span().start().line,
                })
            }
            Err(es) => {
                let text = text_of(&scan, path);
                errors.extend(es.iter().map(|e| SourceError::at(path, &text, e)));
            }
        }
    }
    let known_enums: Vec<ModelEnum> = enums
        .iter()
        .map(|e| e.model.clone())
        .chain(other_enums.iter().cloned())
        .collect();
    let mut found = Vec::new();
    let mut broken = BTreeSet::new();
    for (path, item) in &scan.structs {
        match lower_struct(item, settings, &known_enums) {
            Ok(model) => found.push(FoundModel {
                model,
                path: path.clone(),
                line: item.ident.span().start().line,
            }),
            Err(es) => {
                broken.insert(crate::table_name_of(item));
                let text = text_of(&scan, path);
                errors.extend(es.iter().map(|e| SourceError::at(path, &text, e)));
            }
        }
    }
    // A model with errors of its own still defines its table: references to it are fine.
    let mut other_tables = other_tables.clone();
    other_tables.extend(broken);
    let models: Vec<ModelTable> = found.iter().map(|f| f.model.clone()).collect();
    let mut seen: std::collections::BTreeMap<&str, &FoundModel> = Default::default();
    for f in &found {
        if let Some(prev) = seen.insert(&f.model.table.name, f) {
            errors.push(SourceError {
                path: f.path.clone(),
                line: f.line,
                column: 1,
                message: format!(
                    "table `{}` is defined twice: by `{}` here and by `{}` at {}:{}",
                    f.model.table.name,
                    f.model.struct_name,
                    prev.model.struct_name,
                    prev.path.display(),
                    prev.line
                ),
                source_line: String::new(),
            });
        }
    }
    for (i, e) in check_references(&models, &other_tables) {
        let f = &found[i];
        let text = text_of(&scan, &f.path);
        errors.push(SourceError::at(&f.path, &text, &e));
    }
    let mut views: Vec<FoundView> = Vec::new();
    for (path, item) in &scan.views {
        let line = item.ident.span().start().line;
        match lower_view(item) {
            Ok(model) => {
                let name = &model.def.name;
                let clash = views
                    .iter()
                    .find(|v| v.model.def.name == *name)
                    .map(|v| {
                        format!(
                            "view `{name}` is defined twice: here and at {}:{}",
                            v.path.display(),
                            v.line
                        )
                    })
                    .or_else(|| {
                        found.iter().find(|f| f.model.table.name == *name).map(|f| {
                            format!(
                                "view `{name}` has the name of the table `{}` defines at {}:{}",
                                f.model.struct_name,
                                f.path.display(),
                                f.line
                            )
                        })
                    });
                match clash {
                    Some(message) => errors.push(SourceError {
                        path: path.clone(),
                        line,
                        column: 1,
                        message,
                        source_line: String::new(),
                    }),
                    None => views.push(FoundView {
                        model,
                        path: path.clone(),
                        line,
                    }),
                }
            }
            Err(es) => {
                let text = text_of(&scan, path);
                errors.extend(es.iter().map(|e| SourceError::at(path, &text, e)));
            }
        }
    }
    if errors.is_empty() {
        Ok(CrateModels {
            tables: found,
            enums,
            views,
        })
    } else {
        Err(errors)
    }
}

/// The tables and enum types the crate whose root file is `root` defines, found exactly
/// as [`crate_models`] finds them (from the root, following `mod` declarations), for the
/// derive's checks. What does not parse or lower is left out: its own derive reports it.
pub fn crate_definitions(
    root: &Path,
    settings: &ModelSettings,
) -> (Vec<schema_core::TableDef>, Vec<ModelEnum>) {
    let mut scan = Scan::default();
    walk(root, true, &mut scan);
    let enums: Vec<ModelEnum> = scan
        .enums
        .iter()
        .filter_map(|(_, item)| lower_enum(item).ok())
        .collect();
    let tables = scan
        .structs
        .iter()
        .filter_map(|(_, item)| lower_struct(item, settings, &enums).ok())
        .map(|m| m.table)
        .collect();
    (tables, enums)
}

/// How deep brackets and generic arguments may nest in a model source file.
pub const MAX_NESTING: usize = 128;

/// Parses a model source, lexing it once: a source that nests deeper than
/// [`MAX_NESTING`] is refused before syn recurses into it.
pub fn parse_source(text: &str) -> Result<syn::File, ModelError> {
    // A byte-order mark is not Rust; a space in its place keeps every location.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => std::borrow::Cow::Owned(format!(" {rest}")),
        None => std::borrow::Cow::Borrowed(text),
    };
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|e: proc_macro2::LexError| {
        ModelError::new(e.span(), format!("cannot parse: {e}"))
    })?;
    nesting_within_limit(&tokens)?;
    syn::parse2(tokens).map_err(|e| ModelError::new(e.span(), format!("cannot parse: {e}")))
}

/// Refuses tokens whose brackets or generic arguments nest deeper than [`MAX_NESTING`]:
/// syn parses them recursively and would exhaust the stack. Tokens are walked with an
/// explicit stack, and `<` counts only after a name or `::` (a generic argument list).
pub fn nesting_within_limit(tokens: &proc_macro2::TokenStream) -> Result<(), ModelError> {
    use proc_macro2::{Span, TokenTree};
    let tokens = tokens.clone();
    let too_deep = |span: Span| {
        Err(ModelError::new(
            span,
            format!("brackets or generic arguments nest deeper than {MAX_NESTING}; this file is not read"),
        ))
    };
    // Each level: its tokens and the depth of open `<` within it.
    let mut stack = vec![(tokens.into_iter(), 0usize)];
    let mut previous_opens_generics = false;
    while let Some((iter, angles)) = stack.last_mut() {
        let Some(tree) = iter.next() else {
            stack.pop();
            continue;
        };
        let opens_generics = match &tree {
            TokenTree::Group(g) => {
                if stack.len() >= MAX_NESTING {
                    return too_deep(g.span());
                }
                stack.push((g.stream().into_iter(), 0));
                false
            }
            TokenTree::Punct(p) if p.as_char() == '<' && previous_opens_generics => {
                *angles += 1;
                if *angles > MAX_NESTING {
                    return too_deep(p.span());
                }
                false
            }
            TokenTree::Punct(p) if p.as_char() == '>' => {
                *angles = angles.saturating_sub(1);
                false
            }
            TokenTree::Punct(p) => p.as_char() == ':',
            TokenTree::Ident(_) => true,
            TokenTree::Literal(_) => false,
        };
        previous_opens_generics = opens_generics;
    }
    Ok(())
}

/// Every model in one file's text (no `mod` following), with the enum types it
/// defines: the derive uses this on its own file. `more_enums` are enum types known
/// from elsewhere (the crate's other files).
pub fn models_in_text(
    text: &str,
    settings: &ModelSettings,
    more_enums: &[ModelEnum],
) -> (Vec<ModelTable>, Vec<ModelEnum>) {
    let Ok(file) = parse_source(text) else {
        return (vec![], vec![]);
    };
    let mut structs = Vec::new();
    let mut enum_items = Vec::new();
    collect_items(&file.items, &mut structs, &mut enum_items);
    let enums: Vec<ModelEnum> = enum_items
        .into_iter()
        .filter_map(|e| lower_enum(e).ok())
        .collect();
    let known: Vec<ModelEnum> = enums.iter().chain(more_enums).cloned().collect();
    let tables = structs
        .into_iter()
        .filter_map(|s| lower_struct(s, settings, &known).ok())
        .collect();
    (tables, enums)
}

fn collect_items<'a>(
    items: &'a [syn::Item],
    structs: &mut Vec<&'a syn::ItemStruct>,
    enums: &mut Vec<&'a syn::ItemEnum>,
) {
    for item in items {
        match item {
            syn::Item::Struct(s) if derives_table(&s.attrs) => structs.push(s),
            syn::Item::Enum(e) if derives(&e.attrs, "Enum") => enums.push(e),
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_items(items, structs, enums);
                }
            }
            _ => {}
        }
    }
}

/// What a walk from a crate root collects: the items to lower, each with its file, the
/// texts read, and the errors met.
#[derive(Default)]
struct Scan {
    structs: Vec<(PathBuf, syn::ItemStruct)>,
    enums: Vec<(PathBuf, syn::ItemEnum)>,
    views: Vec<(PathBuf, syn::ItemStruct)>,
    errors: Vec<SourceError>,
    texts: Vec<(PathBuf, String)>,
}

fn walk(path: &Path, is_root: bool, scan: &mut Scan) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return scan.errors.push(SourceError::io(path, e)),
    };
    let file = match parse_source(&text) {
        Ok(f) => f,
        Err(err) => return scan.errors.push(SourceError::at(path, &text, &err)),
    };
    // Where `mod x;` looks: next to a root or mod.rs, else in a directory named after the file.
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mod_dir = if is_root || stem == "mod" {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    visit_items(&file.items, path, &text, &mod_dir, scan);
    scan.texts.push((path.to_path_buf(), text));
}

fn visit_items(items: &[syn::Item], path: &Path, text: &str, mod_dir: &Path, scan: &mut Scan) {
    for item in items {
        match item {
            syn::Item::Struct(s) if derives_table(&s.attrs) => {
                scan.structs.push((path.to_path_buf(), s.clone()))
            }
            syn::Item::Enum(e) if derives(&e.attrs, "Enum") => {
                scan.enums.push((path.to_path_buf(), e.clone()))
            }
            syn::Item::Struct(s) if derives(&s.attrs, "View") => {
                scan.views.push((path.to_path_buf(), s.clone()))
            }
            syn::Item::Mod(m) => {
                if cfg_test(&m.attrs) {
                    continue;
                }
                let name = m.ident.to_string();
                match &m.content {
                    Some((_, items)) => visit_items(items, path, text, &mod_dir.join(&name), scan),
                    None => {
                        let explicit = m.attrs.iter().find(|a| a.path().is_ident("path")).and_then(
                            |a| match &a.meta {
                                syn::Meta::NameValue(nv) => match &nv.value {
                                    syn::Expr::Lit(syn::ExprLit {
                                        lit: syn::Lit::Str(s),
                                        ..
                                    }) => Some(s.value()),
                                    _ => None,
                                },
                                _ => None,
                            },
                        );
                        let candidates = match explicit {
                            Some(p) => vec![path.parent().unwrap_or(Path::new(".")).join(p)],
                            None => vec![
                                mod_dir.join(format!("{name}.rs")),
                                mod_dir.join(&name).join("mod.rs"),
                            ],
                        };
                        match candidates.iter().find(|c| c.is_file()) {
                            Some(file) => walk(file, false, scan),
                            None => scan.errors.push(SourceError::at(
                                path,
                                text,
                                &ModelError::new(
                                    m.ident.span(),
                                    format!(
                                        "module `{name}` not found: looked for {}",
                                        candidates
                                            .iter()
                                            .map(|c| c.display().to_string())
                                            .collect::<Vec<_>>()
                                            .join(" and ")
                                    ),
                                ),
                            )),
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string() == "test")
    })
}
