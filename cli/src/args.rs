//! The command line: global connection options and one subcommand each,
//! with `--help` for every command and `--version` (clap).

use clap::{Parser, Subcommand};

/// Operate elasticjob (and Java ElasticJob) clusters through ZooKeeper.
///
/// List jobs, instances and items; trigger, pause, resume, disable, enable,
/// shut down and remove; view and change a job's configuration; run script and HTTP jobs
/// from YAML; serve the web console; read the execution history. Exit
/// codes: 0 done, 1 the operation failed, 2 the command line is wrong.
#[derive(Debug, Parser)]
#[command(name = "ejob", version, propagate_version = true)]
pub struct Cli {
    /// ZooKeeper connect string (`host:port[,host:port…]`).
    #[arg(long, env = "ELASTICJOB_ZK", global = true, value_name = "HOST:PORT")]
    pub zk: Option<String>,
    /// The namespace (root node) of the jobs.
    #[arg(long, env = "ELASTICJOB_NAMESPACE", global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Digest credentials of a namespace created creator-only (the
    /// environment variable keeps the password out of the process list).
    #[arg(long, env = "ELASTICJOB_DIGEST", global = true, value_name = "USER:PASSWORD", hide_env_values = true)]
    pub digest: Option<String>,
    /// The execution history database (`sqlite://PATH` or `postgres://…`).
    #[arg(long, env = "ELASTICJOB_HISTORY", global = true, value_name = "URL")]
    pub history: Option<String>,
    /// The ZooKeeper session timeout (a crashed `run` worker is noticed after it).
    #[arg(long, global = true, value_name = "MS")]
    pub session_timeout_ms: Option<u64>,
    /// The ZooKeeper connection timeout (connecting fails after it, naming the cause).
    #[arg(long, global = true, value_name = "MS")]
    pub connection_timeout_ms: Option<u64>,
    /// `run`: serve every job's metrics on http://IP:PORT/metrics.
    #[arg(long, global = true, value_name = "IP:PORT")]
    pub metrics: Option<String>,
    /// Print listings as one JSON array (the shapes of the console's API).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every job with its status, instances, cron and item count.
    Jobs,
    /// A job's live instances (leader marked).
    Instances { job: String },
    /// A job's items with owner and state.
    Items { job: String },
    /// A job's registry nodes and their data.
    Dump { job: String },
    /// Run every instance's items of a job now.
    Trigger {
        job: String,
        /// What to do with items still running: SKIP leaves them out,
        /// CANCEL_OTHER stops their runs first; by default they run once
        /// more when they end.
        #[arg(long, value_name = "POLICY")]
        overlap: Option<String>,
    },
    /// Pause a job on every instance of ours from its next fire, with a
    /// note; the fires it holds are never caught up (triggers still run).
    Pause {
        job: String,
        /// Why (shown in listings and the console).
        #[arg(long, default_value = "")]
        reason: String,
        /// Who pauses it (default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Resume by itself then: an RFC 3339 instant or a duration (90s, 30m, 2h, 1d).
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
    },
    /// Resume a paused job from its next fire.
    Resume { job: String },
    /// Run a job for every fire of its cron in [--from, --to), on every
    /// item, oldest first per item, each (item, fire) once; beside the
    /// schedule, paused or not. Prints the backfill's id.
    Backfill {
        job: String,
        /// The range's start: an RFC 3339 instant, or a duration ago (90s, 30m, 6h, 2d).
        #[arg(long, value_name = "WHEN")]
        from: String,
        /// The range's end, excluded (default: now): as --from, or `now`.
        #[arg(long, value_name = "WHEN", default_value = "now")]
        to: String,
        /// Who asks (default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// An item still running when a fire's turn comes: BUFFER_ALL
        /// (default) waits for it, SKIP leaves that fire out for it.
        #[arg(long, value_name = "POLICY")]
        overlap: Option<String>,
    },
    /// A job's backfills and how far each went.
    Backfills { job: String },
    /// Forget a backfill: runs in flight finish, no more start.
    CancelBackfill { job: String, id: String },
    /// Disable a job, or one server (IP) of it.
    Disable { job: String, ip: Option<String> },
    /// Enable a job, or one server (IP) of it.
    Enable { job: String, ip: Option<String> },
    /// Disable one item of a job.
    DisableItem { job: String, item: u32 },
    /// Enable one item of a job.
    EnableItem { job: String, item: u32 },
    /// Shut down a job's instances, or those of one server (IP).
    Shutdown { job: String, ip: Option<String> },
    /// Remove a job, or one server (IP) of it; refused while instances are live.
    Remove { job: String, ip: Option<String> },
    /// View or change a job's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run script jobs (`script.command.line`) or HTTP jobs (`http.uri`)
    /// from YAML files until Ctrl-C or SIGTERM.
    Run {
        /// Job YAML files (ElasticJob's keys; a `history:` key keeps a history).
        #[arg(required = true, value_name = "FILE.yaml")]
        files: Vec<String>,
    },
    /// Serve the web console of the namespace until Ctrl-C or SIGTERM.
    Console {
        /// Where to listen; without --auth only a loopback address is allowed.
        #[arg(long, default_value = "127.0.0.1:8899", value_name = "IP:PORT")]
        listen: String,
        /// The users file (`ejob console-user` makes its lines).
        #[arg(long, value_name = "FILE")]
        auth: Option<std::path::PathBuf>,
    },
    /// Print a line of the console's users file (the password is read from stdin).
    ConsoleUser {
        name: String,
        /// `viewer` or `operator`.
        role: String,
        /// Make a random bearer token instead of reading a password.
        #[arg(long)]
        token: bool,
        /// PBKDF2 iterations of the password hash.
        #[arg(long)]
        iterations: Option<u32>,
    },
    /// The execution history (needs --history), newest first.
    History {
        #[arg(long)]
        job: Option<String>,
        #[arg(long)]
        item: Option<u32>,
        #[arg(long)]
        instance: Option<String>,
        /// SUCCEEDED, FAILED, TIMED_OUT or CANCELLED.
        #[arg(long)]
        outcome: Option<String>,
        /// From this time (epoch milliseconds).
        #[arg(long, value_name = "MS")]
        since: Option<i64>,
        /// Until this time (epoch milliseconds).
        #[arg(long, value_name = "MS")]
        until: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        /// Status changes instead of executions.
        #[arg(long)]
        status: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a job's configuration as the registry holds it (YAML, or JSON with --json).
    Get { job: String },
    /// Change fields of a job's configuration (`KEY=VALUE`, ElasticJob's
    /// keys, `props.NAME=VALUE` for a prop); validated before it is written.
    Set {
        job: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        changes: Vec<String>,
    },
}

impl Command {
    /// Whether the command lists something (and so has a `--json` form).
    pub fn lists(&self) -> bool {
        matches!(self, Command::Jobs | Command::Instances { .. } | Command::Items { .. } | Command::Dump { .. } | Command::Backfills { .. } | Command::History { .. } | Command::Config(ConfigCommand::Get { .. }))
    }

    /// Whether the command needs the namespace to exist already (operator
    /// commands: a typo must not create one).
    pub fn needs_existing_namespace(&self) -> bool {
        !matches!(self, Command::Run { .. } | Command::Console { .. })
    }
}
