//! User-supplied sharding strategies: ElasticJob's `JobShardingStrategy`
//! SPI for every language. A strategy is registered under a name on the
//! scheduler builder and chosen, as in Java, by `jobShardingStrategyType`
//! equal to that name, so the configuration stays ElasticJob's.
//!
//! Only the leader runs a strategy, and its answer is *checked before it is
//! written*: every item exactly once, only instances it was given. A wrong
//! answer, an error, a panic, a hang or a strategy this instance does not
//! have refuses the resharding (the flag stays up and the old assignment in
//! the registry stays untouched) and is reported; a guessed assignment would
//! hide the bug and could hand one item to two owners' logic.

use super::strategy::{self, ShardingAlgorithm};
use crate::error::{Error, Result};
use crate::job::HandlerError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Instance id → items.
pub type Assignment = BTreeMap<String, Vec<u32>>;

/// How long the leader waits for a user strategy before it gives up on this
/// resharding (a strategy should be a quick computation; it runs on a
/// blocking thread, or the JS thread for Node, and must not stall the leader).
pub const STRATEGY_TIMEOUT: Duration = Duration::from_secs(30);

/// Decides which instance owns which item, given the live instances in the
/// order Java ElasticJob lists them, `shardingTotalCount` and the job name.
/// Instances left out of the answer get no items. Called on a blocking
/// thread, only on the leader, once per resharding.
pub trait ShardingStrategy: Send + Sync + 'static {
    /// The assignment, or why there is none.
    fn sharding(&self, instances: &[String], total: u32, job_name: &str) -> Result<Assignment, HandlerError>;
}

impl<F> ShardingStrategy for F
where
    F: Fn(&[String], u32, &str) -> Result<Assignment, HandlerError> + Send + Sync + 'static,
{
    fn sharding(&self, instances: &[String], total: u32, job_name: &str) -> Result<Assignment, HandlerError> {
        self(instances, total, job_name)
    }
}

/// The strategy a resharding uses: a built-in one or a registered one.
#[derive(Clone)]
pub enum Strategy {
    /// One of ElasticJob's own algorithms.
    BuiltIn(ShardingAlgorithm),
    /// A user's strategy, with the name it was registered under.
    Custom {
        /// The `jobShardingStrategyType` that selects it.
        name: String,
        /// The strategy.
        strategy: Arc<dyn ShardingStrategy>,
    },
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Strategy::BuiltIn(algorithm) => write!(f, "BuiltIn({})", algorithm.type_name()),
            Strategy::Custom { name, .. } => write!(f, "Custom({name})"),
        }
    }
}

impl Strategy {
    /// Computes and checks the assignment of items `0..total` to `instances`.
    pub async fn assign(&self, job_name: &str, instances: &[String], total: u32) -> Result<Assignment> {
        self.assign_within(job_name, instances, total, STRATEGY_TIMEOUT).await
    }

    /// [`Strategy::assign`], giving a user strategy at most `timeout`.
    async fn assign_within(&self, job_name: &str, instances: &[String], total: u32, timeout: Duration) -> Result<Assignment> {
        match self {
            Strategy::BuiltIn(algorithm) => {
                let now = chrono::Utc::now().timestamp_millis();
                Ok(strategy::assign(*algorithm, job_name, instances, total, now))
            }
            Strategy::Custom { name, strategy } => {
                let refused = |reason: String| Error::ShardingStrategy { name: name.clone(), reason };
                let call = {
                    let (strategy, instances, job_name) = (strategy.clone(), instances.to_vec(), job_name.to_string());
                    tokio::task::spawn_blocking(move || strategy.sharding(&instances, total, &job_name))
                };
                let answer = match tokio::time::timeout(timeout, call).await {
                    Err(_) => return Err(refused(format!("did not return within {} ms", timeout.as_millis()))),
                    Ok(Err(join)) => return Err(refused(format!("panicked: {}", crate::runtime::panic_text(join)))),
                    Ok(Ok(Err(e))) => return Err(refused(format!("failed: {e}"))),
                    Ok(Ok(Ok(assignment))) => assignment,
                };
                check(instances, total, answer).map_err(refused)
            }
        }
    }
}

/// The registered strategies of one scheduler, by name.
#[derive(Clone, Default)]
pub struct Strategies(BTreeMap<String, Arc<dyn ShardingStrategy>>);

impl Strategies {
    /// Registers `strategy` under `name`; a built-in name may not be taken.
    pub fn register(&mut self, name: &str, strategy: Arc<dyn ShardingStrategy>) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || ShardingAlgorithm::from_type_name(name).is_some() {
            return Err(Error::invalid(
                "jobShardingStrategyType",
                name,
                "cannot name a user strategy: it is empty or a built-in strategy's name",
            ));
        }
        self.0.insert(name.to_string(), strategy);
        Ok(())
    }

    /// The strategy `jobShardingStrategyType` selects (empty: the default).
    pub fn resolve(&self, type_name: &str) -> Result<Strategy> {
        let type_name = type_name.trim();
        if let Some(algorithm) = ShardingAlgorithm::from_type_name(type_name) {
            return Ok(Strategy::BuiltIn(algorithm));
        }
        match self.0.get(type_name) {
            Some(strategy) => Ok(Strategy::Custom { name: type_name.to_string(), strategy: strategy.clone() }),
            None => Err(Error::ShardingStrategy {
                name: type_name.to_string(),
                reason: format!(
                    "is neither built in ({}) nor registered in this instance (register it in every instance that may lead)",
                    ShardingAlgorithm::ALL.map(ShardingAlgorithm::type_name).join(", ")
                ),
            }),
        }
    }
}

