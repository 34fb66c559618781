//! `WECHAT`, as ElasticJob's: posts a text message to a WeCom (WeChat Work)
//! group robot (`wechat.webhook`), which answers `errcode` 0 on success.

use super::post::{check_answer, Endpoint};
use super::Failure;
use crate::error::Result;
use crate::props::Props;

/// `wechat.webhook`: the robot's URL, with its `key` (required).
pub const WEBHOOK_PROP: &str = "wechat.webhook";

/// The `WECHAT` notifier.
#[derive(Debug)]
pub struct WeChat {
    endpoint: Endpoint,
}

impl WeChat {
    pub(super) fn from_props(props: Props<'_>) -> Result<Self> {
        Ok(WeChat { endpoint: Endpoint::from_props(props, "wechat", WEBHOOK_PROP, "for jobErrorHandlerType WECHAT")? })
    }

    pub(super) async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        let body = serde_json::json!({ "msgtype": "text", "text": { "content": failure.text() } });
        let (status, text) = self.endpoint.post(self.endpoint.url.clone(), &body).await?;
        check_answer(status, &text, "errcode")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{failure, notifier};
    use zk_harness::{HttpSink, Reply};

    #[tokio::test]
    async fn posts_a_text_message_and_reads_errcode() {
        let sink = HttpSink::answering(Reply::new(200, r#"{"errcode":0,"errmsg":"ok"}"#));
        let url = sink.url("/cgi-bin/webhook/send?key=k1");
        let wechat = notifier("WECHAT", &[("wechat.webhook", &url), ("wechat.readTimeoutMilliseconds", "2000")]);
        wechat.send(&failure()).await.unwrap();
        let request = &sink.requests()[0];
        assert_eq!(request.target, "/cgi-bin/webhook/send?key=k1");
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body, serde_json::json!({ "msgtype": "text", "text": { "content": failure().text() } }));

        sink.script([Reply::new(200, r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#)]);
        let err = wechat.send(&failure()).await.unwrap_err();
        assert!(err.contains("93000"), "{err}");
    }
}
