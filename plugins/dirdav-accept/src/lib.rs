//! A per-folder rule, and the plugin to copy: a folder whose `.dav.toml` says
//! `[accept] extensions = ["jpg", "png"]` takes only files with those extensions, by
//! PUT, COPY or MOVE; anything else is refused before its body is read.

use dirdav_plugin::{DavError, Plugin, Registrar};

/// The `[accept]` table of a folder's settings.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// The extensions the folder takes, in lower case without the dot (`"jpg"`); a
    /// file's is compared in lower case (`IMG_1.JPG` is a `jpg`).
    pub extensions: Vec<String>,
}

/// Refuses files a folder's `[accept]` table does not name.
#[derive(Debug, Default, Clone, Copy)]
pub struct AcceptPlugin;

impl Plugin for AcceptPlugin {
    fn register(&self, r: &mut Registrar<'_>) {
        r.settings::<Accept>("accept").before_method(|request| {
            let target = match request.method.as_str() {
                "PUT" => request.path,
                "COPY" | "MOVE" => request.destination.unwrap_or_default(),
                _ => return Ok(()),
            };
            let (folder, name) = target.rsplit_once('/').unwrap_or(("", target));
            let extension = name.rsplit_once('.').map_or("", |(_, e)| e).to_lowercase();
            let settings = request.store.config(folder).unwrap_or_default();
            match settings.settings::<Accept>("accept") {
                Ok(Some(a)) if !a.extensions.contains(&extension) => {
                    Err(DavError::forbidden(format!("only {:?}", a.extensions)))
                }
                Ok(_) => Ok(()),
                Err(e) => Err(DavError::forbidden(e)),
            }
        });
    }
}
