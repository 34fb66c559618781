//! `FEISHU` (ours): posts a text message to a Feishu (Lark) custom bot
//! (`feishu.webhook`). With `feishu.secret` the body carries Feishu's
//! signature: `timestamp` (epoch seconds) and `sign`, the Base64
//! HMAC-SHA256 of nothing keyed by `"{timestamp}\n{secret}"`. The bot
//! answers `code` 0 on success.

use super::post::{check_answer, Endpoint};
use super::Failure;
use crate::error::Result;
use crate::props::Props;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `feishu.webhook`: the bot's URL (required).
pub const WEBHOOK_PROP: &str = "feishu.webhook";
/// `feishu.secret`: the bot's signing secret.
pub const SECRET_PROP: &str = "feishu.secret";

/// The `FEISHU` notifier.
pub struct Feishu {
    endpoint: Endpoint,
    secret: Option<String>,
}

impl std::fmt::Debug for Feishu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("Feishu").field("url", &self.endpoint.url.as_str()).finish()
    }
}

/// Feishu's signature of `timestamp` (epoch seconds) with `secret`.
pub(crate) fn sign(timestamp: i64, secret: &str) -> String {
    let key = format!("{timestamp}\n{secret}");
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Feishu {
    pub(super) fn from_props(props: Props<'_>) -> Result<Self> {
        Ok(Feishu {
            endpoint: Endpoint::from_props(props, "feishu", WEBHOOK_PROP, "for jobErrorHandlerType FEISHU")?,
            secret: props.get(SECRET_PROP).map(str::to_string),
        })
    }

    pub(super) async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        let mut body = serde_json::json!({ "msg_type": "text", "content": { "text": failure.text() } });
        if let Some(secret) = &self.secret {
            let timestamp = chrono::Utc::now().timestamp();
            body["timestamp"] = timestamp.to_string().into();
            body["sign"] = sign(timestamp, secret).into();
        }
        let (status, text) = self.endpoint.post(self.endpoint.url.clone(), &body).await?;
        check_answer(status, &text, "code")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{failure, notifier};
    use super::sign;
    use zk_harness::{HttpSink, Reply};

    #[test]
    fn the_signature_is_an_hmac_keyed_by_timestamp_and_secret() {
        // Known answer, computed independently (Python's hmac module).
        assert_eq!(sign(1_599_360_473, "s3cret"), "QQHOl6fWr0/7EF26jw8goDL6Cc0vHLHZYLDituMJB4s=");
    }

    #[tokio::test]
    async fn posts_text_with_a_valid_signature() {
        let sink = HttpSink::answering(Reply::new(200, r#"{"code":0,"msg":"success"}"#));
        let url = sink.url("/open-apis/bot/v2/hook/h1");
        let feishu = notifier("FEISHU", &[("feishu.webhook", &url), ("feishu.secret", "s3cret")]);
        feishu.send(&failure()).await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&sink.requests()[0].body).unwrap();
        assert_eq!(body["msg_type"], "text");
        assert_eq!(body["content"]["text"], failure().text());
        let timestamp: i64 = body["timestamp"].as_str().unwrap().parse().unwrap();
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        assert_eq!(body["sign"], sign(timestamp, "s3cret"));

        sink.script([Reply::new(200, r#"{"code":19021,"msg":"sign match fail"}"#)]);
        assert!(feishu.send(&failure()).await.unwrap_err().contains("19021"));
    }

    #[tokio::test]
    async fn without_a_secret_nothing_is_signed() {
        let sink = HttpSink::answering(Reply::new(200, r#"{"code":0}"#));
        let url = sink.url("/hook");
        notifier("FEISHU", &[("feishu.webhook", &url)]).send(&failure()).await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&sink.requests()[0].body).unwrap();
        assert!(body.get("sign").is_none() && body.get("timestamp").is_none(), "{body}");
    }
}
