//! Error handlers: what happens when an item run fails, chosen by the job's
//! `jobErrorHandlerType` as in ElasticJob 3.x, and configured by its props.
//!
//! - `LOG` (the default) logs the failure; `IGNORE` does nothing;
//! - `THROW` logs the failure and hands it to the user: a
//!   [`JobEvent::Thrown`], which each binding raises in its own idiom (see
//!   the README);
//! - the notifiers `WEBHOOK`, `EMAIL`, `DINGTALK`, `WECHAT`, `FEISHU` and
//!   `SLACK` log the failure and send it out.
//!
//! Notifiers never hold up a fire: a failure is put on a bounded queue that
//! one task per scheduler works through, each delivery with timeouts. A
//! full queue drops the notification, and a delivery that fails is logged;
//! both are counted ([`NotificationStats`]) and neither ever fails a job.
//!
//! [`JobEvent::Thrown`]: crate::JobEvent::Thrown

mod dingtalk;
mod email;
mod feishu;
mod post;
mod slack;
mod webhook;
mod wechat;

use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::event::{Execution, Outcome};
use crate::props::Props;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// The job's `jobErrorHandlerType`, parsed with the props it needs.
#[derive(Debug, Clone)]
pub enum ErrorHandler {
    /// `LOG`: log the failure (the default).
    Log,
    /// `IGNORE`: do nothing.
    Ignore,
    /// `THROW`: hand the failure to the user as a `JobEvent::Thrown`.
    Throw,
    /// A notifier: log the failure and send it out.
    Notify(Arc<Notifier>),
}

/// Where a notifier sends failures.
#[derive(Debug)]
pub enum Notifier {
    /// `WEBHOOK`: our own JSON POST, with retries.
    Webhook(webhook::Webhook),
    /// `EMAIL`: a mail through an SMTP server.
    Email(email::Email),
    /// `DINGTALK`: a DingTalk robot.
    DingTalk(dingtalk::DingTalk),
    /// `WECHAT`: a WeCom (WeChat Work) group robot.
    WeChat(wechat::WeChat),
    /// `FEISHU`: a Feishu (Lark) custom bot.
    Feishu(feishu::Feishu),
    /// `SLACK`: a Slack incoming webhook.
    Slack(slack::Slack),
}

/// The error handler types, as `jobErrorHandlerType` spells them.
pub const HANDLER_TYPES: &str = "LOG, IGNORE, THROW, WEBHOOK, EMAIL, DINGTALK, WECHAT, FEISHU or SLACK";

impl ErrorHandler {
    /// The handler `config` asks for; errors name the field or prop and its value.
    pub fn from_config(config: &JobConfig) -> Result<Self> {
        let props = Props(&config.props);
        let kind = config.job_error_handler_type.as_deref().map(str::trim).unwrap_or_default();
        let notifier = match kind.to_ascii_uppercase().as_str() {
            "" | "LOG" => return Ok(ErrorHandler::Log),
            "IGNORE" => return Ok(ErrorHandler::Ignore),
            "THROW" => return Ok(ErrorHandler::Throw),
            "WEBHOOK" => Notifier::Webhook(webhook::Webhook::from_props(props)?),
            "EMAIL" => Notifier::Email(email::Email::from_props(props)?),
            "DINGTALK" => Notifier::DingTalk(dingtalk::DingTalk::from_props(props)?),
            "WECHAT" => Notifier::WeChat(wechat::WeChat::from_props(props)?),
            "FEISHU" => Notifier::Feishu(feishu::Feishu::from_props(props)?),
            "SLACK" => Notifier::Slack(slack::Slack::from_props(props)?),
            _ => return Err(Error::invalid("jobErrorHandlerType", kind, format!("must be {HANDLER_TYPES}"))),
        };
        Ok(ErrorHandler::Notify(Arc::new(notifier)))
    }

    /// Whether failures are logged: by every handler but `IGNORE` (a thrown
    /// failure nobody catches is still seen, as in Java, where the thrown
    /// exception is logged by the scheduler).
    pub fn logs(&self) -> bool {
        !matches!(self, ErrorHandler::Ignore)
    }
}

