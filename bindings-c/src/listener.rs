//! `ej_listeners`: job listeners as C function pointers with `user_data`,
//! collected before a scheduler is built (pass them in
//! `ej_scheduler_options.listeners`). The calls themselves, their bounds and
//! error reporting are the core's; here a hook is one blocking C call.

use crate::scheduler::call_c;
use crate::status::*;
use elasticjob::{HandlerResult, OnceListener, ShardingContexts};
use std::ffi::{c_char, c_int, c_void, CString};

/// What a listener receives: this instance's part of one fire. Valid during
/// the call only.
#[repr(C)]
pub struct ej_sharding_contexts {
    /// `{jobName}@-@{items}@-@READY@-@{instanceId}`.
    pub task_id: *const c_char,
    /// The job's name.
    pub job_name: *const c_char,
    /// How many items the job has.
    pub sharding_total_count: u32,
    /// The job-wide parameter.
    pub job_parameter: *const c_char,
    /// This instance's items in the fire, ascending (`item_count` of them).
    pub items: *const u32,
    /// Each item's parameter ("" if none), in the order of `items`.
    pub item_parameters: *const *const c_char,
    /// How many items.
    pub item_count: usize,
    /// The fire, epoch milliseconds.
    pub fire_time: i64,
}

/// A listener hook; returns 0 on success, anything else is reported as an
/// error event (with `ej_set_failure_message`'s text) and never fails the job.
pub type ej_listener_fn = Option<unsafe extern "C" fn(contexts: *const ej_sharding_contexts, user_data: *mut c_void) -> c_int>;

/// Listeners to give a scheduler (opaque). Free with `ej_listeners_free`
/// (any time after the scheduler is built: it keeps its own copy).
#[derive(Default)]
pub struct ej_listeners {
    plain: Vec<CListener>,
    once: Vec<(CListener, i64, i64)>,
}

impl ej_listeners {
    /// Registers these listeners on a scheduler builder.
    pub(crate) fn register(&self, mut builder: elasticjob::JobSchedulerBuilder) -> Result<elasticjob::JobSchedulerBuilder, Failure> {
        for listener in &self.plain {
            builder = builder.listener(*listener);
        }
        for (listener, started, completed) in &self.once {
            builder = builder.once_listener(OnceListener::new(*listener, *started, *completed)?);
        }
        Ok(builder)
    }
}

/// A before/after pair of C hooks with their `user_data`.
#[derive(Clone, Copy)]
struct CListener {
    before: ej_listener_fn,
    after: ej_listener_fn,
    user_data: *mut c_void,
}

// The header documents that user_data is used from library threads.
unsafe impl Send for CListener {}
unsafe impl Sync for CListener {}

impl CListener {
    async fn call(&self, hook: ej_listener_fn, what: &'static str, contexts: &ShardingContexts) -> HandlerResult {
        let Some(hook) = hook else { return Ok(()) };
        let (contexts, listener) = (contexts.clone(), *self);
        call_c(what, move || {
            let text = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
            let (task_id, job_name, job_parameter) = (text(&contexts.task_id), text(&contexts.job_name), text(&contexts.job_parameter));
            let items: Vec<u32> = contexts.items();
            let parameters: Vec<CString> = contexts.sharding_item_parameters.values().map(|p| text(p)).collect();
            let parameter_pointers: Vec<*const c_char> = parameters.iter().map(|p| p.as_ptr()).collect();
            let c_contexts = ej_sharding_contexts {
                task_id: task_id.as_ptr(),
                job_name: job_name.as_ptr(),
                sharding_total_count: contexts.sharding_total_count,
                job_parameter: job_parameter.as_ptr(),
                items: items.as_ptr(),
                item_parameters: parameter_pointers.as_ptr(),
                item_count: items.len(),
                fire_time: contexts.fire_time,
            };
            let listener = listener;
            (unsafe { hook(&c_contexts, listener.user_data) }, ())
        })
        .await
    }
}

#[async_trait::async_trait]
impl elasticjob::JobListener for CListener {
    async fn before_job_executed(&self, contexts: &ShardingContexts) -> HandlerResult {
        self.call(self.before, "before_job_executed", contexts).await
    }

    async fn after_job_executed(&self, contexts: &ShardingContexts) -> HandlerResult {
        self.call(self.after, "after_job_executed", contexts).await
    }
}

#[async_trait::async_trait]
impl elasticjob::DistributeOnceJobListener for CListener {
    async fn before_at_last_started(&self, contexts: &ShardingContexts) -> HandlerResult {
        self.call(self.before, "do_before_job_executed_at_last_started", contexts).await
    }

    async fn after_at_last_completed(&self, contexts: &ShardingContexts) -> HandlerResult {
        self.call(self.after, "do_after_job_executed_at_last_completed", contexts).await
    }
}

/// An empty listener set.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_listeners_new(out: *mut *mut ej_listeners) -> ej_status {
    guard(|| put(out, ej_listeners::default(), "out"))
}

/// Adds an ElasticJob `ElasticJobListener`: `before` runs on this instance
/// before its first handler of a fire, `after` once its last one ended,
/// once each per fire with all of its items. Either may be NULL.
///
/// # Safety
/// `listeners` is live; `user_data` stays valid while a scheduler built with it lives.
#[no_mangle]
pub unsafe extern "C" fn ej_listeners_add(
    listeners: *mut ej_listeners,
    before: ej_listener_fn,
    after: ej_listener_fn,
    user_data: *mut c_void,
) -> ej_status {
    guard(|| {
        let listeners = listeners.as_mut().ok_or_else(|| invalid("listeners", "must not be NULL"))?;
        listeners.plain.push(CListener { before, after, user_data });
        Ok(())
    })
}

/// Adds the distributed-once listener (ElasticJob's
/// `AbstractDistributeOnceElasticJobListener`): `before` runs once per fire
/// across the cluster when every item started, `after` when every item
/// completed. Instances wait for the others at most the timeouts (positive;
/// checked when the scheduler is built, as is "one per job").
///
/// # Safety
/// As for `ej_listeners_add`.
#[no_mangle]
pub unsafe extern "C" fn ej_listeners_add_once(
    listeners: *mut ej_listeners,
    before: ej_listener_fn,
    after: ej_listener_fn,
    started_timeout_ms: i64,
    completed_timeout_ms: i64,
    user_data: *mut c_void,
) -> ej_status {
    guard(|| {
        let listeners = listeners.as_mut().ok_or_else(|| invalid("listeners", "must not be NULL"))?;
        listeners.once.push((CListener { before, after, user_data }, started_timeout_ms, completed_timeout_ms));
        Ok(())
    })
}

/// Frees a listener set (NULL is fine).
///
/// # Safety
/// `listeners` is null or from `ej_listeners_new` and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ej_listeners_free(listeners: *mut ej_listeners) {
    if !listeners.is_null() {
        drop(Box::from_raw(listeners));
    }
}
