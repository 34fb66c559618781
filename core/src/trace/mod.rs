//! The execution history (issue #14): one row per item run and one per
//! status change, kept in SQLite or PostgreSQL, fed by the scheduler's
//! events so the fire path never waits on a database.
//! - `record`: what a row holds (ElasticJob's column names);
//! - `url`: which database (`sqlite://…`, `postgres://…`);
//! - `store`: the database — migrations, batched inserts, queries, purges;
//! - `buffer`: the bounded queue that holds records while it is down;
//! - `writer`: batching, retrying and counting what is lost;
//! - `retention`: the age and count limits;
//! - `query`: the filters for reading it back;
//! - `summary`: per-job counts for overviews;
//! - `audit`: the console operators' audit log.

pub mod audit;
mod buffer;
pub mod query;
pub mod record;
pub mod retention;
pub mod store;
pub mod summary;
pub mod url;
pub mod writer;

pub use audit::{AuditQuery, AuditRecord};
pub use query::{ExecutionQuery, StatusQuery};
pub use record::{ExecutionRecord, HistoryRecord, StatusRecord, StatusState};
pub use retention::Retention;
pub use store::HistoryStore;
pub use summary::JobSummary;
pub use url::{split_history, Backend, HistoryUrl};
pub use writer::{HistoryOptions, HistoryStats, HistoryWriter};
