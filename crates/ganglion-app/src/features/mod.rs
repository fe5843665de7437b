//! The use cases, grouped by feature: one folder per feature, each a handle on the
//! [`crate::App`] whose methods are that feature's use cases.
//!
//! ```ignore
//! let view = app.experiences().create(&ctx, input).await?;
//! ```
//!
//! A feature's folder holds its commands (writes), queries (reads) and views (what
//! crosses a door, serialized as the API documents it). Every public use case takes the
//! caller's [`crate::Ctx`] first, authorizes with the one predicate, validates, and ends
//! a write through `App::finish_write`, which appends the audit entry and remembers an
//! idempotent answer in the write's own transaction. Shared machinery — the tree index,
//! the tracking engine, the clock, the change feed — lives on the `App`, not here.
