//! The core's logs in Node: stderr by default (the core writes it, so a
//! blocked event loop does not hold logs back), or a JS function that
//! `index.js` points at the user's logger. Which records: `ELASTICJOB_LOG`.

use crate::to_js;
use napi::bindgen_prelude::Unknown;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Result, Status};
use napi_derive::napi;

/// One log record for JavaScript.
#[napi(object)]
pub struct JsLogRecord {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The Rust module it comes from (`elasticjob::scheduler::runner`).
    pub target: String,
    /// The message with its fields; a failed execution's carries the
    /// handler's stack as real lines.
    pub message: String,
}

/// Weak: a logger never keeps the process alive.
type LogFunction = ThreadsafeFunction<JsLogRecord, Unknown<'static>, JsLogRecord, Status, false, true>;

/// Sends the core's log records to `sink`, or to stderr when it is null.
#[napi]
pub fn set_log_sink(#[napi(ts_arg_type = "((record: JsLogRecord) => void) | null")] sink: Option<LogFunction>) -> Result<()> {
    let Some(sink) = sink else {
        return elasticjob::logging::forward_to(elasticjob::logging::stderr).map_err(to_js);
    };
    elasticjob::logging::forward_to(move |record| {
        let record = JsLogRecord {
            level: record.level.as_str().to_ascii_lowercase(),
            target: record.target.clone(),
            message: record.text(),
        };
        sink.call(record, ThreadsafeFunctionCallMode::NonBlocking);
    })
    .map_err(to_js)
}