/// A user's answer, checked: every item of `0..total` exactly once, only
/// given instances. Returns it with every instance as a key and items sorted.
pub fn check(instances: &[String], total: u32, answer: Assignment) -> std::result::Result<Assignment, String> {
    let mut owner_of: BTreeMap<u32, &str> = BTreeMap::new();
    for (instance, items) in &answer {
        if !instances.contains(instance) {
            return Err(format!("gave items {items:?} to `{instance}`, which is not among the instances it was given {instances:?}"));
        }
        for &item in items {
            if item >= total {
                return Err(format!("gave item {item} to `{instance}`, but shardingTotalCount is {total}"));
            }
            if let Some(first) = owner_of.insert(item, instance) {
                return Err(format!("gave item {item} twice (to `{first}` and `{instance}`)"));
            }
        }
    }
    let missing: Vec<u32> = (0..total).filter(|item| !owner_of.contains_key(item)).collect();
    if !missing.is_empty() {
        return Err(format!("left items {missing:?} without an instance"));
    }
    let mut checked: Assignment = instances.iter().map(|id| (id.clone(), Vec::new())).collect();
    for (instance, mut items) in answer {
        items.sort_unstable();
        checked.insert(instance, items);
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn answer(pairs: &[(&str, &[u32])]) -> Assignment {
        pairs.iter().map(|(id, items)| (id.to_string(), items.to_vec())).collect()
    }

    fn custom(f: impl Fn(&[String], u32, &str) -> Result<Assignment, HandlerError> + Send + Sync + 'static) -> Strategy {
        let mut strategies = Strategies::default();
        strategies.register("MINE", Arc::new(f)).unwrap();
        strategies.resolve("MINE").unwrap()
    }

    #[test]
    fn a_valid_answer_is_completed_with_idle_instances_and_sorted() {
        let instances = ids(&["a", "b", "c"]);
        let checked = check(&instances, 3, answer(&[("a", &[2, 0]), ("b", &[1])])).unwrap();
        assert_eq!(checked, answer(&[("a", &[0, 2]), ("b", &[1]), ("c", &[])]));
    }

    #[test]
    fn wrong_answers_say_what_is_wrong() {
        let instances = ids(&["a", "b"]);
        let cases: Vec<(Assignment, &str)> = vec![
            (answer(&[("a", &[0]), ("b", &[0, 1])]), "item 0 twice (to `a` and `b`)"),
            (answer(&[("a", &[0])]), "left items [1] without an instance"),
            (answer(&[("a", &[0, 1, 2])]), "item 2 to `a`, but shardingTotalCount is 2"),
            (answer(&[("a", &[0]), ("ghost", &[1])]), "to `ghost`, which is not among the instances"),
            (answer(&[("a", &[0, 0, 1])]), "item 0 twice"),
        ];
        for (bad, expected) in cases {
            let message = check(&instances, 2, bad).unwrap_err();
            assert!(message.contains(expected), "expected `{expected}` in: {message}");
        }
    }

    #[tokio::test]
    async fn a_registered_strategy_decides_and_is_checked() {
        let strategy = custom(|instances: &[String], total: u32, job_name: &str| {
            assert_eq!(job_name, "job");
            Ok(BTreeMap::from([(instances.last().unwrap().clone(), (0..total).collect())]))
        });
        let assignment = strategy.assign("job", &ids(&["a", "b"]), 3).await.unwrap();
        assert_eq!(assignment, answer(&[("a", &[]), ("b", &[0, 1, 2])]));

        let wrong = custom(|_: &[String], _: u32, _: &str| Ok(answer(&[("a", &[0])])));
        let message = wrong.assign("job", &ids(&["a", "b"]), 2).await.unwrap_err().to_string();
        assert!(message.contains("`MINE`") && message.contains("left items [1]"), "{message}");

        let failing = custom(|_: &[String], _: u32, _: &str| Err("no capacity data".into()));
        let message = failing.assign("job", &ids(&["a"]), 1).await.unwrap_err().to_string();
        assert!(message.contains("`MINE`") && message.contains("failed: no capacity data"), "{message}");

        let panicking = custom(|_: &[String], _: u32, _: &str| panic!("boom"));
        let message = panicking.assign("job", &ids(&["a"]), 1).await.unwrap_err().to_string();
        assert!(message.contains("`MINE`") && message.contains("panicked: boom"), "{message}");

        let hanging = custom(|_: &[String], _: u32, _: &str| {
            std::thread::sleep(Duration::from_millis(500));
            Ok(Assignment::new())
        });
        let message = hanging.assign_within("job", &ids(&["a"]), 1, Duration::from_millis(50)).await.unwrap_err().to_string();
        assert!(message.contains("`MINE`") && message.contains("did not return within 50 ms"), "{message}");
    }

    #[test]
    fn names_resolve_to_built_ins_or_registered_strategies() {
        let mut strategies = Strategies::default();
        assert!(matches!(strategies.resolve("").unwrap(), Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation)));
        assert!(matches!(
            strategies.resolve("SINGLE_SHARDING_BALANCE").unwrap(),
            Strategy::BuiltIn(ShardingAlgorithm::SingleShardingBalance)
        ));
        let message = strategies.resolve("MINE").unwrap_err().to_string();
        assert!(message.contains("`MINE`") && message.contains("nor registered in this instance"), "{message}");
        let noop = |_: &[String], _: u32, _: &str| Ok(Assignment::new());
        let message = strategies.register("ROUND_ROBIN", Arc::new(noop)).unwrap_err().to_string();
        assert!(message.contains("jobShardingStrategyType") && message.contains("ROUND_ROBIN"), "{message}");
        assert!(strategies.register(" ", Arc::new(noop)).is_err());
        strategies.register("MINE", Arc::new(noop)).unwrap();
        assert!(matches!(strategies.resolve("MINE").unwrap(), Strategy::Custom { name, .. } if name == "MINE"));
    }
}
