use schema::Table;

pub struct Money(i64);

#[derive(Table)]
pub struct Invoice {
    #[column(primary_key)]
    pub id: i64,
    pub total: Money,
    #[column(sql_type = "numeric(12,2)")]
    pub tax: Money,
}

fn main() {}
