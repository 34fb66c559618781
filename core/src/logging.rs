//! Core log events for hosts that have no `tracing` subscriber of their
//! own. A Node or C program cannot set one up, so without this module the
//! core's warnings (a lost ZooKeeper, a failed execution) would go nowhere.
//! [`forward_to`] installs one subscriber per process, filtered by the
//! `ELASTICJOB_LOG` environment variable, that renders each event as a
//! [`LogRecord`] and hands it to a sink the binding chooses: stderr by
//! default ([`stderr`]), the user's logger or callback when asked. Bindings
//! only translate records into their language; the rendering lives here,
//! including the rule that a multi-line value (a failed run's stack or
//! traceback) is printed as real lines under the record's line.

use crate::error::{Error, Result};
use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::EnvFilter;

/// The environment variable that sets the filter, in `EnvFilter` syntax
/// (`debug`, `elasticjob=debug,warn`, `off`). It is read once, when the
/// subscriber is installed.
pub const FILTER_ENV: &str = "ELASTICJOB_LOG";

/// The filter without `ELASTICJOB_LOG`: the scheduler at INFO, the
/// libraries under it at WARN (the SQL layer logs every statement at INFO).
pub const DEFAULT_FILTER: &str = "warn,elasticjob=info";

/// One log event, rendered as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// How severe it is.
    pub level: Level,
    /// Where it comes from: the Rust module path (`elasticjob::scheduler::runner`).
    pub target: String,
    /// The message.
    pub message: String,
    /// The event's one-line fields as ` name=value` pairs ("" if none).
    pub fields: String,
    /// The values of its multi-line fields, each as it is: a failed
    /// execution's `error` is the handler's error with its stack or
    /// traceback as real lines.
    pub details: Vec<String>,
}

impl LogRecord {
    /// The whole record as text: the message and its fields on the first
    /// line, then each multi-line value on lines of its own, as a stack is
    /// printed under the line that reports it.
    pub fn text(&self) -> String {
        let mut text = format!("{}{}", self.message, self.fields);
        for detail in &self.details {
            text.push('\n');
            text.push_str(detail);
        }
        text
    }

    /// The record as the default output prints it: UTC time, level, target, text.
    pub fn line(&self) -> String {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        format!("{time} {:>5} {}: {}", self.level, self.target, self.text())
    }
}

/// Where records go.
type Sink = Box<dyn Fn(&LogRecord) + Send + Sync>;

/// The current sink. Records are delivered under the read lock, so once
/// [`forward_to`] has swapped the sink, the old one is never called again
/// (a C program may free its callback's data then).
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Whether the process's global subscriber is ours (`Err`: why not).
static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while this thread runs the sink: an event the sink itself causes
    /// is dropped instead of taking the lock again.
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

/// Sends the core's log records to `sink` from now on; the first call
/// installs the forwarding subscriber for the whole process. The sink runs
/// on whichever thread logs (often a runtime thread), so it should be quick
/// and must not log through `tracing` itself. Fails, leaving everything
/// as it was, when the process already has another global subscriber
/// (which keeps receiving the core's events).
pub fn forward_to(sink: impl Fn(&LogRecord) + Send + Sync + 'static) -> Result<()> {
    let previous = SINK.write().unwrap_or_else(|p| p.into_inner()).replace(Box::new(sink));
    match INSTALLED.get_or_init(install) {
        Ok(()) => Ok(()),
        Err(why) => {
            *SINK.write().unwrap_or_else(|p| p.into_inner()) = previous;
            Err(Error::IllegalState(why.clone()))
        }
    }
}

