//! `dirdav`: serve a directory tree over WebDAV, with CalDAV, CardDAV, discovery and
//! access control as plugins.

fn main() -> std::process::ExitCode {
    dirdav::App::new().run()
}
