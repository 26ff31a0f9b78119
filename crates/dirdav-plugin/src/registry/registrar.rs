//! How a plugin registers what it contributes ([`Plugin`], [`Registrar`]).

use std::fmt;
use std::sync::Arc;

use dirdav_xml::Name;

use super::*;
use crate::handler::Handler;

/// A dirdav plugin: a value that registers what it contributes on a [`Registrar`].
///
/// Registration happens once, when the server is built; the registered closures and
/// handlers then run on every request that concerns them.
pub trait Plugin: Send + Sync + 'static {
    /// The name used in errors about conflicting registrations.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Registers the plugin's contributions.
    fn register(&self, registrar: &mut Registrar<'_>);
}

impl Registry {
    /// Runs a plugin's registration, recording conflicts with earlier registrations.
    pub fn register(&mut self, plugin: &dyn Plugin) {
        let mut registrar = Registrar {
            plugin: plugin.name(),
            registry: self,
        };
        plugin.register(&mut registrar);
    }
}

/// A boxed plugin is a plugin: an application that collects plugins of several types
/// (`dirdav::App`) hands them on as they are.
impl<P: Plugin + ?Sized> Plugin for Box<P> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn register(&self, registrar: &mut Registrar<'_>) {
        (**self).register(registrar);
    }
}

/// Handed to [`Plugin::register`]; each method records one contribution and returns
/// the registrar, so registrations chain.
#[derive(Debug)]
pub struct Registrar<'r> {
    plugin: &'static str,
    registry: &'r mut Registry,
}

