//! `ejob`: the command line for operators. Every command is a thin call to
//! the core's `JobOperator` (or `JobScheduler` for `run`).
//!
//! ```text
//! ejob --zk HOST:PORT --namespace NS [--digest USER:PASSWORD] [--session-timeout-ms MS] <command>
//!   jobs [--json]                 every job with status, instances, cron, items
//!   instances JOB [--json]        live instances (leader marked)
//!   items JOB [--json]            items with owner and state
//!   trigger JOB                   run every instance's items now
//!   disable JOB [IP] | enable JOB [IP]
//!   disable-item JOB ITEM | enable-item JOB ITEM
//!   shutdown JOB [IP] | remove JOB [IP]
//!   dump JOB [--json]             the job's registry nodes and their data
//!   run FILE.yaml...              run script jobs (script.command.line) or HTTP jobs (http.uri) until Ctrl-C,
//!                                 keeping an execution history with --history URL (or a `history:` key in the file)
//!                                 and serving their metrics on http://IP:PORT/metrics with --metrics IP:PORT
//!   console [--listen IP:PORT] [--auth FILE]
//!                                 the web console (default 127.0.0.1:8899; without --auth, loopback only),
//!                                 showing the history and keeping the audit log in --history URL
//!
//! ejob console-user NAME viewer|operator [--token] [--iterations N]
//!                                 a line of the console's users file (password read from stdin)
//!
//! ejob --history URL history [--job J] [--item N] [--instance ID] [--outcome O]
//!      [--since MS] [--until MS] [--limit N] [--offset N] [--status] [--json]
//!                                 the execution history (or, with --status, status changes), newest first
//! ```
//!
//! `--json` prints one JSON array, in the shapes of the console's API.
//! `--digest` (or `ELASTICJOB_DIGEST`) gives the credentials of a namespace
//! whose nodes were created creator-only; the environment variable keeps
//! the password out of the process list and shell history.

mod console;
mod list;

use elasticjob::trace::{split_history, ExecutionQuery, HistoryUrl, StatusQuery};
use elasticjob::{Error, HistoryStore, Job, JobOperator, JobScheduler, RegistryCenter, ZookeeperOptions};
use list::Format;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: ejob --zk HOST:PORT --namespace NS [--digest USER:PASSWORD] [--session-timeout-ms MS] <jobs | \
instances JOB | items JOB | trigger JOB | disable JOB [IP] | enable JOB [IP] | disable-item JOB ITEM | enable-item JOB ITEM | \
shutdown JOB [IP] | remove JOB [IP] | dump JOB | run FILE.yaml... | console [--listen IP:PORT] [--auth FILE]> [--history URL] \
[--metrics IP:PORT] [--json]
       ejob --history URL history [--job J] [--item N] [--instance ID] [--outcome O] [--since MS] [--until MS] \
