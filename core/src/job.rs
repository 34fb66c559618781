//! What users implement: the handler traits, and the sharding context each
//! call receives. The job types of ElasticJob (simple, dataflow, script,
//! HTTP) are all reduced to one internal shape, "run this item once", so the
//! scheduler has a single path.

use crate::cancel::Cancellation;
use crate::config::JobConfig;
use crate::http_job::{run_http, HttpSettings};
use async_trait::async_trait;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The error a handler returns: any error type, with its message kept.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns.
pub type HandlerResult<T = ()> = Result<T, HandlerError>;

/// Everything a handler knows about the item it runs. Field names in JSON
/// (for script jobs) are ElasticJob's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ShardingContext {
    /// The job's name.
    pub job_name: String,
    /// Identifies this execution: `{jobName}@-@{item}@-@{READY|FAILOVER}@-@{instanceId}`.
    pub task_id: String,
    /// How many items the job is split into.
    pub sharding_total_count: u32,
    /// The job-wide parameter (`jobParameter`).
    pub job_parameter: String,
    /// The item this call runs, in `0..sharding_total_count`.
    pub sharding_item: u32,
    /// This item's parameter from `shardingItemParameters` (empty if none).
    pub sharding_parameter: String,
    /// The scheduled fire time this execution belongs to, epoch milliseconds.
    /// Every instance agrees on it; a failover or misfire re-run keeps it.
    pub fire_time: i64,
    /// False when this run takes over an item whose lost runner did not
    /// record its fire (a Java ElasticJob instance never does): then
    /// `fire_time` is the take-over time, as Java's own failover runs it.
    pub fire_time_known: bool,
    /// Whether this run takes over an item of a crashed instance.
    pub failover: bool,
    /// Grows with every start of this item anywhere in the cluster (the
    /// registry transaction id that made this run the item's runner): a
    /// downstream store that remembers the highest token it accepted can
    /// refuse a stale writer, such as a paused process whose item was re-run.
    pub fencing_token: i64,
    /// Which attempt at this (item, fire) this run is: 1, then 2 for the
    /// first retry of a failed run, and so on ([`crate::retries`]).
    pub attempt: u32,
    /// Raised when this run should stop: see [`Cancellation`].
    #[serde(skip)]
    pub cancellation: Cancellation,
    /// Where a job that captures what it printed (a script job) leaves it
    /// for the run's [`crate::Execution::output`].
    #[serde(skip)]
    pub(crate) output: RunOutput,
}

/// What one run printed, handed from the job to its execution record.
/// Clones share it; it is no part of a context's identity (contexts that
/// differ only in it are equal).
#[derive(Clone, Default)]
pub(crate) struct RunOutput(Arc<std::sync::Mutex<Option<String>>>);

impl RunOutput {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `text` as the run's output.
    pub(crate) fn set(&self, text: String) {
        *self.slot() = Some(text);
    }

    /// The run's output, if the job left one.
    pub(crate) fn take(&self) -> Option<String> {
        self.slot().take()
    }
}

impl std::fmt::Debug for RunOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunOutput")
    }
}

impl PartialEq for RunOutput {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RunOutput {}

impl ShardingContext {
    /// A context for `item` of `job_name`'s fire at `fire_time`, with
    /// everything else empty; for tests of handlers.
    pub fn new(job_name: &str, sharding_total_count: u32, sharding_item: u32, fire_time: i64) -> Self {
        ShardingContext {
            job_name: job_name.to_string(),
            task_id: String::new(),
            sharding_total_count,
            job_parameter: String::new(),
            sharding_item,
            sharding_parameter: String::new(),
            fire_time,
            fire_time_known: true,
            failover: false,
            fencing_token: 0,
            attempt: 1,
            cancellation: Cancellation::new(),
            output: RunOutput::default(),
        }
    }
}

/// A job that runs one piece of work per item and fire.
#[async_trait]
pub trait SimpleJob: Send + Sync + 'static {
    /// Runs the item; an `Err` (or a panic) is reported as a failed execution.
    async fn execute(&self, ctx: &ShardingContext) -> HandlerResult;
}

