//! Posting a JSON message to a notifier's URL: the transport every webhook
//! kind shares, with the connect and read timeouts each one reads from its
//! own props (`{prefix}.connectTimeoutMilliseconds`, default 3000, and
//! `{prefix}.readTimeoutMilliseconds`, default 5000, ElasticJob's names
//! and defaults for DingTalk and WeChat).

use crate::error::Result;
use crate::http_job::{client, describe, excerpt};
use crate::props::Props;
use std::time::Duration;

/// A notifier's endpoint and its client.
#[derive(Debug)]
pub(super) struct Endpoint {
    pub url: reqwest::Url,
    client: reqwest::Client,
    connect: Duration,
    read: Duration,
    connect_key: String,
    read_key: String,
}

impl Endpoint {
    /// Reads `url_key` and the timeouts under `prefix`.
    pub fn from_props(props: Props<'_>, prefix: &str, url_key: &str, why: &str) -> Result<Endpoint> {
        let url = props.url(url_key, why)?;
        let connect_key = format!("{prefix}.connectTimeoutMilliseconds");
        let read_key = format!("{prefix}.readTimeoutMilliseconds");
        let connect = props.millis(&connect_key, 3000)?;
        let read = props.millis(&read_key, 5000)?;
        let client = client(connect, read)
            .map_err(|e| crate::Error::invalid(url_key, url.as_str(), format!("cannot make an HTTP client: {e}")))?;
        Ok(Endpoint { url, client, connect, read, connect_key, read_key })
    }

    /// POSTs `body` as JSON to `url` (the endpoint's, possibly signed);
    /// returns the status and the body of the answer.
    pub async fn post(&self, url: reqwest::Url, body: &serde_json::Value) -> std::result::Result<(u16, String), String> {
        let fail = |e: reqwest::Error| describe(&e, self.connect, self.read, &self.connect_key, &self.read_key);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(fail)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(fail)?;
        Ok((status, text))
    }
}

/// Checks a chat robot's answer: HTTP 200 and, in the JSON body, `field`
/// equal to 0 when present (DingTalk and WeCom answer `errcode`, Feishu
/// `code`; a failed delivery still answers 200 with a non-zero code).
pub(super) fn check_answer(status: u16, body: &str, field: &str) -> std::result::Result<(), String> {
    if status != 200 {
        return Err(format!("answered HTTP {status}: {}", excerpt(body)));
    }
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match json.get(field).and_then(serde_json::Value::as_i64) {
        None | Some(0) => Ok(()),
        Some(code) => Err(format!("answered {field} {code}: {}", excerpt(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_answers_are_checked() {
        assert!(check_answer(200, r#"{"errcode":0,"errmsg":"ok"}"#, "errcode").is_ok());
        assert!(check_answer(200, "ok", "code").is_ok());
        let err = check_answer(200, r#"{"errcode":310000,"errmsg":"keywords not in content"}"#, "errcode").unwrap_err();
        assert!(err.contains("310000") && err.contains("keywords"), "{err}");
        assert!(check_answer(502, "bad gateway", "code").unwrap_err().contains("502"));
    }
}
