//! Reading a model crate's source without compiling it: from the crate root, following
//! `mod` declarations, collecting every `#[derive(Table)]` struct with its file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schema_core::manifest::ModelSettings;

use crate::{check_references, derives_table, lower_struct, ModelError, ModelTable};

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

/// Every model of the crate whose root file is `root`, lowered with `settings`; `other_tables`
/// are tables that crates this one depends on provide. All errors are returned at once.
pub fn crate_models(
    root: &Path,
    settings: &ModelSettings,
    other_tables: &BTreeSet<String>,
) -> Result<Vec<FoundModel>, Vec<SourceError>> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    let mut broken = BTreeSet::new();
    walk(
        root,
        true,
        settings,
        &mut found,
        &mut errors,
        &mut texts,
        &mut broken,
    );
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
        let text = texts
            .iter()
            .find(|(p, _)| *p == f.path)
            .map(|(_, t)| t.as_str())
            .unwrap_or("");
        errors.push(SourceError::at(&f.path, text, &e));
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

/// The tables the crate whose root file is `root` defines, found exactly as
/// [`crate_models`] finds them (from the root, following `mod` declarations), for the
/// derive's reference checks. What does not parse or lower is left out: its own derive
/// reports it.
pub fn crate_tables(root: &Path, settings: &ModelSettings) -> Vec<schema_core::TableDef> {
    let mut found = Vec::new();
    walk(
        root,
        true,
        settings,
        &mut found,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut BTreeSet::new(),
    );
    found.into_iter().map(|f| f.model.table).collect()
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

/// Every model in one file's text (no `mod` following): the derive uses this on its own file.
pub fn models_in_text(text: &str, settings: &ModelSettings) -> Vec<ModelTable> {
    let Ok(file) = parse_source(text) else {
        return vec![];
    };
    let mut out = Vec::new();
    let mut structs = Vec::new();
    collect_structs(&file.items, &mut structs);
    for s in structs {
        if let Ok(m) = lower_struct(s, settings) {
            out.push(m);
        }
    }
    out
}

fn collect_structs<'a>(items: &'a [syn::Item], out: &mut Vec<&'a syn::ItemStruct>) {
    for item in items {
        match item {
            syn::Item::Struct(s) if derives_table(&s.attrs) => out.push(s),
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_structs(items, out);
                }
            }
            _ => {}
        }
    }
}

fn walk(
    path: &Path,
    is_root: bool,
    settings: &ModelSettings,
    found: &mut Vec<FoundModel>,
    errors: &mut Vec<SourceError>,
    texts: &mut Vec<(PathBuf, String)>,
    broken: &mut BTreeSet<String>,
) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return errors.push(SourceError::io(path, e)),
    };
    let file = match parse_source(&text) {
        Ok(f) => f,
        Err(err) => return errors.push(SourceError::at(path, &text, &err)),
    };
    // Where `mod x;` looks: next to a root or mod.rs, else in a directory named after the file.
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mod_dir = if is_root || stem == "mod" {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    visit_items(
        &file.items,
        path,
        &text,
        &mod_dir,
        settings,
        found,
        errors,
        texts,
        broken,
    );
    texts.push((path.to_path_buf(), text));
}

#[allow(clippy::too_many_arguments)]
fn visit_items(
    items: &[syn::Item],
    path: &Path,
    text: &str,
    mod_dir: &Path,
    settings: &ModelSettings,
    found: &mut Vec<FoundModel>,
    errors: &mut Vec<SourceError>,
    texts: &mut Vec<(PathBuf, String)>,
    broken: &mut BTreeSet<String>,
) {
    for item in items {
        match item {
            syn::Item::Struct(s) if derives_table(&s.attrs) => match lower_struct(s, settings) {
                Ok(model) => found.push(FoundModel {
                    model,
                    path: path.to_path_buf(),
                    line: s.ident.span().start().line,
                }),
                Err(es) => {
                    broken.insert(crate::table_name_of(s));
                    errors.extend(es.iter().map(|e| SourceError::at(path, text, e)))
                }
            },
            syn::Item::Mod(m) => {
                if cfg_test(&m.attrs) {
                    continue;
                }
                let name = m.ident.to_string();
                match &m.content {
                    Some((_, items)) => visit_items(
                        items,
                        path,
                        text,
                        &mod_dir.join(&name),
                        settings,
                        found,
                        errors,
                        texts,
                        broken,
                    ),
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
                            Some(file) => walk(file, false, settings, found, errors, texts, broken),
                            None => errors.push(SourceError::at(
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