/// A job that fetches data for its item and processes it, optionally in a
/// stream: with `streaming.process=true` it keeps fetching and processing
/// until `fetch` returns nothing.
#[async_trait]
pub trait DataflowJob: Send + Sync + 'static {
    /// One unit of data.
    type Item: Send + 'static;
    /// Fetches the next batch for the item; empty means no more data.
    async fn fetch(&self, ctx: &ShardingContext) -> HandlerResult<Vec<Self::Item>>;
    /// Processes one fetched batch.
    async fn process(&self, ctx: &ShardingContext, items: Vec<Self::Item>) -> HandlerResult;
}

/// The future an item run returns.
pub type RunFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;

/// Runs one item of a job with the given settings.
type Runner = Arc<dyn Fn(ShardingContext, &JobSettings) -> RunFuture + Send + Sync>;

/// A job of any type, ready to run items.
#[derive(Clone)]
pub struct Job {
    runner: Runner,
    kind: JobKind,
    /// Whether dropping the run's future stops it (true for Rust futures).
    /// Runs that call code the core cannot interrupt (another language's
    /// thread, a child process) are only told to stop, and count as running
    /// until the call returns.
    abortable: bool,
}

/// Which ElasticJob job type a [`Job`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobKind {
    /// [`SimpleJob`].
    Simple,
    /// [`DataflowJob`].
    Dataflow,
    /// A command line run per item.
    Script,
    /// An HTTP request per item (see [`crate::http_job`]).
    Http,
}

/// Per-run settings taken from the job configuration's props, parsed once
/// per configuration.
#[derive(Debug, Clone, Default)]
pub struct JobSettings {
    /// `streaming.process`: keep fetching until empty.
    pub streaming: bool,
    /// `script.command.line`: the command of a script job.
    pub script_command: Option<String>,
    /// The `http.*` props of an HTTP job.
    pub http: Option<Arc<HttpSettings>>,
}

impl JobSettings {
    /// The settings a job of `kind` needs from `config`; fails, naming the
    /// prop and its value, when they are missing or wrong.
    pub fn from_config(config: &JobConfig, kind: JobKind) -> crate::Result<Self> {
        let http = match kind {
            JobKind::Http => Some(Arc::new(HttpSettings::from_props(&config.props)?)),
            _ => None,
        };
        let script_command = config.props.get("script.command.line").cloned();
        if kind == JobKind::Script {
            // Refused here, when the job is made, rather than at every fire.
            let command = script_command.as_deref().unwrap_or("");
            if command.trim().is_empty() {
                return Err(crate::Error::invalid("script.command.line", command, "a script job needs this prop: the command to run"));
            }
            split_command_line(command)?;
        }
        Ok(JobSettings {
            streaming: config.props.get("streaming.process").is_some_and(|v| v.trim() == "true"),
            script_command,
            http,
        })
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("kind", &self.kind).finish()
    }
}

impl Job {
    /// Wraps a [`SimpleJob`].
    pub fn simple(job: impl SimpleJob) -> Self {
        let job = Arc::new(job);
        Job {
            kind: JobKind::Simple,
            abortable: true,
            runner: Arc::new(move |ctx, _| {
                let job = job.clone();
                Box::pin(async move { job.execute(&ctx).await })
            }),
        }
    }

    /// Wraps a [`DataflowJob`].
    pub fn dataflow<J: DataflowJob>(job: J) -> Self {
        let job = Arc::new(job);
        Job {
            kind: JobKind::Dataflow,
            abortable: true,
            runner: Arc::new(move |ctx, settings| {
                let job = job.clone();
                let streaming = settings.streaming;
                Box::pin(async move {
                    loop {
                        let batch = job.fetch(&ctx).await?;
                        if batch.is_empty() {
                            return Ok(());
                        }
                        job.process(&ctx, batch).await?;
                        if !streaming {
                            return Ok(());
                        }
                    }
                })
            }),
        }
    }

