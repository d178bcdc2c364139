fn main() {
    // Validates the workspace's migrations at compile time and embeds them.
    schema_build::Embed::new().run_or_exit();
}
