//! Paths below the root as plugins see them: `/`-separated, without leading or
//! trailing `/`, the root being `""`.

/// True when `path` is `folder` or lies below it (everything lies within the root).
pub fn within(path: &str, folder: &str) -> bool {
    folder.is_empty()
        || path == folder
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The folder holding `path` (`""` for a top-level name and for the root).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The root, then every folder down to `path`, then `path` itself:
/// `"a/b"` gives `""`, `"a"`, `"a/b"`.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::once("")
        .chain(path.match_indices('/').map(|(i, _)| &path[..i]))
        .chain((!path.is_empty()).then_some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(within("a/b", "a") && within("a", "a") && within("x", ""));
        assert!(!within("ab", "a") && !within("a", "a/b"));
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert_eq!(ancestors("").collect::<Vec<_>>(), [""]);
        assert_eq!(
            ancestors("a/b/c").collect::<Vec<_>>(),
            ["", "a", "a/b", "a/b/c"]
        );
    }
}