    /// A script job: runs `script.command.line` from the job's props with the
    /// sharding context as JSON in its last argument, as ElasticJob does.
    pub fn script() -> Self {
        Job {
            kind: JobKind::Script,
            abortable: false,
            runner: Arc::new(|ctx, settings| {
                let command = settings.script_command.clone();
                Box::pin(async move { run_script(command, &ctx).await })
            }),
        }
    }

    /// An HTTP job: one request per item, configured by the `http.*` props
    /// (see [`crate::http_job`]). Dropping the run stops the request.
    pub fn http() -> Self {
        Job {
            kind: JobKind::Http,
            abortable: true,
            runner: Arc::new(|ctx, settings| {
                let http = settings.http.clone();
                Box::pin(async move { run_http(http.as_deref(), &ctx).await })
            }),
        }
    }

    /// A job from a plain async function, handy in Rust code and tests.
    pub fn from_fn<F, Fut>(f: F) -> Self
    where
        F: Fn(ShardingContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let f = Arc::new(f);
        Job { kind: JobKind::Simple, abortable: true, runner: Arc::new(move |ctx, _| Box::pin(f(ctx))) }
    }

    /// Marks the job as calling code that dropping a future cannot stop
    /// (bindings: Python, Node and C handlers): on cancellation or timeout the
    /// run is only told to stop through its context, and its item stays
    /// running until the call really returns.
    pub fn signal_only(mut self) -> Self {
        self.abortable = false;
        self
    }

    /// Whether dropping a run's future stops it (see [`Job::signal_only`]).
    pub fn is_abortable(&self) -> bool {
        self.abortable
    }

    /// The job's type.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// Starts one item run.
    pub(crate) fn run(&self, ctx: ShardingContext, settings: &JobSettings) -> RunFuture {
        (self.runner)(ctx, settings)
    }
}

/// How long a cancelled script's process group has between SIGTERM and SIGKILL.
const SCRIPT_KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Splits `script.command.line` into the program and its arguments the way
/// Java ElasticJob does (commons-exec's `CommandLine.parse`): whitespace
/// separates arguments; single or double quotes group one, and are removed
/// (`''` is an empty argument); inside one kind of quote the other is an
/// ordinary character. Nothing else is special: no variables, no escapes,
/// no pipes, redirections, globs or `;`. The command comes from the
/// registry's `config` node, so it must never reach a shell; a user who
/// wants one writes `sh -c '...'` themselves.
///
/// Unlike commons-exec, tabs and newlines separate too (a YAML block scalar
/// may hold them), where Java would keep them inside an argument.
fn split_command_line(line: &str) -> crate::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether the current word had quotes: `''` makes an empty argument.
    let mut quoted = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => word.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                quoted = true;
            }
            None if c.is_whitespace() => {
                if quoted || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    quoted = false;
                }
            }
            None => word.push(c),
        }
    }
    if let Some(open) = quote {
        return Err(crate::Error::invalid("script.command.line", line, format!("has an unbalanced {open} quote")));
    }
    if quoted || !word.is_empty() {
        words.push(word);
    }
    if words.is_empty() {
        return Err(crate::Error::invalid("script.command.line", line, "names no program to run"));
    }
    Ok(words)
}

