//! The smallest useful dirdav plugin, and the one to copy when writing your own.
//!
//! It adds the compliance token `hello` to the `DAV:` header and a live property
//! `{https://dirdav.example/ns/hello}greeting` on every collection, greeting the user
//! who asks. Register it with `Server::builder(..).plugin(Hello)`.
//!
//! ```
//! use dirdav_plugin::Registry;
//! let mut registry = Registry::default();
//! registry.register(&dirdav_hello::Hello);
//! assert_eq!(registry.compliance, ["hello"]);
//! ```

use dirdav_plugin::xml::{Element, Name};
use dirdav_plugin::{LiveProperty, Plugin, Registrar};

/// The plugin's XML namespace.
pub const NS: &str = "https://dirdav.example/ns/hello";

/// `{https://dirdav.example/ns/hello}greeting`.
pub const GREETING: Name = Name::new(NS, "greeting");

/// Greets the user on every collection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Hello;

impl Plugin for Hello {
    fn register(&self, r: &mut Registrar<'_>) {
        r.namespace(NS, "hello")
            .compliance("hello")
            .property(LiveProperty::computed(GREETING, |ctx| {
                let who = ctx.principal.map_or("stranger", |p| &p.name);
                ctx.resource
                    .is_collection
                    .then(|| Element::with_text(GREETING, format!("Hello, {who}!")))
            }));
    }
}
