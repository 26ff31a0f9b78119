//! Tests of registration: conflicts, member filters, kinds, settings tables.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

struct NoConfigs;
impl Configs for NoConfigs {
    fn config(&self, _: &str) -> Option<Arc<crate::CollectionConfig>> {
        None
    }
}

fn file(path: &str) -> Resource {
    Resource {
        path: path.to_owned(),
        href: String::new(),
        is_collection: false,
        etag: None,
        size: 0,
        modified: std::time::SystemTime::UNIX_EPOCH,
        created: std::time::SystemTime::UNIX_EPOCH,
        collection: Arc::default(),
        sync_token: None,
        summary: None,
    }
}

/// A plugin whose filter hides folder `b` and counts its calls.
struct Counting(Arc<AtomicUsize>, bool);
impl Plugin for Counting {
    fn register(&self, r: &mut Registrar<'_>) {
        let calls = self.0.clone();
        let filter = move |res: &Resource, _: Option<&Principal>, _: &dyn Configs| {
            calls.fetch_add(1, Ordering::Relaxed);
            !res.path.starts_with("b/")
        };
        match self.1 {
            true => r.member_filter_by_folder(filter),
            false => r.member_filter(filter),
        };
    }
}

fn decide(registry: &Registry) -> Vec<bool> {
    let mut visibility = registry.visibility(None, &NoConfigs);
    ["a/1", "a/2", "a/3", "b/1", "b/2", "c/1"]
        .map(|p| visibility.sees(&file(p)))
        .to_vec()
}

#[test]
fn files_of_one_folder_cost_one_decision_when_every_filter_judges_by_folder() {
    let expected = [true, true, true, false, false, true];
    let calls = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::default();
    registry.register(&Counting(calls.clone(), true));
    assert_eq!(decide(&registry), expected);
    assert_eq!(calls.load(Ordering::Relaxed), 3, "one per folder");
    // A filter that looks at each file makes every file a decision again.
    let other = Arc::new(AtomicUsize::new(0));
    registry.register(&Counting(other.clone(), false));
    calls.store(0, Ordering::Relaxed);
    assert_eq!(decide(&registry), expected);
    assert_eq!(calls.load(Ordering::Relaxed), 6, "one per file");
    assert_eq!(
        other.load(Ordering::Relaxed),
        4,
        "not asked after the first no"
    );
}

#[test]
fn a_plugin_extending_a_kind_needs_the_plugin_that_makes_it() {
    struct Extends;
    impl Plugin for Extends {
        fn name(&self) -> &'static str {
            "extends"
        }
        fn register(&self, r: &mut Registrar<'_>) {
            r.item_headers("calendar", |_| Vec::new())
                .view(crate::View::new("derived", "calendar"));
        }
    }
    struct Makes;
    impl Plugin for Makes {
        fn name(&self) -> &'static str {
            "makes"
        }
        fn register(&self, r: &mut Registrar<'_>) {
            r.collection_kind("calendar", Vec::new());
        }
    }
    let mut alone = Registry::default();
    alone.register(&Extends);
    let err = alone
        .check()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        "the plugins cannot run together: extends extends the collection kind \"calendar\", \
         which no plugin registers"
    );
    let mut both = Registry::default();
    both.register(&Extends);
    both.register(&Makes);
    assert!(both.check().is_ok());
}

#[test]
fn a_settings_table_is_claimed_by_one_plugin_and_read_as_its_type() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        files: u32,
    }
    struct Claims(&'static str);
    impl Plugin for Claims {
        fn name(&self) -> &'static str {
            self.0
        }
        fn register(&self, r: &mut Registrar<'_>) {
            r.settings::<Limits>("limits");
        }
    }
    let mut registry = Registry::default();
    registry.register(&Claims("first"));
    assert!(registry.check().is_ok());
    let check = &registry.tables["limits"].item;
    assert_eq!(
        check(&toml::Value::Table(toml::toml! { files = 3 })),
        Ok(())
    );
    let typo = check(&toml::Value::Table(toml::toml! { file = 3 })).unwrap_err();
    assert!(typo.starts_with("[limits]: unknown field `file`"), "{typo}");
    let config = crate::CollectionConfig {
        document: toml::toml! { [limits]
        files = 3 },
        ..Default::default()
    };
    let read: Option<Limits> = config.settings("limits").unwrap_or(None);
    assert_eq!(read.map(|l| l.files), Some(3));
    registry.register(&Claims("second"));
    let err = registry
        .check()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("settings table [limits] is registered by both first and second"),
        "{err}"
    );
}