/// Runs a script job's command for one item: the program of
/// `script.command.line` with its arguments (see [`split_command_line`]) and
/// the sharding context as JSON in one last argument, executed directly,
/// without a shell. It runs in a process group of its own, so that when the
/// run is cancelled (timeout, session lost, item moved, shutdown) the whole
/// group is stopped, children the script started included: SIGTERM, then
/// SIGKILL after a short grace.
async fn run_script(command: Option<String>, ctx: &ShardingContext) -> HandlerResult {
    let command = command
        .filter(|c| !c.trim().is_empty())
        .ok_or("script job needs the prop `script.command.line`")?;
    let words = split_command_line(&command)?;
    if let Some(reason) = ctx.cancellation.reason() {
        return Err(format!("script `{command}` was not started: the run was cancelled ({reason})").into());
    }
    let json = serde_json::to_string(ctx)?;
    let child = tokio::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(json)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run script `{command}`: cannot start program `{}`: {e}", words[0]))?;
    // The group id is the program's pid (process_group(0)).
    let mut group = ProcessGroup(child.id());
    let output = child.wait_with_output();
    tokio::pin!(output);
    let output = tokio::select! {
        output = &mut output => output.map_err(|e| format!("cannot run script `{command}`: {e}"))?,
        reason = ctx.cancellation.cancelled() => {
            group.signal(libc::SIGTERM);
            if tokio::time::timeout(SCRIPT_KILL_GRACE, &mut output).await.is_err() {
                group.signal(libc::SIGKILL);
                let _ = tokio::time::timeout(SCRIPT_KILL_GRACE, &mut output).await;
            }
            group.0 = None;
            return Err(format!("script `{command}` was cancelled ({reason}): its process group was stopped").into());
        }
    };
    group.0 = None;
    let printed = script_output(&output.stdout, &output.stderr);
    if !printed.is_empty() {
        tracing::info!(job = %ctx.job_name, item = ctx.sharding_item, "script `{command}` printed:\n{printed}");
        ctx.output.set(printed);
    }
    if output.status.success() {
        return Ok(());
    }
    // One line, which stands alone in listings (`ejob history`, the
    // console): it ends with the script's last word on the matter. The
    // output itself is in the execution record.
    let last = last_line(&output.stderr).or_else(|| last_line(&output.stdout));
    Err(match last {
        Some(line) => format!("script `{command}` exited with {}: {line}", output.status),
        None => format!("script `{command}` exited with {}", output.status),
    }
    .into())
}

/// The last non-blank line a script printed on a stream, if any.
fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes).lines().rev().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

/// How much of a script's output is kept, per stream: its end, where the
/// error usually is (so a record holds about 4 KiB at most).
const SCRIPT_OUTPUT_KEPT: usize = 2000;

/// The ends of a script's stdout and stderr, each labelled, for the log
/// and the execution record's `output`; a cut stream says how much of it
/// was left out.
fn script_output(stdout: &[u8], stderr: &[u8]) -> String {
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end();
        let count = text.chars().count();
        if count <= SCRIPT_OUTPUT_KEPT {
            text.to_string()
        } else {
            let kept: String = text.chars().skip(count - SCRIPT_OUTPUT_KEPT).collect();
            format!("[{} characters left out]\n{kept}", count - SCRIPT_OUTPUT_KEPT)
        }
    };
    let mut out = Vec::new();
    for (name, bytes) in [("stdout", stdout), ("stderr", stderr)] {
        let text = tail(bytes);
        if !text.is_empty() {
            out.push(format!("--- {name} ---\n{text}"));
        }
    }
    out.join("\n")
}

