//! `elasticjob-console`: the web console of an elasticjob namespace, served
//! by `ejob console`. It shows every job's status, instances and items live
//! (ZooKeeper watches pushed to browsers over Server-Sent Events), the
//! execution history, and lets operators trigger, disable, enable, shut
//! down, remove and reconfigure jobs, each operation audited.
//!
//! It sits on the core's `JobOperator` and `HistoryStore`; the core itself
//! stays free of HTTP servers. One registry session serves everything:
//! browsers never cause registry reads, a single watcher does.
//!
//! - [`options`]: what it is started with; loopback only without users;
//! - [`auth`]: users file, passwords and tokens, logins, the request guard;
//! - [`server`]: start and graceful stop;
//! - `watcher` / `history_feed` / `hub`: the live view and its fan-out;
//! - `api`: the HTTP routes; `config_form`: the configuration form;
//! - `audit`, `metrics`, `timeline`: audit log, Prometheus metrics, job timelines;
//! - [`dto`]: the JSON shapes shared with `ejob … --json`.

#![warn(missing_docs)]

mod api;
mod audit;
pub mod auth;
mod config_form;
pub mod dto;
mod error;
mod history_feed;
mod hub;
mod metrics;
pub mod options;
mod server;
mod state;
mod timeline;
mod watcher;

pub use error::ConsoleError;
pub use options::{parse_listen, ConsoleOptions};
pub use server::{run, Console};
