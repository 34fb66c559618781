//! Core log records reach Python's `logging` under the `elasticjob` logger.
//! Records are queued and forwarded by one thread, so no runtime thread
//! ever waits for the GIL.

use pyo3::prelude::*;
use std::fmt::Write as _;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{EnvFilter, Layer};

struct Record {
    level: u8,
    message: String,
}

struct ForwardToPython {
    queue: Mutex<Sender<Record>>,
}

/// One record's text: the message, then `name=value` fields; a value of
/// several lines (a failed run's traceback) follows on lines of its own,
/// as Python's logging prints an exception after its message.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
    blocks: Vec<String>,
}

impl Message {
    fn add(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.text = value;
        } else if value.contains('\n') {
            self.blocks.push(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn render(self) -> String {
        let mut text = self.text + &self.fields;
        for block in self.blocks {
            text.push('\n');
            text.push_str(&block);
        }
        text
    }
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.add(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, value.to_string());
    }
}

impl<S: tracing::Subscriber> Layer<S> for ForwardToPython {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => 40,
            tracing::Level::WARN => 30,
            tracing::Level::INFO => 20,
            tracing::Level::DEBUG => 10,
            tracing::Level::TRACE => 5,
        };
        let mut message = Message::default();
        event.record(&mut message);
        let _ = self.queue.lock().unwrap_or_else(|p| p.into_inner()).send(Record { level, message: message.render() });
    }
}

/// Installs the forwarding subscriber (once per process). `ELASTICJOB_LOG`
/// overrides the filter (default: the core at INFO, the ZooKeeper client at WARN).
pub fn install() {
    let (queue, inbox) = channel::<Record>();
    let filter = EnvFilter::try_from_env("ELASTICJOB_LOG")
        .unwrap_or_else(|_| EnvFilter::new("elasticjob=info,zookeeper_client=warn"));
    let subscriber = tracing_subscriber::registry().with(ForwardToPython { queue: Mutex::new(queue) }.with_filter(filter));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        return;
    }
    std::thread::Builder::new()
        .name("elasticjob-logging".into())
        .spawn(move || {
            for record in inbox {
                crate::exit::attach(|py| {
                    let forwarded = py
                        .import("logging")
                        .and_then(|logging| logging.call_method1("getLogger", ("elasticjob",)))
                        .and_then(|logger| logger.call_method1("log", (record.level, "%s", record.message)));
                    if let Err(e) = forwarded {
                        e.print(py);
                    }
                });
            }
        })
        .expect("logging thread");
}