/// A script's process group while it may still hold processes. Dropping it
/// before the script is known to be done (the run's future was dropped)
/// kills the whole group, so no child of the script outlives its run.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    /// Sends `signal` to every process of the group. `killpg` directly: no
    /// helper process to spawn (and reap), and no dependency on a shell.
    fn signal(&self, signal: libc::c_int) {
        let Some(group) = self.0 else { return };
        let Ok(group) = libc::pid_t::try_from(group) else { return };
        // SAFETY: killpg is a system call on two integers; it reads and
        // writes no memory of ours. (The id is the script's own group, made
        // by process_group(0); it is forgotten as soon as the script is known
        // to be done, so it is not one reused by an unrelated group short of
        // a full wrap-around of the pid space.)
        if unsafe { libc::killpg(group, signal) } != 0 {
            let error = std::io::Error::last_os_error();
            // ESRCH: every process of the group has exited already.
            if error.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(group, signal, "cannot signal a script's process group: {error}");
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn ctx(item: u32) -> ShardingContext {
        ShardingContext {
            job_name: "j".into(),
            task_id: "j@-@0@-@READY@-@127.0.0.1@-@1".into(),
            sharding_total_count: 2,
            job_parameter: "p".into(),
            sharding_item: item,
            sharding_parameter: "Beijing".into(),
            fire_time: 1_000,
            fire_time_known: true,
            failover: false,
            fencing_token: 1,
            attempt: 1,
            cancellation: Cancellation::new(),
            output: RunOutput::default(),
        }
    }

    struct Batches(Mutex<Vec<Vec<u32>>>, Mutex<Vec<u32>>);

    #[async_trait]
    impl DataflowJob for Batches {
        type Item = u32;
        async fn fetch(&self, _: &ShardingContext) -> HandlerResult<Vec<u32>> {
            Ok(self.0.lock().unwrap().pop().unwrap_or_default())
        }
        async fn process(&self, _: &ShardingContext, items: Vec<u32>) -> HandlerResult {
            self.1.lock().unwrap().extend(items);
            Ok(())
        }
    }

    #[tokio::test]
    async fn dataflow_streams_until_empty_or_stops_after_one_batch() {
        let job = Arc::new(Batches(Mutex::new(vec![vec![3], vec![1, 2]]), Mutex::new(vec![])));
        struct Shared(Arc<Batches>);
        #[async_trait]
        impl DataflowJob for Shared {
            type Item = u32;
            async fn fetch(&self, c: &ShardingContext) -> HandlerResult<Vec<u32>> {
                self.0.fetch(c).await
            }
            async fn process(&self, c: &ShardingContext, i: Vec<u32>) -> HandlerResult {
                self.0.process(c, i).await
            }
        }
        let dataflow = Job::dataflow(Shared(job.clone()));
        dataflow.run(ctx(0), &JobSettings::default()).await.unwrap();
        assert_eq!(*job.1.lock().unwrap(), vec![1, 2]);
        dataflow.run(ctx(0), &JobSettings { streaming: true, ..Default::default() }).await.unwrap();
        assert_eq!(*job.1.lock().unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn a_script_job_without_a_usable_command_is_refused_when_made() {
        let mut config = crate::JobConfig::new("j", "0/5 * * * * ?", 1);
        for (command, why) in [(None, "needs this prop"), (Some("  "), "needs this prop"), (Some("run 'x"), "unbalanced")] {
            config.props.remove("script.command.line");
            if let Some(command) = command {
                config.props.insert("script.command.line".into(), command.into());
            }
            let message = JobSettings::from_config(&config, JobKind::Script).unwrap_err().to_string();
            assert!(message.contains("script.command.line") && message.contains(why), "{command:?}: {message}");
        }
        // Other job types do not need it.
        config.props.remove("script.command.line");
        JobSettings::from_config(&config, JobKind::Simple).unwrap();
    }

    #[tokio::test]
    async fn a_script_s_stdout_and_stderr_ends_are_its_run_s_output_and_its_failure_is_one_line() {
        let settings = JobSettings {
            script_command: Some("sh -c 'seq 1 5000; echo last-out; echo bad >&2; exit 2'".into()),
            ..Default::default()
        };
        let failing = ctx(0);
        let err = Job::script().run(failing.clone(), &settings).await.unwrap_err().to_string();
        assert!(err.ends_with("exit status: 2: bad") && !err.contains('\n'), "one line says why: {err}");
        let output = failing.output.take().expect("the output is kept");
        assert!(output.contains("--- stdout ---") && output.contains("last-out") && output.contains("--- stderr ---\nbad"), "{output}");
        assert!(output.contains("characters left out") && !output.contains("\n1\n2\n"), "the start of a long output is cut: {output}");
        assert!(output.len() <= 2 * SCRIPT_OUTPUT_KEPT + 100, "bounded: {} bytes", output.len());

        let quiet = ctx(1);
        let succeeding = JobSettings { script_command: Some("sh -c 'echo done'".into()), ..Default::default() };
        Job::script().run(quiet.clone(), &succeeding).await.unwrap();
        assert_eq!(quiet.output.take().as_deref(), Some("--- stdout ---\ndone"), "a successful run's output is kept too");
        let silent = ctx(1);
        Job::script().run(silent.clone(), &JobSettings { script_command: Some("true".into()), ..Default::default() }).await.unwrap();
        assert_eq!(silent.output.take(), None, "nothing printed, no output");
    }

    /// Writes a script that saves each of its arguments after the first on a
    /// line of its own into the file named by the first.
    fn recorder(dir: &std::path::Path) -> std::path::PathBuf {
        let script = dir.join("record.sh");
        std::fs::write(&script, "out=$1\nshift\nfor arg in \"$@\"; do printf '%s\\n' \"$arg\" >>\"$out\"; done\n").unwrap();
        script
    }

    #[tokio::test]
    async fn script_gets_context_json_and_reports_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args.txt");
        let command = format!("sh {} {}", recorder(dir.path()).display(), out.display());
        let settings = JobSettings { script_command: Some(command), ..Default::default() };
        Job::script().run(ctx(1), &settings).await.unwrap();
        let json: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
        assert_eq!(json["jobName"], "j");
        assert_eq!(json["shardingItem"], 1);
        assert_eq!(json["shardingParameter"], "Beijing");
        assert_eq!(json["shardingTotalCount"], 2);

        // A shell only when the user asks for one, as they may.
        let failing =
            JobSettings { script_command: Some("sh -c 'echo boom >&2; exit 3'".into()), ..Default::default() };
        let err = Job::script().run(ctx(0), &failing).await.unwrap_err().to_string();
        assert!(err.contains("boom") && err.contains("3"), "{err}");
        let missing = Job::script().run(ctx(0), &JobSettings::default()).await.unwrap_err().to_string();
        assert!(missing.contains("script.command.line"), "{missing}");
        let absent = JobSettings { script_command: Some("/nonexistent/program --flag".into()), ..Default::default() };
        let err = Job::script().run(ctx(0), &absent).await.unwrap_err().to_string();
        assert!(err.contains("cannot start program `/nonexistent/program`"), "{err}");
    }

    #[test]
    fn command_lines_split_like_commons_exec() {
        let split = |line: &str| split_command_line(line).unwrap();
        assert_eq!(split("  a b   c "), ["a", "b", "c"]);
        assert_eq!(split("printf \"%s %s\" 'x y' ''"), ["printf", "%s %s", "x y", ""]);
        assert_eq!(split("a\"b c\"d"), ["ab cd"], "quotes group inside a word and are removed");
        assert_eq!(split("'it\"s' \"don't\""), ["it\"s", "don't"], "the other quote is an ordinary character");
        assert_eq!(split("a\tb\nc"), ["a", "b", "c"]);
        assert_eq!(split("x $HOME *.txt a|b >out 2>&1 `id` \\n"), ["x", "$HOME", "*.txt", "a|b", ">out", "2>&1", "`id`", "\\n"]);
        for empty in ["", "   ", "\t\n"] {
            let err = split_command_line(empty).unwrap_err().to_string();
            assert!(err.contains("script.command.line") && err.contains("no program"), "{err}");
        }
        for (line, quote) in [("echo \"abc", '"'), ("echo 'a b", '\'')] {
            let err = split_command_line(line).unwrap_err();
            assert!(
                matches!(&err, crate::Error::InvalidConfig { field, value, .. } if field == "script.command.line" && value == line),
                "{err:?}"
            );
            assert!(err.to_string().contains(&format!("unbalanced {quote} quote")), "{err}");
        }
    }

    #[tokio::test]
    async fn shell_syntax_in_a_command_is_passed_as_literal_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args.txt");
        let marker = dir.path().join("pwned");
        let redirected = dir.path().join("redirected");
        let command = format!(
            "sh {} {} %s;echo pwned ; touch {} $(touch {}) >{} $HOME *",
            recorder(dir.path()).display(),
            out.display(),
            marker.display(),
            marker.display(),
            redirected.display()
        );
        let settings = JobSettings { script_command: Some(command), ..Default::default() };
        Job::script().run(ctx(0), &settings).await.unwrap();
        let recorded = std::fs::read_to_string(&out).unwrap();
        let args: Vec<&str> = recorded.lines().collect();
        let marker = marker.display().to_string();
        let expected = [
            "%s;echo",
            "pwned",
            ";",
            "touch",
            &marker,
            "$(touch",
            &format!("{marker})"),
            &format!(">{}", redirected.display()),
            "$HOME",
            "*",
        ];
        assert_eq!(args[..expected.len()], expected, "every word arrives as it was written");
        assert!(args[expected.len()].starts_with("{\"jobName\""), "then the context: {recorded}");
        assert!(!std::path::Path::new(&marker).exists(), "no command after `;` or in `$(...)` ran");
        assert!(!redirected.exists(), "no redirection happened");

        // printf runs alone, with `%s;echo` as its format: a shell would have run echo too.
        let echo = JobSettings { script_command: Some("printf %s;echo pwned".into()), ..Default::default() };
        Job::script().run(ctx(0), &echo).await.unwrap();
        let unbalanced = JobSettings { script_command: Some("echo 'oops".into()), ..Default::default() };
        let err = Job::script().run(ctx(0), &unbalanced).await.unwrap_err().to_string();
        assert!(err.contains("script.command.line") && err.contains("echo 'oops"), "{err}");
    }

    /// Whether a process is alive (a zombie waiting to be reaped is not).
    fn alive(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat.rsplit(')').next().unwrap_or_default().trim_start().starts_with('Z'),
            Err(_) => false,
        }
    }

    async fn wait_for_file(path: &std::path::Path) -> String {
        for _ in 0..200 {
            if let Ok(text) = std::fs::read_to_string(path) {
                if text.ends_with('\n') {
                    return text.trim().to_string();
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("{} never appeared", path.display());
    }

    #[tokio::test]
    async fn a_cancelled_script_and_its_children_are_killed() {
        // Plain: SIGTERM stops both. `trap '' TERM`: the shell and its child
        // ignore SIGTERM, so the group needs the SIGKILL after the grace.
        for trap in ["", "trap '' TERM"] {
            let dir = tempfile::tempdir().unwrap();
            let script = dir.path().join("spawns.sh");
            std::fs::write(
                &script,
                format!("{trap}\necho $$ > {0}/parent.pid\nsleep 60 &\necho $! > {0}/child.pid\nwait\n", dir.path().display()),
            )
            .unwrap();
            let settings = JobSettings { script_command: Some(format!("sh {}", script.display())), ..Default::default() };
            let context = ctx(0);
            let signal = context.cancellation.clone();
            let started = std::time::Instant::now();
            let run = tokio::spawn(Job::script().run(context, &settings));
            let parent = wait_for_file(&dir.path().join("parent.pid")).await;
            let child = wait_for_file(&dir.path().join("child.pid")).await;
            assert!(alive(&parent) && alive(&child), "the script runs until cancelled");
            signal.cancel(crate::cancel::CancelReason::TimedOut);
            let err = run.await.unwrap().unwrap_err().to_string();
            assert!(err.contains("cancelled") && err.contains("timed-out"), "{err}");
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the run ends soon after the cancellation");
            for _ in 0..100 {
                if !alive(&parent) && !alive(&child) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(!alive(&parent), "the script ({trap:?}) still runs");
            assert!(!alive(&child), "the script's child `sleep 60` ({trap:?}) still runs");
        }
    }

    #[tokio::test]
    async fn a_script_of_an_already_cancelled_run_is_not_started() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let settings = JobSettings { script_command: Some(format!("touch {}", marker.display())), ..Default::default() };
        let context = ctx(0);
        context.cancellation.cancel(crate::cancel::CancelReason::Shutdown);
        let err = Job::script().run(context, &settings).await.unwrap_err().to_string();
        assert!(err.contains("shutdown"), "{err}");
        assert!(!marker.exists());
    }
}
