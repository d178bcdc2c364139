fn main() {
    std::process::exit(cargo_schema::run(std::env::args_os()));
}