impl Notifier {
    /// The type name, as in `jobErrorHandlerType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Notifier::Webhook(_) => "WEBHOOK",
            Notifier::Email(_) => "EMAIL",
            Notifier::DingTalk(_) => "DINGTALK",
            Notifier::WeChat(_) => "WECHAT",
            Notifier::Feishu(_) => "FEISHU",
            Notifier::Slack(_) => "SLACK",
        }
    }

    /// Delivers one failure; the error says why it could not.
    pub async fn send(&self, failure: &Failure) -> std::result::Result<(), String> {
        match self {
            Notifier::Webhook(n) => n.send(failure).await,
            Notifier::Email(n) => n.send(failure).await,
            Notifier::DingTalk(n) => n.send(failure).await,
            Notifier::WeChat(n) => n.send(failure).await,
            Notifier::Feishu(n) => n.send(failure).await,
            Notifier::Slack(n) => n.send(failure).await,
        }
    }
}

/// One failed run, as notifiers tell it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Failure {
    /// The run.
    pub execution: Execution,
    /// Why it failed.
    pub message: String,
}

impl Failure {
    /// The failure of `execution`: `None` if it succeeded, or if the
    /// scheduler cancelled it (shutdown, session lost, item moved), which is
    /// no failure of the job.
    pub fn of(execution: &Execution) -> Option<Failure> {
        let message = match &execution.outcome {
            Outcome::Succeeded | Outcome::Cancelled(_) => return None,
            Outcome::Failed(message) => message.clone(),
            Outcome::TimedOut => "timed out".to_string(),
        };
        // What a script printed says more than its exit status.
        let message = match &execution.output {
            Some(output) => format!("{message}\n{output}"),
            None => message,
        };
        Some(Failure { execution: execution.clone(), message })
    }

    /// The failure in one paragraph, for chat messages and mails.
    pub fn text(&self) -> String {
        let e = &self.execution;
        let fire = chrono::DateTime::from_timestamp_millis(e.fire_time)
            .map_or_else(|| e.fire_time.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        format!(
            "Job '{}' item {} failed (fire time {fire}, instance {}{}): {}",
            e.job_name,
            e.item,
            e.instance_id,
            if e.failover { ", failover" } else { "" },
            self.message
        )
    }

    /// The failure as a JSON object (the `WEBHOOK` body).
    pub fn json(&self) -> serde_json::Value {
        let e = &self.execution;
        serde_json::json!({
            "jobName": e.job_name,
            "item": e.item,
            "fireTime": e.fire_time,
            "instanceId": e.instance_id,
            "failover": e.failover,
            "startedAt": e.started_at,
            "finishedAt": e.finished_at,
            "message": self.message,
        })
    }
}

/// How many notifications a scheduler has handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotificationStats {
    /// Delivered.
    pub sent: u64,
    /// Not delivered: the notifier failed or timed out (each one logged).
    pub failed: u64,
    /// Not even tried: the queue was full.
    pub dropped: u64,
}

/// How many failures may wait for delivery; beyond, new ones are dropped.
const QUEUE_CAPACITY: usize = 256;

/// The longest one delivery may take, retries included, whatever the
/// notifier's own timeouts say.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// A scheduler's outgoing notifications: the bounded queue and the task
/// that empties it, started with the first notification (so a scheduler
/// can be built outside a runtime). The task ends when this is dropped.
#[derive(Default)]
pub struct Notifications {
    queue: OnceLock<mpsc::Sender<(Arc<Notifier>, Failure)>>,
    counters: Arc<Counters>,
}