impl Registrar<'_> {
    fn owned<T>(&self, item: T) -> Owned<T> {
        Owned {
            plugin: self.plugin,
            item,
        }
    }

    fn conflict(&mut self, what: impl fmt::Display, other: &'static str) {
        let msg = format!("{what} is registered by both {other} and {}", self.plugin);
        self.registry.conflicts.push(msg);
    }

    /// Adds a token to the `DAV:` header (RFC 4918 §10.1), e.g. `calendar-access`.
    pub fn compliance(&mut self, token: &'static str) -> &mut Self {
        if !self.registry.compliance.contains(&token) {
            self.registry.compliance.push(token);
        }
        self
    }

    /// Declares the stable prefix for a namespace in every multistatus.
    pub fn namespace(&mut self, ns: &'static str, prefix: &'static str) -> &mut Self {
        let clash = self
            .registry
            .prefixes
            .iter()
            .find(|(n, p)| (*n == ns) != (*p == prefix));
        if let Some((n, p)) = clash {
            let msg = format!(
                "namespace prefix {prefix}={ns} clashes with {p}={n} (registered by {})",
                self.plugin
            );
            self.registry.conflicts.push(msg);
        } else if !self.registry.prefixes.contains(&(ns, prefix)) {
            self.registry.prefixes.push((ns, prefix));
        }
        self
    }

    /// Declares a collection kind (the `kind` of `.dav.toml`) and the resourcetype
    /// elements its collections carry besides `DAV:collection`.
    pub fn collection_kind(&mut self, kind: &str, resourcetype: Vec<Name>) -> &mut Self {
        if let Some(other) = self.registry.kinds.get(kind) {
            let other = other.plugin;
            self.conflict(format_args!("collection kind {kind:?}"), other);
        } else {
            let owned = self.owned(resourcetype);
            self.registry.kinds.insert(kind.to_owned(), owned);
        }
        self
    }

    /// Adds a live property.
    pub fn property(&mut self, property: LiveProperty) -> &mut Self {
        let existing = self
            .registry
            .properties
            .iter()
            .find(|p| p.item.name == property.name)
            .map(|p| p.plugin);
        match existing {
            Some(other) => self.conflict(format_args!("property {}", property.name), other),
            None => {
                let owned = self.owned(property);
                self.registry.properties.push(owned);
            }
        }
        self
    }

    /// Answers a REPORT whose body's root element is `name`, on the resources for
    /// which `applies` is true.
    pub fn report(
        &mut self,
        name: Name,
        applies: impl Fn(&Resource) -> bool + Send + Sync + 'static,
        handler: impl Handler,
    ) -> &mut Self {
        if let Some(other) = self.registry.reports.get(&name) {
            let other = other.plugin;
            self.conflict(format_args!("report {name}"), other);
        } else {
            let report = Report {
                handler: Arc::new(handler),
                applies: Arc::new(applies),
            };
            let owned = self.owned(report);
            self.registry.reports.insert(name, owned);
        }
        self
    }

    /// Answers an extra method, such as `MKCALENDAR`.
    pub fn method(&mut self, method: &str, handler: impl Handler) -> &mut Self {
        let method = method.to_ascii_uppercase();
        if let Some(other) = self.registry.methods.get(&method) {
            let other = other.plugin;
            self.conflict(format_args!("method {method}"), other);
        } else {
            let owned = self.owned(Arc::new(handler) as SharedHandler);
            self.registry.methods.insert(method, owned);
        }
        self
    }

    /// Answers an extra method that every resource refuses, leaving it out of `Allow`:
    /// `ACL` where the rules live in files answers 403 with the RFC's precondition,
    /// which says more than 405 would, but no client should be told it may use it.
    pub fn method_unlisted(&mut self, method: &str, handler: impl Handler) -> &mut Self {
        self.registry
            .unlisted_methods
            .insert(method.to_ascii_uppercase());
        self.method(method, handler)
    }

    /// Checks every write into a collection of `kind` before a byte reaches disk.
    pub fn write_check(
        &mut self,
        kind: &str,
        check: impl Fn(&WriteCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let kind = kind.to_owned();
        self.write_check_where(move |c| c.kind() == Some(kind.as_str()), check)
    }

    /// Checks every write (PUT, and COPY or MOVE of an item) into a folder for which
    /// `applies` holds, of any kind or none (`|_| true` for every folder), before a byte
    /// reaches disk. The check sees the bytes, the folder and who writes.
    pub fn write_check_where(
        &mut self,
        applies: impl Fn(&Resource) -> bool + Send + Sync + 'static,
        check: impl Fn(&WriteCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned((Arc::new(applies) as Applies, Arc::new(check) as Check));
        self.registry.write_checks.push(owned);
        self
    }

    /// Keeps write locks (RFC 4918 class 2): the core evaluates the `If` header's state
    /// tokens with it and hands it every write before it runs. One plugin only.
    pub fn locks(&mut self, keeper: Arc<dyn crate::LockKeeper>) -> &mut Self {
        if let Some(other) = &self.registry.locks {
            let other = other.plugin;
            self.conflict("the lock keeper", other);
        } else {
            self.registry.locks = Some(self.owned(keeper));
        }
        self
    }

    /// Checks every write that brings bytes (PUT, COPY, MOVE) before it lands, with how
    /// many and where: a quota refuses with 507 `DAV:quota-not-exceeded`.
    pub fn space_check(
        &mut self,
        check: impl Fn(&SpaceCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(check) as SpaceHook);
        self.registry.space_checks.push(owned);
        self
    }

    /// Observes every change after it has landed.
    pub fn after_write(
        &mut self,
        observer: impl Fn(&WriteEvent) + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(observer) as Observer);
        self.registry.observers.push(owned);
        self
    }

    /// Runs after a PUT or DELETE of an item in a collection of `kind` has landed,
    /// with the item's bytes before and after, once the collection's lock is released
    /// and before the request is answered (so a client that sees the answer sees what
    /// the hook did). The hook cannot fail the request: it logs what goes wrong. Writes
    /// it makes through the store run every check and every hook again; it marks them
    /// with [`Agent`] to tell them apart. COPY and MOVE do not run it.
    pub fn after_item_change<F, Fut>(&mut self, kind: &str, hook: F) -> &mut Self
    where
        F: Fn(ItemChange) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let hook: ItemHook = Arc::new(move |change| Box::pin(hook(change)));
        let owned = self.owned((kind.to_owned(), hook));
        self.registry.item_hooks.push(owned);
        self
    }

    /// Answers a stored property (one [`LiveProperty::stored`] keeps in `.dav.toml`)
    /// where the collection does not set it: a user's home gives the display name the
    /// configuration has for them. The first fallback with a value answers.
    pub fn fallback(
        &mut self,
        name: Name,
        getter: impl Fn(&PropContext<'_>) -> Option<Element> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned((name, Arc::new(getter) as PropGetter));
        self.registry.fallbacks.push(owned);
        self
    }

    /// Adds response headers to GET, HEAD and PUT of items in collections of `kind`,
    /// from what the index knows of the item (`Schedule-Tag`, RFC 6638 §3.2.10).
    pub fn item_headers(
        &mut self,
        kind: &str,
        hook: impl Fn(&Resource) -> Vec<(http::HeaderName, http::HeaderValue)> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned((kind.to_owned(), Arc::new(hook) as ItemHeaders));
        self.registry.item_headers.push(owned);
        self
    }

    /// Runs before every method; an error answers the request instead.
    pub fn before_method(
        &mut self,
        hook: impl Fn(&MethodCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(hook) as BeforeMethod);
        self.registry.before_method.push(owned);
        self
    }

    /// Hides resources from listings (PROPFIND, REPORT, sync-collection) when the filter
    /// returns false. The filter runs while the core holds its index: it must look up
    /// other collections through the [`Configs`] it is handed, never through a `Store`.
    pub fn member_filter(
        &mut self,
        filter: impl Fn(&Resource, Option<&Principal>, &dyn Configs) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(filter) as MemberFilter);
        self.registry.filters_by_folder = false;
        self.registry.member_filters.push(owned);
        self
    }

    /// Like [`Registrar::member_filter`], for a filter that judges a file by its folder
    /// alone (its path's parent and the principal, never its name or contents), as
    /// access rules set per folder do. A listing then asks it once for the files of a
    /// folder: 10,000 items cost one decision.
    pub fn member_filter_by_folder(
        &mut self,
        filter: impl Fn(&Resource, Option<&Principal>, &dyn Configs) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        let first = self.registry.member_filters.is_empty();
        let owned = self.owned(Arc::new(filter) as MemberFilter);
        self.registry.filters_by_folder = first || self.registry.filters_by_folder;
        self.registry.member_filters.push(owned);
        self
    }

    /// Summarizes every item of collections of `kind` when it is indexed (at startup,
    /// after outside edits, on PUT); the summary is kept in the index and handed to
    /// checks, properties and reports on [`Resource::summary`]. The function must not
    /// fail: for an item it cannot read, return `Summary::default()`.
    pub fn summarizer(
        &mut self,
        kind: &str,
        summarize: impl Fn(&[u8]) -> crate::Summary + Send + Sync + 'static,
    ) -> &mut Self {
        if let Some(other) = self.registry.summarizers.get(kind) {
            let other = other.plugin;
            self.conflict(format_args!("summarizer for {kind:?}"), other);
        } else {
            let owned = self.owned(Arc::new(summarize) as Summarizer);
            self.registry.summarizers.insert(kind.to_owned(), owned);
        }
        self
    }

    /// Runs before the first request of each principal (per server process), e.g. to
    /// create the user's home. An error answers that request; the hook runs again on
    /// the next one.
    pub fn first_request<F, Fut>(&mut self, hook: F) -> &mut Self
    where
        F: Fn(Principal, Arc<dyn Store>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), DavError>> + Send + 'static,
    {
        let hook: PrincipalHook = Arc::new(move |p, s| Box::pin(hook(p, s)));
        let owned = self.owned(hook);
        self.registry.first_request.push(owned);
        self
    }

    /// Lists the collections shared with a user, shown in their home (see [`Share`]).
    /// Its answer must follow from the folders and their settings alone: the core keeps
    /// each user's answer until a folder is added, removed or has its settings changed,
    /// so that listing a home does not cost every collection of the server.
    pub fn shares(
        &mut self,
        hook: impl Fn(&str, &dyn Store) -> Vec<Share> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(hook) as SharesHook);
        self.registry.shares.push(owned);
        self
    }

    /// Lists the merged collections of a user's home (see [`Merged`]). As for
    /// [`shares`](Self::shares), its answer must follow from the folders and their
    /// settings alone: the core keeps it until they change. The hook may call the
    /// store; the core holds no lock while it runs.
    pub fn merged(
        &mut self,
        hook: impl Fn(&str, &dyn Store) -> Vec<Merged> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(hook) as MergedHook);
        self.registry.merged.push(owned);
        self
    }

    /// Claims the table `[table]` of `.dav.toml` files for this plugin, which reads it
    /// as `T` ([`CollectionConfig::settings`](crate::CollectionConfig::settings)). The
    /// core checks the table whenever it reads a settings file and logs one that does
    /// not fit, with the file's path, once per version of the file. Two plugins
    /// claiming one table fail the build.
    pub fn settings<T: serde::de::DeserializeOwned + 'static>(&mut self, table: &str) -> &mut Self {
        if let Some(other) = self.registry.tables.get(table) {
            let other = other.plugin;
            self.conflict(format_args!("settings table [{table}]"), other);
            return self;
        }
        let name = table.to_owned();
        let check = move |value: &toml::Value| {
            let parsed: Result<T, toml::de::Error> = value.clone().try_into();
            parsed
                .map(|_| ())
                .map_err(|e| format!("[{name}]: {}", e.message()))
        };
        let owned = self.owned(Arc::new(check) as TableCheck);
        self.registry.tables.insert(table.to_owned(), owned);
        self
    }

    /// A collection in every user's home whose members this plugin computes
    /// ([`View`](crate::View)). Two views of one name conflict.
    pub fn view(&mut self, view: crate::View) -> &mut Self {
        let existing = self
            .registry
            .views
            .iter()
            .find(|v| v.item.name == view.name)
            .map(|v| v.plugin);
        match existing {
            Some(other) => self.conflict(format_args!("view {}", view.name), other),
            None => {
                let owned = self.owned(view);
                self.registry.views.push(owned);
            }
        }
        self
    }

    /// Answers GET and HEAD on collections of `kind` (a calendar's export), instead of
    /// the HTML listing plain folders get. For HEAD the core drops the body.
    pub fn collection_get(&mut self, kind: &str, handler: impl Handler) -> &mut Self {
        if let Some(other) = self.registry.collection_get.get(kind) {
            let other = other.plugin;
            self.conflict(format_args!("GET on {kind:?} collections"), other);
        } else {
            let owned = self.owned(Arc::new(handler) as SharedHandler);
            self.registry.collection_get.insert(kind.to_owned(), owned);
        }
        self
    }

    /// Answers GET and HEAD on every collection when the request prefers HTML (a
    /// browser opening the address, see [`prefers_html`](crate::prefers_html)) and the
    /// query does not ask for the export (`?download`): a web page instead of the
    /// core's bare listing and the calendars' and address books' exports. One plugin.
    /// For HEAD the core drops the body.
    pub fn browser_page(&mut self, handler: impl Handler) -> &mut Self {
        if let Some(other) = &self.registry.browser_page {
            let other = other.plugin;
            self.conflict(format_args!("the browser page"), other);
        } else {
            let owned = self.owned(Arc::new(handler) as SharedHandler);
            self.registry.browser_page = Some(owned);
        }
        self
    }

    /// Answers every request whose path is `path` or lies below it, before the tree is
    /// consulted (`/.groups/`). The path matches at the host's root and, when the server
    /// has a base path, below it too (`/dav/.groups/…` for `/.groups`); the handler sees
    /// the path as sent. Choose a path starting with `.`: the tree never serves one, so
    /// the route shadows nothing.
    ///
    /// The request passes the before-method hooks first, as every request to the tree
    /// does, with [`MethodCheck::route`] set: the access control plugin lets signed-in
    /// users through and asks anonymous requests to sign in. A path that must answer
    /// anyone is registered with [`Registrar::public_route`] instead.
    pub fn route(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add_route(path, Arc::new(handler), false, false)
    }

    /// Like [`Registrar::route`], for requests whose bodies may be large (uploads): the
    /// handler reads [`DavRequest::stream`](crate::DavRequest::stream) as it arrives,
    /// instead of a body the core has collected (and bounded by the XML limit).
    pub fn streaming_route(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add_route(path, Arc::new(handler), false, true)
    }

    /// Like [`Registrar::route`], for a path that answers anyone, signed in or not,
    /// without the before-method hooks: what a client asks before it has credentials
    /// (`/.well-known/caldav`). The handler alone decides what it reveals.
    pub fn public_route(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add_route(path, Arc::new(handler), true, false)
    }

    fn add_route(
        &mut self,
        path: &str,
        handler: SharedHandler,
        public: bool,
        streaming: bool,
    ) -> &mut Self {
        let path = path.trim_end_matches('/').to_owned();
        let existing = self
            .registry
            .routes
            .iter()
            .find(|r| r.item.path == path)
            .map(|r| r.plugin);
        match existing {
            Some(other) => self.conflict(format_args!("route {path}"), other),
            None => {
                let owned = self.owned(Route {
                    path,
                    handler,
                    public,
                    streaming,
                });
                self.registry.routes.push(owned);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests;
