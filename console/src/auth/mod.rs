//! Who may use the console. Without a users file everyone who reaches the
//! (loopback) port is the operator `anonymous`; with one, every request
//! carries credentials: a login cookie (browsers), HTTP Basic, or a bearer
//! token (scripts, Prometheus). A `viewer` reads; an `operator` also operates.
//! - [`password`]: PBKDF2 password hashes and token hashes, compared in constant time;
//! - [`users`]: the users file;
//! - [`verifier`]: password checks off the runtime, remembered for HTTP Basic;
//! - [`sessions`]: browser logins;
//! - [`guard`]: the middleware that authenticates every request and checks CSRF.

pub mod guard;
pub mod password;
pub mod sessions;
pub mod users;
pub mod verifier;

pub use users::Users;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, operates nothing.
    Viewer,
    /// Reads and operates.
    Operator,
}

impl Role {
    /// The name used in the users file and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    /// Parses `viewer` or `operator`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// How a request proved who it is; CSRF rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// No users file: the loopback-only console.
    Anonymous,
    /// A browser login cookie.
    Session,
    /// HTTP Basic (a browser may replay it on its own).
    Basic,
    /// `Authorization: Bearer` (never sent by a browser on its own).
    Bearer,
}

/// The authenticated user of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Principal {
    /// The user's name (`anonymous` without users).
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// How the request was authenticated.
    pub via: Via,
    /// The login's CSRF token, for [`Via::Session`].
    #[serde(skip)]
    pub csrf: Option<String>,
}

impl Principal {
    /// Whether the user may operate.
    pub fn may_operate(&self) -> bool {
        self.role == Role::Operator
    }
}
