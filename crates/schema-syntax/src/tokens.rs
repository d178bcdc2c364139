//! Rust code that rebuilds a lowered table at run time, for the derive's output.

use proc_macro2::TokenStream;
use quote::quote;
use schema_core::{ColumnDef, ExecuteSql, ReferentialAction, SqlType, TableDef, ViewDef};

fn strings(v: &[String]) -> TokenStream {
    quote! { ::std::vec![#(::std::string::String::from(#v)),*] }
}

fn opt_string(v: &Option<String>) -> TokenStream {
    match v {
        Some(s) => quote! { ::std::option::Option::Some(::std::string::String::from(#s)) },
        None => quote! { ::std::option::Option::None },
    }
}

fn sql_type(core: &TokenStream, t: &SqlType) -> TokenStream {
    let ty = quote! { #core::SqlType };
    match t {
        SqlType::SmallInt => quote! { #ty::SmallInt },
        SqlType::Integer => quote! { #ty::Integer },
        SqlType::BigInt => quote! { #ty::BigInt },
        SqlType::Real => quote! { #ty::Real },
        SqlType::Double => quote! { #ty::Double },
        SqlType::Boolean => quote! { #ty::Boolean },
        SqlType::Text => quote! { #ty::Text },
        SqlType::Varchar(n) => quote! { #ty::Varchar(#n) },
        SqlType::Bytes => quote! { #ty::Bytes },
        SqlType::Date => quote! { #ty::Date },
        SqlType::Timestamp => quote! { #ty::Timestamp },
        SqlType::TimestampTz => quote! { #ty::TimestampTz },
        SqlType::Uuid => quote! { #ty::Uuid },
        SqlType::Decimal(None) => quote! { #ty::Decimal(::std::option::Option::None) },
        SqlType::Decimal(Some((p, s))) => {
            quote! { #ty::Decimal(::std::option::Option::Some((#p, #s))) }
        }
        SqlType::Json => quote! { #ty::Json },
        SqlType::Enum { name, values } => {
            let values = strings(values);
            quote! { #ty::Enum { name: ::std::string::String::from(#name), values: #values } }
        }
        SqlType::Custom { name, per_dialect } => {
            let (keys, values): (Vec<&String>, Vec<&String>) = per_dialect.iter().unzip();
            quote! {
                #ty::Custom {
                    name: ::std::string::String::from(#name),
                    per_dialect: [#((::std::string::String::from(#keys), ::std::string::String::from(#values))),*]
                        .into_iter()
                        .collect(),
                }
            }
        }
    }
}

fn action(core: &TokenStream, a: ReferentialAction) -> TokenStream {
    match a {
        ReferentialAction::NoAction => quote! { #core::ReferentialAction::NoAction },
        ReferentialAction::Restrict => quote! { #core::ReferentialAction::Restrict },
        ReferentialAction::Cascade => quote! { #core::ReferentialAction::Cascade },
        ReferentialAction::SetNull => quote! { #core::ReferentialAction::SetNull },
        ReferentialAction::SetDefault => quote! { #core::ReferentialAction::SetDefault },
    }
}

fn column(core: &TokenStream, c: &ColumnDef) -> TokenStream {
    let (name, ty, nullable, default, auto, renamed) = (
        &c.name,
        sql_type(core, &c.ty),
        c.nullable,
        opt_string(&c.default),
        c.auto_increment,
        opt_string(&c.renamed_from),
    );
    let comment = opt_string(&c.comment);
    let generated = match &c.generated {
        Some(g) => {
            let (e, s) = (&g.expr, g.stored);
            quote! { ::std::option::Option::Some(#core::Generated { expr: ::std::string::String::from(#e), stored: #s }) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let collation = match &c.collation {
        Some(schema_core::Collation::All(n)) => {
            quote! { ::std::option::Option::Some(#core::Collation::All(::std::string::String::from(#n))) }
        }
        Some(schema_core::Collation::PerDialect(m)) => {
            let (keys, values): (Vec<&String>, Vec<&String>) = m.iter().unzip();
            quote! {
                ::std::option::Option::Some(#core::Collation::PerDialect(
                    [#((::std::string::String::from(#keys), ::std::string::String::from(#values))),*]
                        .into_iter()
                        .collect(),
                ))
            }
        }
        None => quote! { ::std::option::Option::None },
    };
    quote! {
        #core::ColumnDef {
            name: ::std::string::String::from(#name),
            ty: #ty,
            nullable: #nullable,
            default: #default,
            auto_increment: #auto,
            renamed_from: #renamed,
            comment: #comment,
            generated: #generated,
            collation: #collation,
        }
    }
}

/// An expression of type `TableDef`; `core` is the path of the `schema_core` crate as the
/// calling crate sees it (e.g. `::schema::core`).
pub fn table_expr(core: &TokenStream, t: &TableDef) -> TokenStream {
    let name = &t.name;
    let columns = t.columns.iter().map(|c| column(core, c));
    let pk = match &t.primary_key {
        Some(pk) => {
            let (n, cols) = (&pk.name, strings(&pk.columns));
            quote! { ::std::option::Option::Some(#core::PrimaryKeyDef { name: ::std::string::String::from(#n), columns: #cols }) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let uniques = t.uniques.iter().map(|u| {
        let (n, cols) = (&u.name, strings(&u.columns));
        quote! { #core::UniqueDef { name: ::std::string::String::from(#n), columns: #cols } }
    });
    let fks = t.foreign_keys.iter().map(|f| {
        let (n, cols, rt, rcols) = (
            &f.name,
            strings(&f.columns),
            &f.ref_table,
            strings(&f.ref_columns),
        );
        let (od, ou) = (action(core, f.on_delete), action(core, f.on_update));
        quote! {
            #core::ForeignKeyDef {
                name: ::std::string::String::from(#n),
                columns: #cols,
                ref_table: ::std::string::String::from(#rt),
                ref_columns: #rcols,
                on_delete: #od,
                on_update: #ou,
            }
        }
    });
    let checks = t.checks.iter().map(|c| {
        let (n, e) = (&c.name, &c.expr);
        quote! { #core::CheckDef { name: ::std::string::String::from(#n), expr: ::std::string::String::from(#e) } }
    });
    let indexes = t.indexes.iter().map(|i| {
        let (n, cols, u, c) = (&i.name, strings(&i.columns), i.unique, i.concurrently);
        let (p, m, inc) = (opt_string(&i.predicate), opt_string(&i.using), strings(&i.include));
        let exprs = strings(&i.expressions);
        quote! { #core::IndexDef { name: ::std::string::String::from(#n), columns: #cols, unique: #u, concurrently: #c, predicate: #p, using: #m, include: #inc, expressions: #exprs } }
    });
    let renamed = opt_string(&t.renamed_from);
    let comment = opt_string(&t.comment);
    let schema = opt_string(&t.schema);
    quote! {
        #core::TableDef {
            name: ::std::string::String::from(#name),
            columns: ::std::vec![#(#columns),*],
            primary_key: #pk,
            uniques: ::std::vec![#(#uniques),*],
            foreign_keys: ::std::vec![#(#fks),*],
            checks: ::std::vec![#(#checks),*],
            indexes: ::std::vec![#(#indexes),*],
            renamed_from: #renamed,
            comment: #comment,
            schema: #schema,
        }
    }
}

/// Rust code that rebuilds a lowered view at run time.
pub fn view_expr(core: &TokenStream, v: &ViewDef) -> TokenStream {
    let name = &v.name;
    let materialized = v.materialized;
    let sql = match &v.sql {
        ExecuteSql::All(s) => {
            quote! { #core::ExecuteSql::All(::std::string::String::from(#s)) }
        }
        ExecuteSql::PerDialect(m) => {
            let (keys, values): (Vec<&String>, Vec<&String>) = m.iter().unzip();
            quote! {
                #core::ExecuteSql::PerDialect(
                    [#((::std::string::String::from(#keys), ::std::string::String::from(#values))),*]
                        .into_iter()
                        .collect(),
                )
            }
        }
    };
    quote! {
        #core::ViewDef {
            name: ::std::string::String::from(#name),
            sql: #sql,
            materialized: #materialized,
        }
    }
}