/// The default sink: one line per record on stderr (several lines for a
/// stack), written at once so records of different threads never mix.
pub fn stderr(record: &LogRecord) {
    let mut text = record.line();
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn install() -> std::result::Result<(), String> {
    let configured = std::env::var(FILTER_ENV).ok().filter(|v| !v.trim().is_empty());
    let (filter, rejected) = match configured.as_deref().map(EnvFilter::try_new) {
        Some(Ok(filter)) => (filter, None),
        Some(Err(e)) => (EnvFilter::new(DEFAULT_FILTER), Some(e)),
        None => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let subscriber = tracing_subscriber::registry().with(Forward(deliver).with_filter(filter));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| "another tracing subscriber is installed in this process; it receives the core's logs".to_string())?;
    if let (Some(value), Some(e)) = (configured, rejected) {
        tracing::warn!("{FILTER_ENV} `{value}` is not a valid filter ({e}); using `{DEFAULT_FILTER}`");
    }
    Ok(())
}

fn deliver(record: &LogRecord) {
    if DELIVERING.with(|d| d.replace(true)) {
        return;
    }
    if let Some(sink) = SINK.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        sink(record);
    }
    DELIVERING.with(|d| d.set(false));
}

/// The layer: renders each event it is let through and passes it on.
struct Forward<F>(F);

impl<S: Subscriber, F: Fn(&LogRecord) + 'static> Layer<S> for Forward<F> {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        (self.0)(&LogRecord {
            level: *metadata.level(),
            target: metadata.target().to_string(),
            message: fields.message,
            fields: fields.rest,
            details: fields.details,
        });
    }
}

/// Collects an event's `message`, its one-line fields and its multi-line values.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    details: Vec<String>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else if value.contains('\n') {
            self.details.push(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // A `format_args!` message, or a `%value` field, renders through
        // Debug as its plain text.
        self.add(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn record(message: &str, fields: &str, details: &[&str]) -> LogRecord {
        LogRecord {
            level: Level::ERROR,
            target: "elasticjob::t".into(),
            message: message.into(),
            fields: fields.into(),
            details: details.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn multi_line_values_follow_the_line_of_the_message_and_fields() {
        assert_eq!(record("plain", " job=a", &[]).text(), "plain job=a");
        let stack = "Error: x\n    at f (a.js:1:1)";
        assert_eq!(record("job execution failed", " job=a item=0", &[stack]).text(), format!("job execution failed job=a item=0\n{stack}"));
        assert!(record("m", "", &[]).line().ends_with("ERROR elasticjob::t: m"));
    }

    #[test]
    fn events_render_their_message_and_fields_as_text() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let layer = Forward(move |r: &LogRecord| sink.lock().unwrap().push(r.clone()));
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(EnvFilter::new(DEFAULT_FILTER)));
        tracing::subscriber::with_default(subscriber, || {
            let stack = "Error: boom\n    at handler (job.js:3:9)";
            tracing::error!(job = %"orders", item = 2, error = %stack, "job execution failed");
            tracing::debug!("filtered out at the default level");
            tracing::info!(target: "sqlx::query", "filtered out: a library below WARN");
        });
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].level, Level::ERROR);
        assert_eq!(seen[0].target, module_path!());
        assert_eq!(seen[0].message, "job execution failed");
        assert_eq!(seen[0].fields, " job=orders item=2");
        assert_eq!(seen[0].details, ["Error: boom\n    at handler (job.js:3:9)"]);
    }

    #[test]
    fn the_process_subscriber_forwards_to_the_latest_sink() {
        let first = Arc::new(Mutex::new(Vec::new()));
        let second = Arc::new(Mutex::new(Vec::new()));
        let sink = first.clone();
        forward_to(move |r| sink.lock().unwrap().push(r.message.clone())).expect("no other subscriber in core's tests");
        tracing::warn!("to the first sink");
        let sink = second.clone();
        forward_to(move |r| sink.lock().unwrap().push(r.message.clone())).unwrap();
        tracing::warn!("to the second sink");
        assert!(first.lock().unwrap().iter().any(|m| m == "to the first sink"));
        assert!(!first.lock().unwrap().iter().any(|m| m == "to the second sink"));
        assert!(second.lock().unwrap().iter().any(|m| m == "to the second sink"));
    }
}
