//! `DINGTALK`, as ElasticJob's: posts a text message to a DingTalk robot
//! (`dingtalk.webhook`). `dingtalk.keyword` is put in front of the text (a
//! robot with a keyword rule refuses messages without it). With
//! `dingtalk.secret`, the URL gets DingTalk's signature: `timestamp` (epoch
//! milliseconds) and `sign`, the Base64 HMAC-SHA256 of
//! `"{timestamp}\n{secret}"` keyed by the secret. The robot answers
//! `errcode` 0 on success.

use super::post::{check_answer, Endpoint};
use super::Failure;
use crate::error::Result;
use crate::props::Props;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `dingtalk.webhook`: the robot's URL with its `access_token` (required).
pub const WEBHOOK_PROP: &str = "dingtalk.webhook";
/// `dingtalk.keyword`: text put in front of every message.
pub const KEYWORD_PROP: &str = "dingtalk.keyword";
/// `dingtalk.secret`: the robot's signing secret (`SEC...`).
pub const SECRET_PROP: &str = "dingtalk.secret";

/// The `DINGTALK` notifier.
pub struct DingTalk {
    endpoint: Endpoint,
    keyword: String,
    secret: Option<String>,
}

impl std::fmt::Debug for DingTalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("DingTalk").field("url", &self.endpoint.url.as_str()).field("keyword", &self.keyword).finish()
    }
}

/// DingTalk's signature of `timestamp` (epoch milliseconds) with `secret`.
pub(crate) fn sign(timestamp: i64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl DingTalk {
    pub(super) fn from_props(props: Props<'_>) -> Result<Self> {
        Ok(DingTalk {
            endpoint: Endpoint::from_props(props, "dingtalk", WEBHOOK_PROP, "for jobErrorHandlerType DINGTALK")?,
            // Untrimmed: a keyword may end with the space that separates it.
            keyword: props.0.get(KEYWORD_PROP).cloned().unwrap_or_default(),
            secret: props.get(SECRET_PROP).map(str::to_string),
        })
    }

    pub(super) async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        let mut url = self.endpoint.url.clone();
        if let Some(secret) = &self.secret {
            let timestamp = chrono::Utc::now().timestamp_millis();
            url.query_pairs_mut().append_pair("timestamp", &timestamp.to_string()).append_pair("sign", &sign(timestamp, secret));
        }
        let content = format!("{}{}", self.keyword, failure.text());
        let body = serde_json::json!({ "msgtype": "text", "text": { "content": content } });
        let (status, text) = self.endpoint.post(url, &body).await?;
        check_answer(status, &text, "errcode")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{failure, notifier};
    use super::sign;
    use zk_harness::{HttpSink, Reply};

    fn decode(text: &str) -> String {
        let mut out = Vec::new();
        let mut bytes = text.bytes();
        while let Some(b) = bytes.next() {
            if b == b'%' {
                let hex: String = [bytes.next().unwrap() as char, bytes.next().unwrap() as char].iter().collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            } else {
                out.push(b);
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_and_secret() {
        // Known answer, computed independently (Python's hmac module).
        assert_eq!(sign(1_577_262_236_757, "SECtest"), "Za/ne6w2koB8B4ROVlgTNd/X+/FbyDpZrXLz57xNZSA=");
    }

    #[tokio::test]
    async fn posts_keyword_and_text_with_a_valid_signature() {
        let sink = HttpSink::answering(Reply::new(200, r#"{"errcode":0,"errmsg":"ok"}"#));
        let url = sink.url("/robot/send?access_token=t0");
        let dingtalk = notifier(
            "DINGTALK",
            &[("dingtalk.webhook", &url), ("dingtalk.keyword", "[ejob] "), ("dingtalk.secret", "SECabc")],
        );
        let before = chrono::Utc::now().timestamp_millis();
        dingtalk.send(&failure()).await.unwrap();
        let request = &sink.requests()[0];
        assert_eq!(request.query("access_token"), Some("t0"));
        let timestamp: i64 = request.query("timestamp").unwrap().parse().unwrap();
        assert!(timestamp >= before && timestamp <= chrono::Utc::now().timestamp_millis());
        assert_eq!(decode(request.query("sign").unwrap()), sign(timestamp, "SECabc"));
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        let content = format!("[ejob] {}", failure().text());
        assert_eq!(body, serde_json::json!({ "msgtype": "text", "text": { "content": content } }));

        sink.script([Reply::new(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#)]);
        assert!(dingtalk.send(&failure()).await.unwrap_err().contains("sign not match"));
    }

    #[tokio::test]
    async fn without_a_secret_nothing_is_signed() {
        let sink = HttpSink::answering(Reply::new(200, r#"{"errcode":0}"#));
        let url = sink.url("/robot/send?access_token=t1");
        notifier("DINGTALK", &[("dingtalk.webhook", &url)]).send(&failure()).await.unwrap();
        let request = &sink.requests()[0];
        assert_eq!(request.target, "/robot/send?access_token=t1");
    }
}
