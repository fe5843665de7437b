//! The domain of Ganglion, free of I/O: typed ids, validated values, the organization
//! templates and the tree index on which authorization and roll-ups are built.
//!
//! Nothing here knows SQL, HTTP or JSON; the store, the use cases and the web layer
//! depend on this crate, never the other way round.

pub mod access;
pub mod audit;
pub mod directive;
pub mod ids;
pub mod template;
pub mod text;
pub mod tracking;
pub mod tree;
pub mod unit;

pub use access::{authorize, Action, Post, Principal, Resource, Role};
pub use directive::DirectiveState;
pub use ids::{
    AccountId, AwardId, DirectiveId, ExperienceId, GuidanceId, InvalidId, ItemId, NoteId, PersonId,
    PostId, ProgrammeId, UnitId,
};
pub use template::{Template, TemplateError};
pub use tracking::{Columns, Kind, Tally, Workflow};
pub use tree::{MoveError, TreeIndex};
pub use unit::{Tag, Tags, UnitCode, UnitName, ValueError};
