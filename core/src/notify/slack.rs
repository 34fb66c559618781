//! `SLACK` (ours): posts the failure's text to a Slack incoming webhook
//! (`slack.webhook`), which answers 200 `ok` when it took the message.

use super::post::Endpoint;
use super::Failure;
use crate::error::Result;
use crate::http_job::excerpt;
use crate::props::Props;

/// `slack.webhook`: the incoming webhook URL (required).
pub const WEBHOOK_PROP: &str = "slack.webhook";

/// The `SLACK` notifier.
#[derive(Debug)]
pub struct Slack {
    endpoint: Endpoint,
}

impl Slack {
    pub(super) fn from_props(props: Props<'_>) -> Result<Self> {
        Ok(Slack { endpoint: Endpoint::from_props(props, "slack", WEBHOOK_PROP, "for jobErrorHandlerType SLACK")? })
    }

    pub(super) async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        let body = serde_json::json!({ "text": failure.text() });
        match self.endpoint.post(self.endpoint.url.clone(), &body).await? {
            (200, _) => Ok(()),
            (status, text) => Err(format!("answered HTTP {status}: {}", excerpt(&text))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{failure, notifier};
    use zk_harness::HttpSink;

    #[tokio::test]
    async fn posts_the_text() {
        let sink = HttpSink::start();
        let url = sink.url("/services/T0/B0/x");
        notifier("SLACK", &[("slack.webhook", &url)]).send(&failure()).await.unwrap();
        let request = &sink.requests()[0];
        assert_eq!(request.target, "/services/T0/B0/x");
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body, serde_json::json!({ "text": failure().text() }));
    }
}
