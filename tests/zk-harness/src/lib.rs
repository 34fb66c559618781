//! Real Apache ZooKeeper servers for tests, in any language.
//!
//! [`ZkServer`] runs one standalone server and [`ZkEnsemble`] a quorum,
//! each JVM started straight from Debian's `zookeeper` package (no service,
//! no fixed port) on a free `127.0.0.1` port with a temporary data directory
//! and a 200 ms tick, so sessions can expire in well under two seconds. The
//! JVMs die with the test process. Python, Node and C tests use the same
//! servers through the `zk-harness` binary. [`FreezableProxy`] sits between
//! a client and a server to model a paused process or a partition.
//! [`HttpSink`] and [`SmtpSink`] stand in for the web services and mail
//! servers that HTTP jobs and error notifiers talk to, on loopback ports.
//! [`PgServer`] is a real PostgreSQL for the execution history's tests.

#![warn(missing_docs)]

pub mod http_sink;
pub mod postgres;
pub mod proxy;
pub mod server;
pub mod smtp_sink;

pub use http_sink::{closed_port, HttpSink, Reply, Request};
pub use postgres::PgServer;
pub use proxy::FreezableProxy;
pub use server::{Jvm, ZkEnsemble, ZkServer};
pub use smtp_sink::{Mail, SmtpSink};
