//! The users file of `--auth FILE`: one user per line,
//! `NAME:ROLE:CREDENTIAL`, where ROLE is `viewer` or `operator` and
//! CREDENTIAL a password hash (`pbkdf2-sha256$…`) or a bearer token hash
//! (`token-sha256$…`); `#` starts a comment. `ejob console-user` writes
//! such lines. There are no default users: a file without any is refused.

use super::password::{PasswordHash, TokenHash};
use super::Role;
use crate::error::ConsoleError;
use std::path::Path;

/// How a user proves who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A password, checked against its PBKDF2 hash.
    Password(PasswordHash),
    /// A bearer token, checked against its SHA-256.
    Token(TokenHash),
}

impl Credential {
    /// Parses the third field of a line.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("token-sha256$") {
            TokenHash::parse(text).map(Credential::Token)
        } else {
            PasswordHash::parse(text).map(Credential::Password)
        }
    }
}

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name (letters, digits, `.`, `_`, `-`, `@`; at most 64).
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// How the user proves it.
    pub credential: Credential,
}

impl User {
    /// The line of the users file for this user.
    pub fn to_line(&self) -> String {
        let credential = match &self.credential {
            Credential::Password(hash) => hash.to_string(),
            Credential::Token(hash) => hash.to_string(),
        };
        format!("{}:{}:{credential}", self.name, self.role.as_str())
    }
}

/// Every user of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    users: Vec<User>,
}

impl Users {
    /// Reads and checks the users file.
    pub fn load(path: &Path) -> Result<Users, ConsoleError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConsoleError::UsersFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Users::parse(&text).map_err(|reason| ConsoleError::UsersFile {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the text of a users file.
    pub fn parse(text: &str) -> Result<Users, String> {
        let mut users: Vec<User> = Vec::new();
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |reason: String| format!("line {number}: {reason}");
            let mut fields = line.splitn(3, ':');
            let (Some(name), Some(role), Some(credential)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(at("must be NAME:ROLE:CREDENTIAL".into()));
            };
            check_name(name).map_err(at)?;
            let role = Role::parse(role)
                .ok_or_else(|| at(format!("role `{role}` must be `viewer` or `operator`")))?;
            let credential = Credential::parse(credential).map_err(at)?;
            if users.iter().any(|u| u.name == name) {
                return Err(at(format!("user `{name}` is listed twice")));
            }
            users.push(User {
                name: name.to_string(),
                role,
                credential,
            });
        }
        if users.is_empty() {
            return Err("has no users: add one with `ejob console-user NAME ROLE >> FILE`".into());
        }
        Ok(Users { users })
    }

    /// The user called `name`.
    pub fn find(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The user whose bearer token is `token`. Every token user is
    /// compared, so the time taken does not tell which one matched.
    pub fn by_token(&self, token: &str) -> Option<&User> {
        let given = TokenHash::of(token);
        let mut found = None;
        for user in &self.users {
            if let Credential::Token(hash) = &user.credential {
                if hash.matches(&given) && found.is_none() {
                    found = Some(user);
                }
            }
        }
        found
    }

    /// A password hash to check unknown names against, so that a wrong
    /// name costs as long as a wrong password (no probing for names).
    pub fn decoy(&self) -> Option<&PasswordHash> {
        self.users.iter().find_map(|u| match &u.credential {
            Credential::Password(hash) => Some(hash),
            Credential::Token(_) => None,
        })
    }
}

/// Names are plain so they read the same in the audit log and in a line of the file.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name `{name}` must be 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::MIN_ITERATIONS;

    #[test]
    fn parses_users_and_refuses_bad_lines() {
        let hash = PasswordHash::new("pw", MIN_ITERATIONS).unwrap();
        let text = format!(
            "# users\nann:operator:{hash}\n\nprom:viewer:{}\n",
            TokenHash::of("tok")
        );
        let users = Users::parse(&text).unwrap();
        assert_eq!(users.find("ann").unwrap().role, Role::Operator);
        assert_eq!(users.by_token("tok").unwrap().name, "prom");
        assert!(users.by_token("nope").is_none());
        assert_eq!(
            Users::parse(&users.find("ann").unwrap().to_line())
                .unwrap()
                .find("ann")
                .unwrap()
                .credential,
            Credential::Password(hash.clone())
        );
        let bad_role = Users::parse(&format!("bob:admin:{hash}")).unwrap_err();
        assert!(
            bad_role.contains("line 1") && bad_role.contains("`admin`"),
            "{bad_role}"
        );
        assert!(Users::parse(&format!("a b:viewer:{hash}"))
            .unwrap_err()
            .contains("name `a b`"));
        assert!(Users::parse(&format!("x:viewer:{hash}\nx:viewer:{hash}"))
            .unwrap_err()
            .contains("line 2"));
        assert!(Users::parse("x:viewer:plaintext")
            .unwrap_err()
            .contains("credential must be"));
        assert!(Users::parse("# nobody\n").unwrap_err().contains("no users"));
    }
}
