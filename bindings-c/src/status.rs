//! Status codes, the thread-local last error, and the guard that keeps
//! panics and bad pointers on our side of the boundary.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

/// What a call did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ej_status {
    /// Success.
    EJ_OK = 0,
    /// A null pointer, invalid UTF-8 or an invalid value (the message names it).
    EJ_INVALID_ARGUMENT = 1,
    /// The registry (ZooKeeper) failed or could not be reached.
    EJ_REGISTRY_ERROR = 2,
    /// The object is not in a state that allows the call (e.g. started twice).
    EJ_ILLEGAL_STATE = 3,
    /// An internal error; the library caught it and stays usable.
    EJ_INTERNAL_ERROR = 4,
}

/// A short description of a status, e.g. "registry error" for
/// `EJ_REGISTRY_ERROR` (static; do not free). Takes an `int`, so a value
/// outside the enum is answered ("unknown status") rather than trusted.
#[no_mangle]
pub extern "C" fn ej_status_str(status: c_int) -> *const c_char {
    let text: &'static CStr = match status {
        0 => c"ok",
        1 => c"invalid argument",
        2 => c"registry error",
        3 => c"illegal state",
        4 => c"internal error",
        _ => c"unknown status",
    };
    text.as_ptr()
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static FAILURE_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The message of the last failed call on this thread ("" if none). Valid
/// until the next failing call on the same thread; do not free it.
#[no_mangle]
pub extern "C" fn ej_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Inside an execute/fetch/process/sharding callback: the message to report with the
/// non-zero return value (copied). Ignored outside a callback.
///
/// # Safety
/// `message` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ej_set_failure_message(message: *const c_char) {
    if message.is_null() {
        return;
    }
    let text = CStr::from_ptr(message).to_string_lossy().into_owned();
    FAILURE_MESSAGE.with(|m| *m.borrow_mut() = Some(text));
}

/// Takes the message a callback left on this thread.
pub(crate) fn take_failure_message() -> Option<String> {
    FAILURE_MESSAGE.with(|m| m.borrow_mut().take())
}

pub(crate) fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// A failure to report: its status and message.
pub(crate) struct Failure(pub ej_status, pub String);

impl From<elasticjob::Error> for Failure {
    fn from(error: elasticjob::Error) -> Self {
        use elasticjob::Error::*;
        let status = match &error {
            InvalidConfig { .. } => ej_status::EJ_INVALID_ARGUMENT,
            IllegalState(_) => ej_status::EJ_ILLEGAL_STATE,
            Handler(_) => ej_status::EJ_INTERNAL_ERROR,
            _ => ej_status::EJ_REGISTRY_ERROR,
        };
        Failure(status, error.to_string())
    }
}

/// Runs an exported function's body: maps failures and panics to a status
/// and the last-error message. Every call through here also makes sure the
/// core's logs reach stderr until the program sets a log callback, so no C
/// program starts without logs.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> ej_status {
    // After a caught panic the objects involved are still memory-safe to use
    // (the core keeps no half-updated shared state behind a panic), so
    // asserting unwind safety here is sound.
    let body = || {
        crate::log::default_to_stderr();
        body()
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => ej_status::EJ_OK,
        Ok(Err(Failure(status, message))) => {
            set_last_error(&message);
            status
        }
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error: {text}"));
            ej_status::EJ_INTERNAL_ERROR
        }
    }
}

/// The boundary of an export that returns a value rather than a status: a
/// failure leaves its message for `ej_last_error()` and yields `on_failure`,
/// and so does a panic.
pub(crate) fn guard_value<T>(on_failure: T, body: impl FnOnce() -> Result<T, Failure>) -> T {
    let mut value = None;
    let status = guard(|| {
        value = Some(body()?);
        Ok(())
    });
    match (status, value) {
        (ej_status::EJ_OK, Some(value)) => value,
        _ => on_failure,
    }
}

pub(crate) fn invalid(what: &str, why: &str) -> Failure {
    Failure(ej_status::EJ_INVALID_ARGUMENT, format!("invalid {what}: {why}"))
}

/// A required string argument.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(invalid(name, "must not be NULL"));
    }
    CStr::from_ptr(ptr).to_str().map_err(|_| invalid(name, "is not valid UTF-8"))
}

/// An optional string argument (NULL = none).
///
/// # Safety
/// `ptr` is null or a NUL-terminated string.
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        text(ptr, name).map(Some)
    }
}

/// A required object argument.
///
/// # Safety
/// `ptr` is null or points to a live object of type `T`.
pub(crate) unsafe fn object<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    ptr.as_ref().ok_or_else(|| invalid(name, "must not be NULL"))
}

/// Stores a new object in an out-pointer.
///
/// # Safety
/// `out` is null or writable.
pub(crate) unsafe fn put<T>(out: *mut *mut T, value: T, name: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(invalid(name, "must not be NULL"));
    }
    *out = Box::into_raw(Box::new(value));
    Ok(())
}

/// Frees a string returned by the library (NULL is fine).
///
/// # Safety
/// `s` is null or was returned by this library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ej_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s));
    }
}
