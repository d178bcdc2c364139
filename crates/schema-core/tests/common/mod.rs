//! Small builders for schemas in tests.
#![allow(dead_code)]

use schema_core::model::*;
use schema_core::SqlType;

pub fn col(name: &str, ty: SqlType) -> ColumnDef {
    ColumnDef::new(name, ty)
}

pub fn nullable(name: &str, ty: SqlType) -> ColumnDef {
    let mut c = ColumnDef::new(name, ty);
    c.nullable = true;
    c
}

pub fn id_table(name: &str, extra: Vec<ColumnDef>) -> TableDef {
    let mut id = ColumnDef::new("id", SqlType::BigInt);
    id.auto_increment = true;
    let mut columns = vec![id];
    columns.extend(extra);
    TableDef {
        name: name.into(),
        columns,
        primary_key: Some(PrimaryKeyDef {
            name: format!("pk_{name}"),
            columns: vec!["id".into()],
        }),
        ..Default::default()
    }
}

pub fn fk(table: &str, column: &str, target: &str) -> ForeignKeyDef {
    ForeignKeyDef {
        name: format!("fk_{table}_{column}_{target}"),
        columns: vec![column.into()],
        ref_table: target.into(),
        ref_columns: vec!["id".into()],
        on_delete: ReferentialAction::Cascade,
        on_update: ReferentialAction::NoAction,
    }
}

pub fn schema(tables: Vec<TableDef>) -> Schema {
    Schema::from_tables(tables)
}
