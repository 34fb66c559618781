//! `ejob console` (the web console of the namespace) and `ejob
//! console-user` (a line of its users file).

use elasticjob::RegistryCenter;
use elasticjob_console::auth::password::{new_token, PasswordHash, TokenHash, DEFAULT_ITERATIONS};
use elasticjob_console::auth::users::{check_name, Credential, User};
use elasticjob_console::auth::Role;
use elasticjob_console::{parse_listen, ConsoleOptions};
use std::io::BufRead;

/// Where the console listens unless told.
const DEFAULT_LISTEN: &str = "127.0.0.1:8899";

/// `console [--listen IP:PORT] [--auth FILE]`: serves until Ctrl-C or SIGTERM.
pub async fn serve(
    center: &RegistryCenter,
    history: Option<&str>,
    args: &[String],
) -> Result<(), String> {
    let mut listen = DEFAULT_LISTEN.to_string();
    let mut auth = None;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--listen" => listen = iter.next().ok_or("--listen needs IP:PORT")?.clone(),
            "--auth" => auth = Some(iter.next().ok_or("--auth needs a users FILE")?.into()),
            other => return Err(format!("unknown console option `{other}`")),
        }
    }
    let mut options = ConsoleOptions::new(
        center.clone(),
        parse_listen(&listen).map_err(|e| e.to_string())?,
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
pub fn user_line(args: &[String]) -> Result<(), String> {
    let (Some(name), Some(role)) = (args.first(), args.get(1)) else {
        return Err("`console-user` needs NAME and ROLE (viewer or operator)".into());
    };
    check_name(name)?;
    let role = Role::parse(role).ok_or(format!(
        "invalid ROLE `{role}`: must be `viewer` or `operator`"
    ))?;
    let (mut token, mut iterations) = (false, DEFAULT_ITERATIONS);
    let mut iter = args[2..].iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--token" => token = true,
            "--iterations" => {
                let text = iter.next().ok_or("--iterations needs a number")?;
                iterations = text
                    .parse()
                    .map_err(|_| format!("invalid --iterations `{text}`: must be a number"))?;
            }
            other => return Err(format!("unknown console-user option `{other}`")),
        }
    }
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
            name: name.clone(),
            role,
            credential
        }
        .to_line()
    );
    Ok(())
}
