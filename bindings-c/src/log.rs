//! The core's logs for C programs: stderr by default (level from
//! `ELASTICJOB_LOG`), or a callback the program sets with
//! `ej_set_log_callback`. The core renders the records; this file only
//! hands them over as C strings.

use crate::status::*;
use std::ffi::{c_char, c_void, CString};
use std::sync::Once;
use tracing::Level;

/// How severe a log record is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ej_log_level {
    /// Something failed: a handler, a registry call that will not be retried.
    EJ_LOG_ERROR = 1,
    /// Something is wrong but handled: a lost connection, a refused setting.
    EJ_LOG_WARN = 2,
    /// Milestones: connected, leader elected, resharded.
    EJ_LOG_INFO = 3,
    /// Detail for diagnosis.
    EJ_LOG_DEBUG = 4,
    /// Everything.
    EJ_LOG_TRACE = 5,
}

impl From<Level> for ej_log_level {
    fn from(level: Level) -> Self {
        match level {
            Level::ERROR => ej_log_level::EJ_LOG_ERROR,
            Level::WARN => ej_log_level::EJ_LOG_WARN,
            Level::INFO => ej_log_level::EJ_LOG_INFO,
            Level::DEBUG => ej_log_level::EJ_LOG_DEBUG,
            Level::TRACE => ej_log_level::EJ_LOG_TRACE,
        }
    }
}

/// One log record. Strings are valid during the callback only.
#[repr(C)]
pub struct ej_log_record {
    /// How severe it is.
    pub level: ej_log_level,
    /// Where it comes from: the library module (`elasticjob::scheduler::runner`).
    pub target: *const c_char,
    /// The message and its fields (` job=orders item=2`); a failed
    /// execution's may span several lines (the handler's message).
    pub message: *const c_char,
}

/// Receives the library's log records (see `ej_set_log_callback`).
pub type ej_log_fn = Option<unsafe extern "C" fn(record: *const ej_log_record, user_data: *mut c_void)>;

/// The caller's `user_data`, handed back on library threads.
#[derive(Clone, Copy)]
struct LogData(*mut c_void);
// The header documents that the callback runs on library threads.
unsafe impl Send for LogData {}
unsafe impl Sync for LogData {}

/// Points the core's logs at stderr, once, unless a callback came first.
pub(crate) fn default_to_stderr() {
    static DEFAULT: Once = Once::new();
    DEFAULT.call_once(|| {
        // Another subscriber (a Rust host program's) keeps the logs: fine.
        let _ = elasticjob::logging::forward_to(elasticjob::logging::stderr);
    });
}

/// Sends the library's log records to `callback` (NULL: back to stderr,
/// the default). Which records: the `ELASTICJOB_LOG` environment variable,
/// read once at the first call into the library, in `tracing`'s filter
/// syntax (`debug`, `elasticjob=debug`, `off`; default
/// `warn,elasticjob=info`). The callback runs on library threads, possibly
/// several at once; it must be quick and must not call into the library.
/// Once this returns, the previous callback is never called again.
/// `EJ_ILLEGAL_STATE` when the process has another `tracing` subscriber
/// (a Rust host program's), which then keeps the records.
///
/// # Safety
/// `user_data` stays valid until another callback is set.
#[no_mangle]
pub unsafe extern "C" fn ej_set_log_callback(callback: ej_log_fn, user_data: *mut c_void) -> ej_status {
    guard(|| {
        let Some(callback) = callback else {
            return Ok(elasticjob::logging::forward_to(elasticjob::logging::stderr)?);
        };
        let data = LogData(user_data);
        elasticjob::logging::forward_to(move |record| {
            let data = data;
            let target = CString::new(record.target.replace('\0', " ")).unwrap_or_default();
            let message = CString::new(record.text().replace('\0', " ")).unwrap_or_default();
            let c_record = ej_log_record { level: record.level.into(), target: target.as_ptr(), message: message.as_ptr() };
            unsafe { callback(&c_record, data.0) };
        })?;
        Ok(())
    })
}
