//! A dirdav of one's own: the shipped server and subcommands, with one more plugin
//! (`dirdav_hello`, which adds the `hello` DAV token and a greeting property).
//!
//! ```sh
//! cargo run --example with_hello -- serve --root example-data
//! ```

fn main() -> std::process::ExitCode {
    dirdav::App::new().plugin(dirdav_hello::Hello).run()
}