[--limit N] [--offset N] [--status] [--json]
       ejob console-user NAME viewer|operator [--token] [--iterations N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Parsed { zk, namespace, digest, history, metrics, session_timeout, command } = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("ejob: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if command[0] == "console-user" {
        return match console::user_line(&command[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("ejob: {error}");
                ExitCode::from(2)
            }
        };
    }
    if command[0] == "console" {
        // The console's own log: warnings, and one line per audited operation.
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("ELASTICJOB_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,elasticjob_console=info")),
            )
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    let runtime = elasticjob::runtime::shared();
    if command[0] == "history" {
        let Some(url) = history else {
            eprintln!("ejob: `history` needs --history URL (or ELASTICJOB_HISTORY)\n{USAGE}");
            return ExitCode::from(2);
        };
        return match runtime.block_on(show_history(&url, &command[1..])) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("ejob: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let (Some(zk), Some(namespace)) = (zk, namespace) else {
        eprintln!("ejob: missing --zk and --namespace (or ELASTICJOB_ZK and ELASTICJOB_NAMESPACE)\n{USAGE}");
        return ExitCode::from(2);
    };
    let mut options = ZookeeperOptions::new(zk, namespace);
    if let Some(digest) = digest {
        options = options.digest(digest);
    }
    if let Some(timeout) = session_timeout {
        options = options.session_timeout(timeout);
    }
    if let Err(error) = options.validate() {
        eprintln!("ejob: {error}");
        return ExitCode::from(2);
    }
    let center = RegistryCenter::zookeeper(options);
    match runtime.block_on(execute(&center, &command, history.as_deref(), metrics.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ejob: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The command line, options resolved against the environment.
struct Parsed {
    zk: Option<String>,
    namespace: Option<String>,
    digest: Option<String>,
    history: Option<String>,
    /// `run`: where to serve the jobs' metrics.
    metrics: Option<String>,
    session_timeout: Option<Duration>,
    command: Vec<String>,
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut zk = std::env::var("ELASTICJOB_ZK").ok();
    let mut namespace = std::env::var("ELASTICJOB_NAMESPACE").ok();
    let mut digest = std::env::var("ELASTICJOB_DIGEST").ok().filter(|d| !d.is_empty());
    let mut history = std::env::var("ELASTICJOB_HISTORY").ok().filter(|h| !h.is_empty());
    let mut metrics = None;
    let mut session_timeout = None;
    let mut rest = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--zk" => zk = Some(iter.next().ok_or("--zk needs HOST:PORT")?.clone()),
            "--namespace" => namespace = Some(iter.next().ok_or("--namespace needs a name")?.clone()),
            "--digest" => digest = Some(iter.next().ok_or("--digest needs USER:PASSWORD")?.clone()),
            "--history" => history = Some(iter.next().ok_or("--history needs a URL (sqlite://PATH or postgres://...)")?.clone()),
            "--metrics" => metrics = Some(iter.next().ok_or("--metrics needs IP:PORT (e.g. 127.0.0.1:9464)")?.clone()),
            "--session-timeout-ms" => {
                let text = iter.next().ok_or("--session-timeout-ms needs milliseconds")?;
                let ms: u64 = text.parse().map_err(|_| format!("invalid --session-timeout-ms `{text}`: must be a number"))?;
                session_timeout = Some(Duration::from_millis(ms));
            }
            "-h" | "--help" => return Err("help".into()),
            _ => rest.push(arg.clone()),
        }
    }
    if rest.is_empty() {
        return Err("missing command".into());
    }
    Ok(Parsed { zk, namespace, digest, history, metrics, session_timeout, command: rest })
}

/// An error as the operator should read it: a refusal by the nodes' ACLs
/// says which credentials to give, since that is nearly always the cause.
fn explain(error: Error) -> String {
    match error {
        Error::NotAuthorized(_) => {
            format!("{error} (give the namespace's credentials with --digest USER:PASSWORD or ELASTICJOB_DIGEST)")
        }
        other => other.to_string(),
    }
}

async fn execute(center: &RegistryCenter, command: &[String], history: Option<&str>, metrics: Option<&str>) -> Result<(), String> {
    // `--json` may come anywhere after the command; the console has no such flag.
    let json = command[0] != "console" && command.iter().any(|a| a == "--json");
    let format = if json { Format::Json } else { Format::Table };
    let command: Vec<String> = if json { command.iter().filter(|a| *a != "--json").cloned().collect() } else { command.to_vec() };
    let operator = JobOperator::new(center.clone());
    let arg = |i: usize, what: &str| command.get(i).cloned().ok_or(format!("`{}` needs {what}", command[0]));
    let ip = command.get(2).map(String::as_str);
    let item = |i: usize| -> Result<u32, String> {
        let text = arg(i, "an ITEM")?;
        text.parse().map_err(|_| format!("invalid ITEM `{text}`: must be a number"))
    };
    let done = match command[0].as_str() {
        "jobs" => list::jobs(&operator, format).await,
        "instances" => list::instances(&operator, &arg(1, "a JOB")?, format).await,
        "items" => list::items(&operator, &arg(1, "a JOB")?, format).await,
        "dump" => list::dump(center, &arg(1, "a JOB")?, format).await,
        _ if format == Format::Json => return Err(format!("`{}` has no --json output: it lists nothing", command[0])),
        "trigger" => operator.trigger(&arg(1, "a JOB")?).await.map(Ok),
        "disable" => operator.disable(&arg(1, "a JOB")?, ip).await.map(Ok),
        "enable" => operator.enable(&arg(1, "a JOB")?, ip).await.map(Ok),
        "disable-item" => operator.disable_item(&arg(1, "a JOB")?, item(2)?).await.map(Ok),
        "enable-item" => operator.enable_item(&arg(1, "a JOB")?, item(2)?).await.map(Ok),
        "shutdown" => operator.shutdown(&arg(1, "a JOB")?, ip).await.map(Ok),
        "remove" => operator.remove(&arg(1, "a JOB")?, ip).await.map(Ok),
        "run" => return run(center, &command[1..], history, metrics).await,
        "console" => return console::serve(center, history, &command[1..]).await,
        other => return Err(format!("unknown command `{other}`")),
    };
    done.map_err(explain)?
}

/// Runs the script or HTTP jobs of the given YAML files until Ctrl-C or
/// SIGTERM: a job with the prop `http.uri` (or ElasticJob 3.0.0's
/// `http.url`) is an HTTP job, one with `script.command.line` a script job.
/// A file's `history` key, or else `--history`, keeps its execution history;
/// `--metrics IP:PORT` serves every job's metrics on one `/metrics` endpoint.
async fn run(center: &RegistryCenter, files: &[String], history: Option<&str>, metrics: Option<&str>) -> Result<(), String> {
    if files.is_empty() {
        return Err("`run` needs at least one job YAML file".into());
    }
    let mut schedulers = Vec::new();
    for file in files {
        let yaml = std::fs::read_to_string(file).map_err(|e| format!("cannot read `{file}`: {e}"))?;
        let (config, history_key) = split_history(&yaml).map_err(|e| format!("{file}: {e}"))?;
        let job = if config.props.contains_key("http.uri") || config.props.contains_key("http.url") {
            Job::http()
        } else if config.props.contains_key("script.command.line") {
            Job::script()
        } else {
            return Err(format!(
                "{file}: invalid props: a script job needs `script.command.line`, an HTTP job `http.uri`"
            ));
        };
        let mut builder = JobScheduler::builder(center.clone(), config, job);
        if let Some(url) = history_key.or(history.map(str::to_string)) {
            builder = builder.history(url);
        }
        if let Some(address) = metrics {
            builder = builder.metrics_listen(address);
        }
        let scheduler = builder.build().map_err(|e| format!("{file}: {}", explain(e)))?;
        scheduler.start().await.map_err(explain)?;
        println!("running job `{}` as {}", scheduler.job_name(), scheduler.instance_id());
        if let Some(address) = scheduler.metrics_address().filter(|_| schedulers.is_empty()) {
            println!("serving metrics on http://{address}/metrics");
        }
        schedulers.push(scheduler);
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    for scheduler in schedulers {
        scheduler.shutdown().await;
    }
    Ok(())
}

/// Prints the execution history (or status changes) matching the filters,
/// as a table or, with `--json`, one JSON array.
async fn show_history(url: &str, args: &[String]) -> Result<(), String> {
    let (mut executions, mut statuses) = (ExecutionQuery::default(), StatusQuery::default());
    let (mut status, mut json) = (false, false);
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = |what: &str| iter.next().cloned().ok_or(format!("{flag} needs {what}"));
        let number = |text: String| -> Result<i64, String> {
            text.parse().map_err(|_| format!("invalid {flag} `{text}`: must be a number"))
        };
        match flag.as_str() {
            "--job" => executions.job_name = Some(value("a JOB")?),
            "--item" => {
                let text = value("an ITEM")?;
                executions.item = Some(text.parse().map_err(|_| format!("invalid --item `{text}`: must be a number"))?);
            }
            "--instance" => executions.instance_id = Some(value("an instance id")?),
            "--outcome" => executions.outcome = Some(value("SUCCEEDED, FAILED, TIMED_OUT or CANCELLED")?),
            "--since" => executions.since = Some(number(value("epoch milliseconds")?)?),
            "--until" => executions.until = Some(number(value("epoch milliseconds")?)?),
            "--limit" => executions.limit = number(value("a count")?)?.clamp(0, u32::MAX.into()) as u32,
            "--offset" => executions.offset = number(value("a count")?)?.clamp(0, u32::MAX.into()) as u32,
            "--status" => status = true,
            "--json" => json = true,
            other => return Err(format!("unknown history option `{other}`")),
        }
    }
    statuses.job_name = executions.job_name.clone();
    statuses.instance_id = executions.instance_id.clone();
    (statuses.since, statuses.until, statuses.limit, statuses.offset) =
        (executions.since, executions.until, executions.limit, executions.offset);
    let url = HistoryUrl::parse(url).map_err(explain)?;
    if let Some(file) = url.sqlite_file().filter(|f| !f.exists()) {
        return Err(format!("invalid --history `{url}`: no history file at {}", file.display()));
    }
    let store = HistoryStore::open(&url).map_err(explain)?;
    if status {
        let rows = store.statuses(&statuses).await.map_err(explain)?;
        if json {
            println!("{}", serde_json::to_string(&rows).map_err(|e| e.to_string())?);
        } else {
            for r in rows {
                println!("{:>14} {:<24} {:<15} {:<24} {:<8} {}", r.creation_time, r.job_name, r.state, r.instance_id, r.sharding_item, r.message);
            }
        }
    } else {
        let rows = store.executions(&executions).await.map_err(explain)?;
        if json {
            println!("{}", serde_json::to_string(&rows).map_err(|e| e.to_string())?);
        } else {
            for r in rows {
                let cause = r.failure_cause.as_deref().unwrap_or_default().lines().next().unwrap_or_default();
                println!(
                    "{:>14} {:<24} {:>5} {:<10} {:<24} {:>6}ms {}{}",
                    r.start_time,
                    r.job_name,
                    r.sharding_item,
                    r.outcome,
                    r.instance_id,
                    r.complete_time - r.start_time,
                    if r.failover { "failover " } else { "" },
                    cause
                );
            }
        }
    }
    store.close().await;
    Ok(())
}
