//! Typed reads of a job's `props` (Java `Properties`: every value is text).
//! HTTP jobs and error notifiers are configured entirely through props, so
//! they share one way to read them, and every error names the key and the
//! value as the user wrote them.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// A view of the props for reading typed values.
#[derive(Clone, Copy)]
pub(crate) struct Props<'a>(pub &'a BTreeMap<String, String>);

impl<'a> Props<'a> {
    /// The trimmed value of `key`, `None` when absent or blank.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value of `key`, which must be set.
    pub fn required(&self, key: &str, why: &str) -> Result<&'a str> {
        self.get(key).ok_or_else(|| Error::invalid(key, self.0.get(key).map_or("", |v| v), format!("must be set {why}")))
    }

    /// A positive number of milliseconds, `default` when unset.
    pub fn millis(&self, key: &str, default: u64) -> Result<Duration> {
        match self.get(key) {
            None => Ok(Duration::from_millis(default)),
            Some(text) => match text.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(Error::invalid(key, text, "must be a positive number of milliseconds")),
            },
        }
    }

    /// A non-negative integer, `default` when unset.
    pub fn count(&self, key: &str, default: u32) -> Result<u32> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| Error::invalid(key, text, "must be a whole number, 0 or more")),
        }
    }

    /// `true` or `false` (any case), `default` when unset.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            Some(text) => Err(Error::invalid(key, text, "must be true or false")),
        }
    }

    /// An `http://` or `https://` URL.
    pub fn url(&self, key: &str, why: &str) -> Result<reqwest::Url> {
        let text = self.required(key, why)?;
        let url = reqwest::Url::parse(text).map_err(|e| Error::invalid(key, text, format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::invalid(key, text, "must be an http:// or https:// URL with a host"));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_with_errors_naming_key_and_value() {
        let map: BTreeMap<String, String> = [
            ("a.ms", " 250 "),
            ("zero.ms", "0"),
            ("bad.ms", "soon"),
            ("on", "TRUE"),
            ("maybe", "perhaps"),
            ("blank", "  "),
            ("site", "https://example.invalid/x"),
            ("ftp", "ftp://example.invalid/x"),
            ("n", "-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let props = Props(&map);
        assert_eq!(props.millis("a.ms", 7).unwrap(), Duration::from_millis(250));
        assert_eq!(props.millis("unset", 7).unwrap(), Duration::from_millis(7));
        for key in ["zero.ms", "bad.ms"] {
            let err = props.millis(key, 1).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(map[key].as_str()), "{err}");
        }
        assert!(props.flag("on", false).unwrap());
        assert!(props.flag("maybe", false).unwrap_err().to_string().contains("perhaps"));
        assert!(props.count("n", 1).unwrap_err().to_string().contains("`-1`"));
        assert_eq!(props.get("blank"), None);
        let err = props.required("blank", "for X").unwrap_err().to_string();
        assert!(err.contains("blank") && err.contains("must be set for X"), "{err}");
        assert_eq!(props.url("site", "").unwrap().path(), "/x");
        assert!(props.url("ftp", "").unwrap_err().to_string().contains("ftp://example.invalid/x"));
    }
}
