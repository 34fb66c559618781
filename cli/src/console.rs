//! `ejob console` (the web console of the namespace) and `ejob
//! console-user` (a line of its users file).

use elasticjob::RegistryCenter;
use elasticjob_console::auth::password::{new_token, PasswordHash, TokenHash, DEFAULT_ITERATIONS};
use elasticjob_console::auth::users::{check_name, Credential, User};
use elasticjob_console::auth::Role;
use elasticjob_console::{parse_listen, ConsoleOptions};
use std::io::BufRead;

/// `console [--listen IP:PORT] [--auth FILE]`: serves until Ctrl-C or SIGTERM.
pub async fn serve(
    center: &RegistryCenter,
    history: Option<&str>,
    listen: &str,
    auth: Option<std::path::PathBuf>,
) -> Result<(), String> {
    let mut options = ConsoleOptions::new(
        center.clone(),
        parse_listen(listen).map_err(|e| e.to_string())?,
    );
    options.auth_file = auth;
    options.history = history.map(str::to_string);
    let users = if options.auth_file.is_some() {
        "users from --auth"
    } else {
        "no users: loopback only"
    };
    elasticjob_console::run(options, |addr| {
        println!("ejob console listening on http://{addr}/ ({users})");
    })
    .await
    .map_err(|e| e.to_string())
}

/// `console-user NAME ROLE [--token] [--iterations N]`: prints the users
/// file line. The password is read from standard input (one line), never
/// from the command line; with `--token` a random bearer token is made and
/// printed on standard error, once: only its hash is kept.
pub fn user_line(name: &str, role: &str, token: bool, iterations: Option<u32>) -> Result<(), String> {
    check_name(name)?;
    let role = Role::parse(role).ok_or(format!(
        "invalid ROLE `{role}`: must be `viewer` or `operator`"
    ))?;
    let iterations = iterations.unwrap_or(DEFAULT_ITERATIONS);
    let credential = if token {
        let token = new_token();
        eprintln!("bearer token for {name} (shown once, keep it secret): {token}");
        Credential::Token(TokenHash::of(&token))
    } else {
        let mut password = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut password)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let password = password.trim_end_matches(['\r', '\n']);
        if password.len() < 8 {
            return Err(
                "the password (read from standard input) must have at least 8 characters".into(),
            );
        }
        Credential::Password(PasswordHash::new(password, iterations)?)
    };
    println!(
        "{}",
        User {
            name: name.to_string(),
            role,
            credential
        }
        .to_line()
    );
    Ok(())
}
