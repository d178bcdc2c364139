use schema::View;

#[derive(View)]
#[view(name = "v", sql = "SELECT 1; DROP TABLE members")]
pub struct Broken {
    pub n: i64,
}

#[derive(View)]
#[view(sql(oracle = "SELECT 1"))]
pub struct UnknownDialect {
    pub n: i64,
}

#[derive(View)]
pub struct NoQuery {
    pub n: i64,
}

fn main() {}
