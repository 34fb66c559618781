//! `ej_sharding_strategy`: a C function as a sharding strategy. The answer
//! is an array the library owns: for each item, the index of its owner in
//! the instance list. No allocation crosses the boundary, and an item can
//! have only one owner by construction; the core checks the rest.

use crate::status::{invalid, take_failure_message, text, Failure};
use elasticjob::{Assignment, HandlerError, ShardingStrategy};
use std::ffi::{c_char, c_int, c_void, CString};

/// Decides who owns which item. `instances` holds `instance_count` ids (in
/// ElasticJob's order), valid during the call only. `owners` has `total`
/// entries, all -1 on entry: set `owners[item]` to the index in `instances`
/// of the item's owner. Return 0 on success; anything else fails the
/// resharding (see `ej_set_failure_message`). Called only on the leader, on
/// a library worker thread.
pub type ej_sharding_fn = Option<
    unsafe extern "C" fn(
        instances: *const *const c_char,
        instance_count: usize,
        total: u32,
        job_name: *const c_char,
        owners: *mut i32,
        user_data: *mut c_void,
    ) -> c_int,
>;

/// A strategy to register: a job whose `jobShardingStrategyType` equals
/// `name` is sharded by `sharding`. `name` is copied; `user_data` must stay
/// valid until the scheduler is freed (no call is under way once
/// `ej_scheduler_shutdown` or `ej_scheduler_free` returns) and be safe to
/// use from any thread.
#[repr(C)]
pub struct ej_sharding_strategy {
    /// The `jobShardingStrategyType` that selects it.
    pub name: *const c_char,
    /// The function.
    pub sharding: ej_sharding_fn,
    /// Handed back to `sharding`.
    pub user_data: *mut c_void,
}

/// A registered C strategy.
pub(crate) struct CStrategy {
    sharding: unsafe extern "C" fn(*const *const c_char, usize, u32, *const c_char, *mut i32, *mut c_void) -> c_int,
    user_data: *mut c_void,
}

// The header documents that user_data is used from library threads.
unsafe impl Send for CStrategy {}
unsafe impl Sync for CStrategy {}

/// Reads `count` strategies from `strategies` (NULL if `count` is 0).
///
/// # Safety
/// `strategies` is null or points to `count` entries with live names.
pub(crate) unsafe fn strategies(strategies: *const ej_sharding_strategy, count: usize) -> Result<Vec<(String, CStrategy)>, Failure> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if strategies.is_null() {
        return Err(invalid("options.sharding_strategies", "must not be NULL when sharding_strategy_count is not 0"));
    }
    std::slice::from_raw_parts(strategies, count)
        .iter()
        .map(|s| {
            let name = text(s.name, "ej_sharding_strategy.name")?.to_string();
            let sharding = s.sharding.ok_or_else(|| invalid("ej_sharding_strategy.sharding", "must not be NULL"))?;
            Ok((name, CStrategy { sharding, user_data: s.user_data }))
        })
        .collect()
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl ShardingStrategy for CStrategy {
    fn sharding(&self, instances: &[String], total: u32, job_name: &str) -> Result<Assignment, HandlerError> {
        let ids: Vec<CString> = instances.iter().map(|id| c_string(id)).collect();
        let pointers: Vec<*const c_char> = ids.iter().map(|id| id.as_ptr()).collect();
        let job_name = c_string(job_name);
        let mut owners = vec![-1i32; total as usize];
        take_failure_message();
        let code = unsafe {
            (self.sharding)(pointers.as_ptr(), pointers.len(), total, job_name.as_ptr(), owners.as_mut_ptr(), self.user_data)
        };
        let message = take_failure_message();
        if code != 0 {
            return Err(message.unwrap_or_else(|| format!("returned {code}")).into());
        }
        let mut assignment = Assignment::new();
        for (item, &owner) in owners.iter().enumerate() {
            if owner < 0 {
                continue; // reported by the core's check, with every such item
            }
            let id = instances.get(owner as usize).ok_or_else(|| {
                format!("gave item {item} to instance index {owner}, but there are {} instances", instances.len())
            })?;
            assignment.entry(id.clone()).or_default().push(item as u32);
        }
        Ok(assignment)
    }
}
