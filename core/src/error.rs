//! The one error type of the crate. Bindings convert it to their language's
//! own error type and keep its message.

/// Everything that can go wrong in the scheduler core.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field holds a value that is not allowed.
    #[error("invalid {field} `{value}`: {reason}")]
    InvalidConfig {
        /// The field name as ElasticJob spells it (e.g. `shardingTotalCount`).
        field: String,
        /// The offending value as the user gave it.
        value: String,
        /// Why the value is rejected.
        reason: String,
    },
    /// A node that the operation needs does not exist.
    #[error("registry node `{0}` does not exist")]
    NoNode(String),
    /// A node that the operation would create already exists.
    #[error("registry node `{0}` already exists")]
    NodeExists(String),
    /// The node's version is not the expected one (someone else changed it).
    #[error("registry node `{0}` has a different version than expected")]
    BadVersion(String),
    /// The node cannot be deleted because it still has children.
    #[error("registry node `{0}` still has children")]
    NotEmpty(String),
    /// Ephemeral nodes cannot have children.
    #[error("registry node `{0}` is ephemeral and cannot have children")]
    NoChildrenForEphemerals(String),
    /// The registry session has expired or was closed; nothing more can be done with it.
    #[error("registry session expired")]
    SessionExpired,
    /// The connection to the registry was lost, or a request got no answer in
    /// time, while the session may well be alive: **the outcome of a write is
    /// unknown** (it may or may not have been applied, and may still be
    /// applied by the server). Retry reads; resolve writes by reading back;
    /// after the session reconnects, re-read whatever a watch guards, since
    /// events may have been missed. It is never [`Error::SessionExpired`]:
    /// the session's ephemeral nodes may still exist.
    #[error("registry connection lost")]
    ConnectionLoss,
    /// No ZooKeeper session could be had: no server of the connect string
    /// answered (each one's cause is named: refused, unresolvable, timed
    /// out), or one answered but gave no session within the connection
    /// timeout.
    #[error("cannot connect to ZooKeeper at `{servers}`: {cause}")]
    Unreachable {
        /// The connect string as given.
        servers: String,
        /// Why, per server.
        cause: String,
    },
    /// Any other registry failure, with the backend's own message.
    #[error("registry error: {0}")]
    Registry(String),
    /// A job handler failed; the message carries the handler's own error text.
    #[error("job handler failed: {0}")]
    Handler(String),
    /// The scheduler or job is not in a state that allows the operation.
    #[error("{0}")]
    IllegalState(String),
    /// A sharding strategy gave no usable assignment (it failed, panicked,
    /// hung, gave a wrong answer, or is not registered in this instance):
    /// the leader refused to reshard and left the registry as it was.
    #[error("sharding strategy `{name}` (jobShardingStrategyType) {reason}; resharding refused, the assignment is unchanged")]
    ShardingStrategy {
        /// The `jobShardingStrategyType` value.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// The execution history database failed (unreachable, refused the
    /// statement); the message names the database, without its password.
    /// The scheduler itself never fails for it: it buffers and retries.
    #[error("execution history: {0}")]
    History(String),
    /// The registry refused the request on a node's ACL: the node was
    /// created creator-only by a client with other (or no) digest
    /// credentials. Nothing was applied. A variant of its own so that
    /// callers can tell "wrong credentials" from a registry failure.
    #[error("not authorized to access registry node `{0}`: it is restricted to other digest credentials")]
    NotAuthorized(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidConfig`].
    pub fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::InvalidConfig { field: field.to_string(), value: value.to_string(), reason: reason.into() }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
