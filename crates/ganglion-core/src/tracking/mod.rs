//! One tracking engine for everything conveyed to a unit and tracked to completion:
//! assignments of directives and pledges, programme projects, report filings,
//! invitations and requests.
//!
//! A kind of item brings its [`Workflow`] (states, moves, who makes them); the engine
//! keeps any kind's items in tree order ([`Columns`]) and counts them over any subtree
//! ([`Tally`]), with any number of metrics, each aggregated by its own rule, and with
//! what is overdue, late and on time as of the time asked. Units that owe something
//! that is stored only once done (a report for a period) are derived from a target
//! rule and the tree ([`Owed`]), never written row by row in advance.

mod columns;
mod kind;
mod owed;
mod tally;
mod target;
pub mod workflow;

pub use columns::{Columns, Entry, EntryRef, NEVER};
pub use kind::Kind;
pub use owed::Owed;
pub use tally::{Aggregate, MetricTally, Tally};
pub use target::{PostRule, Target};
pub use workflow::{Move, MoveRefusal, Mover, State, StateId, Workflow, MAX_STATES};
