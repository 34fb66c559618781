//! Where the history goes: a `sqlite://PATH` file (the default kind, no
//! server) or a `postgres://USER[:PASSWORD]@HOST:PORT/DB` database that a
//! whole cluster shares. Parsed once when the scheduler is built, so a typo
//! fails the build with the field and value, while a database that is down
//! fails nothing (the writer buffers and retries).

use crate::error::{Error, Result};

/// The database kinds the history can be kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A local SQLite file, created on first write.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A validated history URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryUrl {
    backend: Backend,
    url: String,
}

impl HistoryUrl {
    /// Parses `sqlite://PATH` (`sqlite:///tmp/h.db` is an absolute path,
    /// `sqlite://h.db` a relative one; the file is created if missing) or
    /// `postgres://…` / `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(Error::invalid("history", url, "a SQLite history needs a file path: sqlite://PATH"));
            }
            // Read-write-create: the first scheduler creates the file.
            return Ok(HistoryUrl { backend: Backend::Sqlite, url: format!("sqlite://{path}?mode=rwc") });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
            if rest.split(['/', '?']).next().unwrap_or_default().rsplit('@').next().unwrap_or_default().is_empty() {
                return Err(Error::invalid("history", redact(url), "a PostgreSQL history needs a host: postgres://USER@HOST:PORT/DB"));
            }
            return Ok(HistoryUrl { backend: Backend::Postgres, url: url.to_string() });
        }
        Err(Error::invalid("history", redact(url), "must start with sqlite:// or postgres://"))
    }

    /// Which database kind it names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file it names, if it names one: a reader (`ejob history`)
    /// checks it exists rather than create an empty history.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        let rest = self.url.strip_prefix("sqlite://")?;
        Some(rest.split('?').next().unwrap_or_default().into())
    }

    /// The URL sqlx connects with.
    pub(crate) fn connect_url(&self) -> &str {
        &self.url
    }
}

/// Shown without its password: URLs end up in logs and error messages.
impl std::fmt::Display for HistoryUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl std::fmt::Debug for HistoryUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HistoryUrl({self})")
    }
}

/// Splits a job's YAML file into the job's configuration and its `history`
/// key, if any: `ejob run` reads the history URL beside the job's
/// ElasticJob keys. It is per instance, so it never goes into the
/// registry's `config` node (where Java instances would refuse it).
pub fn split_history(yaml: &str) -> Result<(crate::JobConfig, Option<String>)> {
    let bad = |e: serde_yaml_ng::Error| Error::invalid("config", yaml.lines().next().unwrap_or_default(), e.to_string());
    let mut fields: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).map_err(bad)?;
    let history = match fields.remove("history") {
        None | Some(serde_yaml_ng::Value::Null) => None,
        Some(serde_yaml_ng::Value::String(url)) => Some(HistoryUrl::parse(&url).map(|_| url)?),
        Some(other) => return Err(Error::invalid("history", format!("{other:?}"), "must be a URL (sqlite://PATH or postgres://...)")),
    };
    let config = crate::JobConfig::from_yaml(&serde_yaml_ng::to_string(&fields).map_err(bad)?)?;
    Ok((config, history))
}

/// `url` with the password of its user info replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_urls_are_recognised() {
        let sqlite = HistoryUrl::parse("sqlite:///tmp/h.db").unwrap();
        assert_eq!((sqlite.backend(), sqlite.connect_url()), (Backend::Sqlite, "sqlite:///tmp/h.db?mode=rwc"));
        assert_eq!(sqlite.sqlite_file(), Some("/tmp/h.db".into()));
        let pg = HistoryUrl::parse("postgres://ej:secret@127.0.0.1:5432/history").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.to_string(), "postgres://ej:***@127.0.0.1:5432/history");
        assert_eq!(pg.sqlite_file(), None);
    }

    #[test]
    fn the_yaml_history_key_is_read_checked_and_kept_out_of_the_config() {
        let (config, history) = split_history("jobName: j\nshardingTotalCount: 1\nhistory: sqlite:///tmp/h.db\n").unwrap();
        assert_eq!(history.as_deref(), Some("sqlite:///tmp/h.db"));
        assert!(config.extra.is_empty() && !config.to_yaml().unwrap().contains("history"));
        assert_eq!(split_history("jobName: j\nshardingTotalCount: 1\n").unwrap().1, None);
        assert!(split_history("jobName: j\nshardingTotalCount: 1\nhistory: ftp://x\n").is_err());
        assert!(split_history("jobName: j\nshardingTotalCount: 1\nhistroy: x\n").is_err(), "a typo is still refused");
    }

    #[test]
    fn bad_urls_name_the_field_and_hide_the_password() {
        let error = HistoryUrl::parse("mysql://root:pw@db/x").unwrap_err().to_string();
        assert!(error.contains("history") && error.contains("mysql://root:***@db/x"), "{error}");
        assert!(!error.contains("pw"), "{error}");
        assert!(HistoryUrl::parse("sqlite://").is_err());
        assert!(HistoryUrl::parse("postgres:///db").is_err());
    }
}
