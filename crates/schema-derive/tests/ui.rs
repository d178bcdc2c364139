//! The derive's errors, as the compiler shows them (trybuild), and a model that compiles
//! into the table the CLI reads from the same source.

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
