use schema::Table;

#[derive(Table)]
pub struct Document {
    #[column(primary_key)]
    pub id: i64,
    #[column(sql_type(postgres = "jsonb", oracle = "clob"))]
    pub body: String,
}

fn main() {}
