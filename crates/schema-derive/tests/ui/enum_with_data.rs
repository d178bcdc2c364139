use schema::Enum;

#[derive(Enum)]
#[enum_type(name = "shape", rename_all = "camelCase")]
pub enum Shape {
    Circle(f64),
    #[enum_value(name = "square")]
    Square,
    #[enum_value(name = "square", colour = "red")]
    Box,
}

fn main() {}
