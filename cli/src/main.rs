//! `ejob`: the command line for operators. Every command is a thin call to
//! the core's `JobOperator` (or `JobScheduler` for `run`).
//!
//! ```text
//! ejob --zk HOST:PORT --namespace NS [--digest USER:PASSWORD] <command>
//!   jobs                          every job with status, instances, cron, items
//!   instances JOB                 live instances (leader marked)
//!   items JOB                     items with owner and state
//!   trigger JOB                   run every instance's items now
//!   disable JOB [IP] | enable JOB [IP]
//!   disable-item JOB ITEM | enable-item JOB ITEM
//!   shutdown JOB [IP] | remove JOB [IP]
//!   dump JOB                      the job's registry nodes and their data
//!   run FILE.yaml...              run script jobs (script.command.line) or HTTP jobs (http.uri) until Ctrl-C
//! ```
//!
//! `--digest` (or `ELASTICJOB_DIGEST`) gives the credentials of a namespace
//! whose nodes were created creator-only; the environment variable keeps
//! the password out of the process list and shell history.

use elasticjob::{Error, Job, JobConfig, JobOperator, JobScheduler, RegistryCenter, ZookeeperOptions};
use std::process::ExitCode;

const USAGE: &str = "usage: ejob --zk HOST:PORT --namespace NS [--digest USER:PASSWORD] <jobs | instances JOB | items JOB | trigger JOB | \
disable JOB [IP] | enable JOB [IP] | disable-item JOB ITEM | enable-item JOB ITEM | shutdown JOB [IP] | \
remove JOB [IP] | dump JOB | run FILE.yaml...>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Parsed { zk, namespace, digest, command } = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("ejob: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = elasticjob::runtime::shared();
    let mut options = ZookeeperOptions::new(zk, namespace);
    if let Some(digest) = digest {
        options = options.digest(digest);
    }
    let center = RegistryCenter::zookeeper(options);
    match runtime.block_on(execute(&center, &command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ejob: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The command line, options resolved against the environment.
struct Parsed {
    zk: String,
    namespace: String,
    digest: Option<String>,
    command: Vec<String>,
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut zk = std::env::var("ELASTICJOB_ZK").ok();
    let mut namespace = std::env::var("ELASTICJOB_NAMESPACE").ok();
    let mut digest = std::env::var("ELASTICJOB_DIGEST").ok().filter(|d| !d.is_empty());
    let mut rest = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--zk" => zk = Some(iter.next().ok_or("--zk needs HOST:PORT")?.clone()),
            "--namespace" => namespace = Some(iter.next().ok_or("--namespace needs a name")?.clone()),
            "--digest" => digest = Some(iter.next().ok_or("--digest needs USER:PASSWORD")?.clone()),
            "-h" | "--help" => return Err("help".into()),
            _ => rest.push(arg.clone()),
        }
    }
    let zk = zk.ok_or("missing --zk (or ELASTICJOB_ZK)")?;
    let namespace = namespace.ok_or("missing --namespace (or ELASTICJOB_NAMESPACE)")?;
    if rest.is_empty() {
        return Err("missing command".into());
    }
    Ok(Parsed { zk, namespace, digest, command: rest })
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

async fn execute(center: &RegistryCenter, command: &[String]) -> Result<(), String> {
    let operator = JobOperator::new(center.clone());
    let arg = |i: usize, what: &str| command.get(i).cloned().ok_or(format!("`{}` needs {what}", command[0]));
    let ip = command.get(2).map(String::as_str);
    let item = |i: usize| -> Result<u32, String> {
        let text = arg(i, "an ITEM")?;
        text.parse().map_err(|_| format!("invalid ITEM `{text}`: must be a number"))
    };
    let done = match command[0].as_str() {
        "jobs" => {
            println!("{:<24} {:<13} {:>9} {:>6}  cron", "job", "status", "instances", "items");
            for job in operator.jobs().await.map_err(explain)? {
                println!(
                    "{:<24} {:<13} {:>9} {:>6}  {}",
                    job.config.job_name,
                    job.status.as_str(),
                    job.instance_count,
                    job.config.sharding_total_count,
                    job.config.cron
                );
            }
            Ok(())
        }
        "instances" => {
            for i in operator.instances(&arg(1, "a JOB")?).await.map_err(explain)? {
                let marks = format!("{}{}", if i.leader { " leader" } else { "" }, if i.enabled { "" } else { " disabled" });
                println!("{}{marks}", i.instance_id);
            }
            Ok(())
        }
        "items" => {
            for i in operator.items(&arg(1, "a JOB")?).await.map_err(explain)? {
                let failover = i.failover_instance.map(|f| format!(" (failover: {f})")).unwrap_or_default();
                let state = i.state.as_str();
                println!("{:>5} {:<13} {}{failover}", i.item, state, i.instance_id.unwrap_or_else(|| "-".into()));
            }
            Ok(())
        }
        "trigger" => operator.trigger(&arg(1, "a JOB")?).await,
        "disable" => operator.disable(&arg(1, "a JOB")?, ip).await,
        "enable" => operator.enable(&arg(1, "a JOB")?, ip).await,
        "disable-item" => operator.disable_item(&arg(1, "a JOB")?, item(2)?).await,
        "enable-item" => operator.enable_item(&arg(1, "a JOB")?, item(2)?).await,
        "shutdown" => operator.shutdown(&arg(1, "a JOB")?, ip).await,
        "remove" => operator.remove(&arg(1, "a JOB")?, ip).await,
        "dump" => return dump(center, &arg(1, "a JOB")?).await,
        "run" => return run(center, &command[1..]).await,
        other => return Err(format!("unknown command `{other}`")),
    };
    done.map_err(explain)
}

/// Prints every node under the job with its data, depth first.
async fn dump(center: &RegistryCenter, job: &str) -> Result<(), String> {
    let session = center.session().await.map_err(explain)?;
    let root = format!("/{job}");
    if session.exists(&root).await.map_err(explain)?.is_none() {
        return Err(format!("invalid jobName `{job}`: no such job in this namespace"));
    }
    let mut pending = vec![root];
    while let Some(path) = pending.pop() {
        let data = session.get_string(&path).await.map_err(explain)?.unwrap_or_default();
        let shown = data.trim_end().replace('\n', "\\n");
        println!("{path}{}", if shown.is_empty() { String::new() } else { format!(" = {shown}") });
        let mut children = session.children(&path).await.unwrap_or_default();
        children.reverse();
        pending.extend(children.into_iter().map(|child| format!("{path}/{child}")));
    }
    Ok(())
}

/// Runs the script or HTTP jobs of the given YAML files until Ctrl-C or
/// SIGTERM: a job with the prop `http.uri` (or ElasticJob 3.0.0's
/// `http.url`) is an HTTP job, one with `script.command.line` a script job.
async fn run(center: &RegistryCenter, files: &[String]) -> Result<(), String> {
    if files.is_empty() {
        return Err("`run` needs at least one job YAML file".into());
    }
    let mut schedulers = Vec::new();
    for file in files {
        let yaml = std::fs::read_to_string(file).map_err(|e| format!("cannot read `{file}`: {e}"))?;
        let config = JobConfig::from_yaml(&yaml).map_err(|e| format!("{file}: {e}"))?;
        let job = if config.props.contains_key("http.uri") || config.props.contains_key("http.url") {
            Job::http()
        } else if config.props.contains_key("script.command.line") {
            Job::script()
        } else {
            return Err(format!(
                "{file}: invalid props: a script job needs `script.command.line`, an HTTP job `http.uri`"
            ));
        };
        let scheduler = JobScheduler::builder(center.clone(), config, job).build().map_err(|e| format!("{file}: {}", explain(e)))?;
        scheduler.start().await.map_err(explain)?;
        println!("running job `{}` as {}", scheduler.job_name(), scheduler.instance_id());
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
