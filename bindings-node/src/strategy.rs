//! A JavaScript function as a sharding strategy. The core calls it on a
//! blocking thread (leader only); JS code may only run on the JS thread, so
//! the call goes through a thread-safe function and this thread waits for
//! its answer, never longer than the core's strategy timeout. The function
//! may return the assignment or a Promise of it.

use elasticjob::sharding::custom::STRATEGY_TIMEOUT;
use elasticjob::{Assignment, HandlerError, ShardingStrategy};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use serde::Deserialize;
use std::sync::{Arc, Mutex};

/// One strategy call into JavaScript.
#[napi(object)]
pub struct JsStrategyCall {
    /// The registered name (`jobShardingStrategyType`).
    pub name: String,
    /// Live instances, in ElasticJob's order.
    pub instances: Vec<String>,
    /// `shardingTotalCount`.
    pub total: u32,
    /// The job's name.
    pub job_name: String,
}

/// What the JS side answers (JSON): the assignment, or an error with its stack.
#[derive(Deserialize)]
struct JsStrategyAnswer {
    assignment: Option<serde_json::Value>,
    error: Option<String>,
}

pub(crate) type StrategyFunction = ThreadsafeFunction<JsStrategyCall, Promise<String>, JsStrategyCall, Status, false>;
/// Emptied at shutdown, so the function no longer keeps the process alive.
pub(crate) type StrategySlot = Arc<Mutex<Option<Arc<StrategyFunction>>>>;

/// The strategy registered under `name`, answered by the JS dispatcher.
pub(crate) struct JsStrategy {
    pub(crate) name: String,
    pub(crate) slot: StrategySlot,
}

impl ShardingStrategy for JsStrategy {
    fn sharding(&self, instances: &[String], total: u32, job_name: &str) -> Result<Assignment, HandlerError> {
        let function = self.slot.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or("the scheduler was shut down")?;
        let call = JsStrategyCall { name: self.name.clone(), instances: instances.to_vec(), total, job_name: job_name.to_string() };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let status = function.call_with_return_value(call, ThreadsafeFunctionCallMode::NonBlocking, move |answer, _| {
            let _ = sender.send(answer);
            Ok(())
        });
        if status != Status::Ok {
            return Err(format!("calling it failed: {status}").into());
        }
        let answer = async {
            let promise = receiver.await.map_err(|_| "the call was dropped".to_string())?.map_err(|e| e.to_string())?;
            promise.await.map_err(|e| e.to_string())
        };
        // A blocking thread of the runtime: it may wait on a future.
        let answer = tokio::runtime::Handle::current()
            .block_on(async { tokio::time::timeout(STRATEGY_TIMEOUT, answer).await })
            .map_err(|_| format!("did not answer within {} s", STRATEGY_TIMEOUT.as_secs()))??;
        let answer: JsStrategyAnswer = serde_json::from_str(&answer)?;
        if let Some(error) = answer.error {
            return Err(error.into());
        }
        let value = answer.assignment.unwrap_or_default();
        serde_json::from_value(value.clone())
            .map_err(|_| format!("returned {value}, not an object of instance id to an array of items").into())
    }
}
