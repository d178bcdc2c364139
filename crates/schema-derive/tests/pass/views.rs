use schema::core::ExecuteSql;
use schema::{Table, View};

#[derive(Table)]
#[table(name = "members")]
pub struct Member {
    #[column(primary_key)]
    pub id: i64,
    pub email: String,
    pub deleted: bool,
}

#[derive(View)]
#[view(name = "active_members", sql = "SELECT id, email FROM members WHERE NOT deleted")]
pub struct ActiveMember {
    pub id: i64,
    pub email: String,
}

#[derive(View)]
#[view(materialized, sql(postgres = "SELECT count(*) AS n FROM members", sqlite = "SELECT count(*) AS n FROM members"))]
pub struct MemberCount {
    pub n: i64,
}

schema::models!(fn models = [Member]; views = [ActiveMember, MemberCount]);

fn main() {
    assert_eq!(ActiveMember::VIEW_NAME, "active_members");
    let s = models();
    assert_eq!(s.views.len(), 2);
    assert!(s.views["member_count"].materialized);
    assert!(matches!(&s.views["member_count"].sql, ExecuteSql::PerDialect(m) if m.len() == 2));
}