impl Notifications {
    /// Queues `failure` for `notifier`; never waits. Call within a Tokio runtime.
    pub fn submit(&self, notifier: Arc<Notifier>, failure: Failure) {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
            tokio::spawn(deliver(receiver, self.counters.clone()));
            sender
        });
        if let Err(e) = queue.try_send((notifier, failure)) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            let (notifier, failure) = e.into_inner();
            tracing::warn!(
                job = %failure.execution.job_name, item = failure.execution.item, notifier = notifier.type_name(),
                "error notification dropped: {QUEUE_CAPACITY} notifications are already waiting"
            );
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> NotificationStats {
        NotificationStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

async fn deliver(mut queue: mpsc::Receiver<(Arc<Notifier>, Failure)>, counters: Arc<Counters>) {
    while let Some((notifier, failure)) = queue.recv().await {
        let outcome = match tokio::time::timeout(DELIVERY_LIMIT, notifier.send(&failure)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("gave up after {} s", DELIVERY_LIMIT.as_secs())),
        };
        let e = &failure.execution;
        match outcome {
            Ok(()) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(job = %e.job_name, item = e.item, notifier = notifier.type_name(), "error notification sent");
            }
            Err(why) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(job = %e.job_name, item = e.item, notifier = notifier.type_name(), "error notification failed: {why}");
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A failed execution of item 3 of job `orders`.
    pub fn failure() -> Failure {
        let execution = Execution {
            job_name: "orders".into(),
            item: 3,
            fire_time: 1_700_000_000_000,
            instance_id: "127.0.0.1@-@42".into(),
            failover: false,
            fencing_token: 7,
            attempt: 1,
            started_at: 1_700_000_000_001,
            finished_at: 1_700_000_000_002,
            outcome: Outcome::Failed("disk full".into()),
            output: None,
        };
        Failure::of(&execution).unwrap()
    }

    pub fn config(kind: &str, props: &[(&str, &str)]) -> JobConfig {
        let mut config = JobConfig::new("orders", "0/5 * * * * ?", 4);
        config.job_error_handler_type = Some(kind.into());
        config.props = props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        config
    }

    pub fn notifier(kind: &str, props: &[(&str, &str)]) -> Arc<Notifier> {
        match ErrorHandler::from_config(&config(kind, props)).unwrap() {
            ErrorHandler::Notify(notifier) => notifier,
            other => panic!("{kind} is not a notifier: {other:?}"),
        }
    }

    #[test]
    fn handler_types_are_parsed_and_unknown_ones_named() {
        assert!(matches!(ErrorHandler::from_config(&config("", &[])).unwrap(), ErrorHandler::Log));
        assert!(matches!(ErrorHandler::from_config(&config("ignore", &[])).unwrap(), ErrorHandler::Ignore));
        assert!(matches!(ErrorHandler::from_config(&config("THROW", &[])).unwrap(), ErrorHandler::Throw));
        let err = ErrorHandler::from_config(&config("PIGEON", &[])).unwrap_err().to_string();
        assert!(err.contains("jobErrorHandlerType") && err.contains("PIGEON") && err.contains("SLACK"), "{err}");
        // A notifier without its address is refused, naming the prop.
        for (kind, key) in [
            ("WEBHOOK", "webhook.url"),
            ("DINGTALK", "dingtalk.webhook"),
            ("WECHAT", "wechat.webhook"),
            ("FEISHU", "feishu.webhook"),
            ("SLACK", "slack.webhook"),
            ("EMAIL", "email.host"),
        ] {
            let err = ErrorHandler::from_config(&config(kind, &[])).unwrap_err();
            assert!(matches!(&err, Error::InvalidConfig { field, .. } if field == key), "{kind}: {err:?}");
        }
    }

    #[test]
    fn a_failure_reads_well_in_text_and_json() {
        let failure = failure();
        let text = failure.text();
        assert!(text.contains("Job 'orders' item 3") && text.contains("2023-11-14T22:13:20.000Z") && text.ends_with("disk full"), "{text}");
        let json = failure.json();
        assert_eq!(json["jobName"], "orders");
        assert_eq!(json["item"], 3);
        assert_eq!(json["fireTime"], 1_700_000_000_000i64);
        assert_eq!(json["instanceId"], "127.0.0.1@-@42");
        assert_eq!(json["message"], "disk full");
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_and_a_dead_endpoint_is_counted_as_failed() {
        // Every delivery waits for a refused connection: the queue fills up.
        let url = format!("http://127.0.0.1:{}/", zk_harness::closed_port());
        let notifier = notifier("SLACK", &[("slack.webhook", &url)]);
        let notifications = Notifications::default();
        for _ in 0..QUEUE_CAPACITY + 10 {
            notifications.submit(notifier.clone(), failure());
        }
        let stats = notifications.stats();
        assert!(stats.dropped >= 9, "{stats:?}");
        for _ in 0..200 {
            let stats = notifications.stats();
            if stats.failed + stats.dropped == (QUEUE_CAPACITY + 10) as u64 {
                assert_eq!(stats.sent, 0);
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("not every notification was accounted for: {:?}", notifications.stats());
    }
}
