#![doc = include_str!("../GUIDE.md")]

mod client;
pub mod contentline;
mod error;
mod handler;
pub mod locks;
mod multistatus;
pub mod path;
mod registry;
mod resource;
mod users;
mod view;

pub use axum_core::body::Body;
pub use bytes::Bytes;
pub use client::{origin, prefers_html};
pub use dirdav_xml as xml;
pub use error::{DavError, ERROR, Refusal};
pub use handler::{
    BoxFuture, Configs, DavRequest, Depth, Handler, HandlerResult, MultigetItem, NewCollection,
    SharedHandler, Store, Stream, SyncChanges, compute, export_validators,
};
pub use http;
pub use locks::{LockCheck, LockKeeper, Touch};
pub use multistatus::{Multistatus, PropQuery, PropStat, status_line};
pub use registry::{
    Agent, ItemChange, ItemHeaders, ItemHook, LiveProperty, Merged, MergedHook, MethodCheck, Owned,
    Plugin, PrincipalHook, PropContext, PropGetter, Registrar, Registry, RegistryError, Report,
    Route, Share, SharesHook, SpaceCheck, Summarizer, TableCheck, ValueCheck, ValueReader,
    Visibility, WriteCheck, WriteEvent,
};
pub use resource::{
    CollectionConfig, DeadLoader, Fields, Periodic, Principal, Resource, Summary, Tls,
    media_essence,
};
pub use users::KnownUsers;
pub use view::{MembersHook, SourcesHook, View};
