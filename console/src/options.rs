//! What the console is started with, and the one rule checked before any
//! socket is opened: without users (`--auth`), anyone who can reach the
//! port may operate every job, so the console then listens on a loopback
//! address only.

use crate::error::ConsoleError;
use elasticjob::RegistryCenter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to run a console.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The namespace's registry; the console holds one session of it.
    pub center: RegistryCenter,
    /// The execution history (`sqlite://…`, `postgres://…`), which also keeps the audit log.
    pub history: Option<String>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The users file; `None` runs without users (loopback only).
    pub auth_file: Option<PathBuf>,
    /// How long registry events are gathered before the state is read
    /// again: one re-read for a burst, never one per event.
    pub debounce: Duration,
    /// How long after a registry change the history is read again (the
    /// schedulers write their records in batches, every 500 ms).
    pub history_delay: Duration,
    /// How often the history is read when nothing happens in the registry
    /// (records written late, by instances whose database was away).
    pub history_interval: Duration,
    /// How long a browser login lasts without use.
    pub login_idle: Duration,
}

impl ConsoleOptions {
    /// Options with the defaults: 200 ms debounce, history re-read 1.2 s
    /// after a change and every 10 s, logins kept 8 hours unused.
    pub fn new(center: RegistryCenter, listen: SocketAddr) -> Self {
        ConsoleOptions {
            center,
            history: None,
            listen,
            auth_file: None,
            debounce: Duration::from_millis(200),
            history_delay: Duration::from_millis(1200),
            history_interval: Duration::from_secs(10),
            login_idle: Duration::from_secs(8 * 3600),
        }
    }

    /// Refuses a non-loopback address without a users file.
    pub fn check(&self) -> Result<(), ConsoleError> {
        if self.auth_file.is_none() && !self.listen.ip().is_loopback() {
            return Err(ConsoleError::option(
                "--listen",
                self.listen,
                "without --auth FILE the console only listens on a loopback address (127.0.0.1 or [::1]), since \
                 anyone reaching it could operate every job; give a users file to listen elsewhere",
            ));
        }
        Ok(())
    }
}

/// Parses `--listen` as `IP:PORT` (`127.0.0.1:8899`, `[::1]:8899`).
pub fn parse_listen(value: &str) -> Result<SocketAddr, ConsoleError> {
    value.trim().parse().map_err(|_| {
        ConsoleError::option("--listen", value, "must be IP:PORT, e.g. 127.0.0.1:8899")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_users_only_loopback_is_accepted() {
        let center = RegistryCenter::embedded("t");
        let local = ConsoleOptions::new(center.clone(), parse_listen("127.0.0.1:0").unwrap());
        assert!(local.check().is_ok());
        assert!(
            ConsoleOptions::new(center.clone(), parse_listen("[::1]:80").unwrap())
                .check()
                .is_ok()
        );
        let public = ConsoleOptions::new(center.clone(), parse_listen("0.0.0.0:8899").unwrap());
        let error = public.check().unwrap_err().to_string();
        assert!(
            error.contains("--listen `0.0.0.0:8899`") && error.contains("--auth"),
            "{error}"
        );
        let mut with_users = public;
        with_users.auth_file = Some("users".into());
        assert!(with_users.check().is_ok());
        assert!(parse_listen("localhost:80")
            .unwrap_err()
            .to_string()
            .contains("IP:PORT"));
    }
}
