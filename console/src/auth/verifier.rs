//! Checks credentials against the users file. A password check costs a
//! full PBKDF2 (hundreds of milliseconds by design), so it runs on a
//! blocking thread, at most two at a time (a flood of guesses cannot take
//! every core), and a password that passed is remembered as a keyed hash
//! so that HTTP Basic clients, which send it with every request, pay once.

use super::users::{Credential, Users};
use super::Role;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Credential checks for one users file.
pub struct Verifier {
    users: Arc<Users>,
    /// User name → HMAC(key, password) of the last password that passed.
    passed: Mutex<HashMap<String, [u8; 32]>>,
    /// A key of this process only: the remembered values are useless elsewhere.
    key: [u8; 32],
    permits: Semaphore,
}

impl Verifier {
    /// A verifier for `users`.
    pub fn new(users: Users) -> Self {
        Verifier {
            users: Arc::new(users),
            passed: Mutex::default(),
            key: super::password::random_bytes::<32>(),
            permits: Semaphore::new(2),
        }
    }

    fn keyed(&self, password: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The role of `name` if `password` is theirs.
    pub async fn password(&self, name: &str, password: &str) -> Option<Role> {
        let keyed = self.keyed(password);
        let remembered = self
            .passed
            .lock()
            .expect("verifier cache")
            .get(name)
            .copied();
        if let Some(known) = remembered {
            if bool::from(known.ct_eq(&keyed)) {
                return self.users.find(name).map(|u| u.role);
            }
        }
        let _permit = self.permits.acquire().await.ok()?;
        let users = self.users.clone();
        let (name_owned, password) = (name.to_string(), password.to_string());
        let role = tokio::task::spawn_blocking(move || match users.find(&name_owned) {
            Some(user) => match &user.credential {
                Credential::Password(hash) => hash.verify(&password).then_some(user.role),
                Credential::Token(_) => None,
            },
            None => {
                // Same work for an unknown name as for a wrong password.
                if let Some(decoy) = users.decoy() {
                    let _ = decoy.verify(&password);
                }
                None
            }
        })
        .await
        .ok()
        .flatten();
        if role.is_some() {
            self.passed
                .lock()
                .expect("verifier cache")
                .insert(name.to_string(), keyed);
        }
        role
    }

    /// The user and role whose bearer token is `token`.
    pub fn token(&self, token: &str) -> Option<(String, Role)> {
        self.users.by_token(token).map(|u| (u.name.clone(), u.role))
    }
}
