//! What applications depend on: the model derive, the schema model, and (behind the
//! `sqlite`, `postgres` and `mysql` features) the migration runner, `create_all` and introspection.

pub mod compare;
pub mod embed;
pub mod fleet;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod runner;
pub mod session;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

/// The schema model and the rest of the core, for generated code and advanced uses;
/// what applications need is re-exported below.
#[doc(hidden)]
pub use schema_core as core;
pub use schema_core::{ColumnDef, Dialect, ReferentialAction, Schema, SqlType, TableDef};
pub use schema_derive::{Enum, Table, View};

pub use embed::EmbeddedMigrations;
pub use runner::{create_all, drop_all, Backend, Migrator, RunError, RunOptions, RunReport};

/// A model struct: `#[derive(Table)]` implements it.
pub trait Table {
    /// The table's name in the database.
    const TABLE_NAME: &'static str;
    /// The table as the model defines it (names resolved by the naming convention).
    fn table_def() -> schema_core::TableDef;
}

/// A Rust enum that is a SQL enum type: `#[derive(Enum)]` implements it. A field of the
/// enum in a `#[derive(Table)]` struct is a column of the type.
///
/// ```
/// use schema::{Enum, EnumType, Table};
///
/// #[derive(Enum, Debug, PartialEq)]
/// #[enum_type(name = "channel_role")]
/// pub enum Role {
///     Owner,
///     #[enum_value(name = "viewer", renamed_from = "guest")]
///     ReadOnly,
/// }
///
/// assert_eq!(Role::TYPE_NAME, "channel_role");
/// assert_eq!(Role::VALUES, ["owner", "viewer"]);
/// assert_eq!(Role::ReadOnly.as_value(), "viewer");
/// assert_eq!(Role::from_value("owner"), Some(Role::Owner));
/// ```
pub trait EnumType: Sized {
    /// The type's name in the database.
    const TYPE_NAME: &'static str;
    /// Its values, in order.
    const VALUES: &'static [&'static str];
    /// The value a variant is stored as.
    fn as_value(&self) -> &'static str;
    /// The variant a stored value stands for.
    fn from_value(value: &str) -> Option<Self>;
}

/// A view: `#[derive(View)]` implements it.
pub trait View {
    /// The view's name in the database.
    const VIEW_NAME: &'static str;
    /// The view as the model defines it.
    fn view_def() -> schema_core::ViewDef;
}

/// Collects models into one schema, for `create_all` and for comparing with migrations:
/// `schema::models!(pub fn models = [User, Post]);` defines `pub fn models() -> Schema`.
///
/// ```
/// use schema::Table;
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// pub struct User {
///     #[column(primary_key)]
///     pub id: i64,
///     #[column(max_length = 255, unique)]
///     pub email: String,
///     pub nickname: Option<String>,
/// }
///
/// schema::models!(pub fn models = [User]);
///
/// let users = &models().tables["users"];
/// assert_eq!(users.columns.len(), 3);
/// assert!(users.column("nickname").is_some_and(|c| c.nullable));
/// assert_eq!(users.uniques[0].name, "uq_users_email");
/// ```
#[macro_export]
macro_rules! models {
    ($vis:vis fn $name:ident = [$($model:ty),* $(,)?]) => {
        $crate::models!($vis fn $name = [$($model),*]; views = []);
    };
    ($vis:vis fn $name:ident = [$($model:ty),* $(,)?]; views = [$($view:ty),* $(,)?]) => {
        $vis fn $name() -> $crate::Schema {
            #[allow(unused_mut)]
            let mut schema = $crate::Schema::from_tables([$(<$model as $crate::Table>::table_def()),*]);
            $(
                let view = <$view as $crate::View>::view_def();
                schema.views.insert(view.name.clone(), view);
            )*
            schema.without_hints()
        }
    };
}
