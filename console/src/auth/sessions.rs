//! Browser logins: a random session id in an `HttpOnly`, `SameSite=Strict`
//! cookie, and a CSRF token the page sends back in a header with every
//! operation. Only the SHA-256 of each id is kept, so the table leaks no
//! usable cookie and its lookups take no secret-dependent time. Logins end
//! after a period unused, at logout, or when the console restarts.

use super::password::random_bytes;
use super::Role;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "ejob_session";
/// At most this many logins are kept; the oldest unused go first.
const MAX_SESSIONS: usize = 10_000;

/// One login.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who logged in.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The token operations must carry in `X-Ejob-Csrf`.
    pub csrf: String,
    last_used: Instant,
}

/// Every live login.
pub struct Sessions {
    idle: Duration,
    table: Mutex<HashMap<[u8; 32], Session>>,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// Logins that end after `idle` unused.
    pub fn new(idle: Duration) -> Self {
        Sessions {
            idle,
            table: Mutex::default(),
        }
    }

    /// Starts a login; returns its id (the cookie's value) and the session.
    pub fn create(&self, name: &str, role: Role) -> (String, Session) {
        let id = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let session = Session {
            name: name.to_string(),
            role,
            csrf: URL_SAFE_NO_PAD.encode(random_bytes::<24>()),
            last_used: Instant::now(),
        };
        let mut table = self.table.lock().expect("sessions");
        let now = Instant::now();
        table.retain(|_, s| now.duration_since(s.last_used) < self.idle);
        if table.len() >= MAX_SESSIONS {
            if let Some(oldest) = table
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k)
            {
                table.remove(&oldest);
            }
        }
        table.insert(key(&id), session.clone());
        (id, session)
    }

    /// The login of cookie value `id`, if live; marks it used.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut table = self.table.lock().expect("sessions");
        let k = key(id);
        let session = table.get_mut(&k)?;
        if session.last_used.elapsed() >= self.idle {
            table.remove(&k);
            return None;
        }
        session.last_used = Instant::now();
        Some(session.clone())
    }

    /// Ends the login of cookie value `id`.
    pub fn remove(&self, id: &str) {
        self.table.lock().expect("sessions").remove(&key(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_found_by_id_and_expire_unused() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let (id, session) = sessions.create("ann", Role::Viewer);
        assert_eq!(sessions.get(&id).unwrap().csrf, session.csrf);
        assert!(sessions.get("forged").is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(sessions.get(&id).is_none(), "expired after the idle time");
        let (id, _) = sessions.create("ann", Role::Viewer);
        sessions.remove(&id);
        assert!(sessions.get(&id).is_none());
    }
}
