//! `WEBHOOK` (ours, not ElasticJob's): POSTs each failure as a JSON object
//! (`jobName`, `item`, `fireTime`, `instanceId`, `failover`, `startedAt`,
//! `finishedAt`, `message`) to `webhook.url`, for any receiver that is not a
//! chat robot. A 5xx or 429 answer and a failed connection are retried
//! (`webhook.retries`, default 3) with doubling back-off from
//! `webhook.backoffMilliseconds` (default 500); any other non-2xx answer is
//! final.

use super::post::Endpoint;
use super::Failure;
use crate::error::Result;
use crate::http_job::excerpt;
use crate::props::Props;
use std::time::Duration;

/// `webhook.url`: where to POST (required).
pub const URL_PROP: &str = "webhook.url";
/// `webhook.retries`: how many times to try again after the first attempt.
pub const RETRIES_PROP: &str = "webhook.retries";
/// `webhook.backoffMilliseconds`: the wait before the first retry; doubles after each.
pub const BACKOFF_PROP: &str = "webhook.backoffMilliseconds";

/// The `WEBHOOK` notifier.
#[derive(Debug)]
pub struct Webhook {
    endpoint: Endpoint,
    retries: u32,
    backoff: Duration,
}

impl Webhook {
    pub(super) fn from_props(props: Props<'_>) -> Result<Self> {
        Ok(Webhook {
            endpoint: Endpoint::from_props(props, "webhook", URL_PROP, "for jobErrorHandlerType WEBHOOK")?,
            retries: props.count(RETRIES_PROP, 3)?,
            backoff: props.millis(BACKOFF_PROP, 500)?,
        })
    }

    pub(super) async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        let body = failure.json();
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            let why = match self.endpoint.post(self.endpoint.url.clone(), &body).await {
                Ok((status, _)) if (200..300).contains(&status) => return Ok(()),
                Ok((status, text)) if status >= 500 || status == 429 => format!("answered HTTP {status}: {}", excerpt(&text)),
                Ok((status, text)) => return Err(format!("answered HTTP {status}: {}", excerpt(&text))),
                Err(why) => why,
            };
            if attempt == self.retries {
                return Err(format!("{why} (after {} attempts)", attempt + 1));
            }
            attempt += 1;
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{failure, notifier};
    use zk_harness::{HttpSink, Reply};

    #[tokio::test]
    async fn posts_the_failure_as_json_and_retries_on_5xx() {
        let sink = HttpSink::start();
        sink.script([Reply::new(500, "busy"), Reply::new(503, "busy")]);
        let url = sink.url("/hooks/failures");
        let notifier = notifier("WEBHOOK", &[("webhook.url", &url), ("webhook.backoffMilliseconds", "10")]);
        notifier.send(&failure()).await.unwrap();
        let requests = sink.requests();
        assert_eq!(requests.len(), 3, "two 5xx answers, then a success");
        for request in &requests {
            assert_eq!((request.method.as_str(), request.target.as_str()), ("POST", "/hooks/failures"));
            assert_eq!(request.header("content-type"), Some("application/json"));
            let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
            assert_eq!(body, failure().json());
        }
    }

    #[tokio::test]
    async fn gives_up_after_its_retries_and_does_not_retry_a_4xx() {
        let sink = HttpSink::answering(Reply::new(502, "down"));
        let url = sink.url("/");
        let retrying =
            notifier("WEBHOOK", &[("webhook.url", &url), ("webhook.retries", "2"), ("webhook.backoffMilliseconds", "5")]);
        let err = retrying.send(&failure()).await.unwrap_err();
        assert!(err.contains("502") && err.contains("after 3 attempts"), "{err}");
        assert_eq!(sink.requests().len(), 3);

        let refusing = HttpSink::answering(Reply::new(403, "forbidden"));
        let url = refusing.url("/");
        let err = notifier("WEBHOOK", &[("webhook.url", &url)]).send(&failure()).await.unwrap_err();
        assert!(err.contains("403") && err.contains("forbidden"), "{err}");
        assert_eq!(refusing.requests().len(), 1);
    }
}
