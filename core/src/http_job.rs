//! HTTP jobs (ElasticJob's `HTTP` type): each item run is one HTTP request,
//! configured entirely by the job's props, so an HTTP job needs no code in
//! any language. As in ElasticJob, the sharding context travels as JSON in
//! the request header `shardingContext`; `http.data` is the body of POST and
//! PUT requests and the query string of every other method; any status
//! outside 2xx fails the run.
//!
//! The run is a Rust future: a timeout or cancellation drops it, which
//! closes the connection, so an HTTP job is stopped at once.

use crate::error::{Error, Result};
use crate::job::{HandlerResult, ShardingContext};
use crate::props::Props;
use std::collections::BTreeMap;
use std::time::Duration;

/// `http.uri`: where to send the request (required).
pub const URI_PROP: &str = "http.uri";
/// `http.url`: the name ElasticJob 3.0.0 gave `http.uri`, still read.
pub const LEGACY_URI_PROP: &str = "http.url";
/// `http.method`: `GET`, `POST`, ... (required).
pub const METHOD_PROP: &str = "http.method";
/// `http.data`: body of POST/PUT, query string otherwise.
pub const DATA_PROP: &str = "http.data";
/// `http.connect.timeout.milliseconds` (default 3000).
pub const CONNECT_TIMEOUT_PROP: &str = "http.connect.timeout.milliseconds";
/// `http.read.timeout.milliseconds` (default 5000): the longest wait for
/// any read of the answer.
pub const READ_TIMEOUT_PROP: &str = "http.read.timeout.milliseconds";
/// `http.content.type`: the `Content-Type` header, if set.
pub const CONTENT_TYPE_PROP: &str = "http.content.type";
/// The request header that carries the sharding context as JSON (ElasticJob's name).
pub const SHARDING_CONTEXT_HEADER: &str = "shardingContext";

/// How much of a failed answer's body a failure message quotes.
const BODY_EXCERPT_CHARS: usize = 200;

/// An HTTP job's settings, parsed and checked once per configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    method: reqwest::Method,
    /// The URI with `http.data` as its query string for non-write methods.
    url: reqwest::Url,
    /// The body (write methods only).
    body: Option<String>,
    content_type: Option<reqwest::header::HeaderValue>,
    connect_timeout: Duration,
    read_timeout: Duration,
    /// Built for these timeouts; shared by every run of this configuration,
    /// so connections are reused.
    client: reqwest::Client,
}

impl HttpSettings {
    /// Reads and checks the `http.*` props; errors name the key and value.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self> {
        let props = Props(props);
        let uri_key = if props.get(URI_PROP).is_none() && props.get(LEGACY_URI_PROP).is_some() {
            LEGACY_URI_PROP
        } else {
            URI_PROP
        };
        let mut url = props.url(uri_key, "for an HTTP job")?;
        let method_text = props.required(METHOD_PROP, "for an HTTP job")?;
        let method = reqwest::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes())
            .map_err(|_| Error::invalid(METHOD_PROP, method_text, "is not an HTTP method"))?;
        let data = props.0.get(DATA_PROP).filter(|d| !d.is_empty()).cloned();
        // ElasticJob's rule: POST and PUT carry the data as their body,
        // every other method as the query string.
        let writes = method == reqwest::Method::POST || method == reqwest::Method::PUT;
        let body = match data {
            Some(data) if !writes => {
                let joined = match url.query() {
                    Some(existing) if !existing.is_empty() => format!("{existing}&{data}"),
                    _ => data,
                };
                url.set_query(Some(&joined));
                None
            }
            data => data,
        };
        let content_type = match props.get(CONTENT_TYPE_PROP) {
            None => None,
            Some(text) => Some(
                reqwest::header::HeaderValue::from_str(text)
                    .map_err(|_| Error::invalid(CONTENT_TYPE_PROP, text, "is not a valid header value"))?,
            ),
        };
        let connect_timeout = props.millis(CONNECT_TIMEOUT_PROP, 3000)?;
        let read_timeout = props.millis(READ_TIMEOUT_PROP, 5000)?;
        let client = client(connect_timeout, read_timeout)
            .map_err(|e| Error::invalid(URI_PROP, url.as_str(), format!("cannot make an HTTP client: {e}")))?;
        Ok(HttpSettings { method, url, body, content_type, connect_timeout, read_timeout, client })
    }

    /// The request's method.
    pub fn method(&self) -> &reqwest::Method {
        &self.method
    }

    /// The request's URL (with `http.data` as query for non-write methods).
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }
}

/// An HTTP client with connect and per-read timeouts, TLS by rustls, and no
/// proxy taken from the environment (as Java's `HttpURLConnection`), so a
/// job reaches exactly the address its props name.
pub(crate) fn client(connect: Duration, read: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().connect_timeout(connect).read_timeout(read).no_proxy().build()
}

/// The sharding context as JSON made of ASCII only: header values must be
/// visible ASCII, and a parameter may hold any text. Non-ASCII characters,
/// which occur only inside JSON strings, become `\uXXXX` escapes.
fn header_json(ctx: &ShardingContext) -> Result<String> {
    let json = serde_json::to_string(ctx).map_err(|e| Error::Handler(e.to_string()))?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

/// What went wrong with a request, in words: timeouts and refused
/// connections say so, with the prop that sets the limit.
pub(crate) fn describe(error: &reqwest::Error, connect: Duration, read: Duration, connect_key: &str, read_key: &str) -> String {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_connect() && error.is_timeout() {
        format!("connect timed out after {} ms ({connect_key}): {detail}", connect.as_millis())
    } else if error.is_timeout() {
        format!("read timed out after {} ms ({read_key}): {detail}", read.as_millis())
    } else if error.is_connect() {
        format!("cannot connect: {detail}")
    } else {
        detail
    }
}

/// The first [`BODY_EXCERPT_CHARS`] characters of a body, marked if cut.
pub(crate) fn excerpt(body: &str) -> String {
    let body = body.trim();
    let mut cut: String = body.chars().take(BODY_EXCERPT_CHARS).collect();
    if cut.len() < body.len() {
        cut.push('…');
    }
    cut
}

/// Runs one item: one request; a non-2xx answer, a timeout or a failed
/// connection fails the run with a message that says which. Told to stop,
/// it drops the request at once rather than wait to be dropped.
pub(crate) async fn run_http(settings: Option<&HttpSettings>, ctx: &ShardingContext) -> HandlerResult {
    let settings = settings.ok_or_else(|| format!("an HTTP job needs the prop `{URI_PROP}` and `{METHOD_PROP}`"))?;
    tokio::select! {
        result = request(settings, ctx) => result,
        reason = ctx.cancellation.cancelled() => {
            Err(format!("http job {} {} was cancelled ({reason}): the request was dropped", settings.method, settings.url).into())
        }
    }
}

async fn request(settings: &HttpSettings, ctx: &ShardingContext) -> HandlerResult {
    let (method, url) = (&settings.method, &settings.url);
    let fail = |e: reqwest::Error| {
        let what = describe(&e, settings.connect_timeout, settings.read_timeout, CONNECT_TIMEOUT_PROP, READ_TIMEOUT_PROP);
        format!("http job {method} {url} failed: {what}")
    };
    let mut request = settings.client.request(method.clone(), url.clone()).header(SHARDING_CONTEXT_HEADER, header_json(ctx)?);
    if let Some(kind) = &settings.content_type {
        request = request.header(reqwest::header::CONTENT_TYPE, kind.clone());
    }
    if let Some(body) = &settings.body {
        request = request.body(body.clone());
    }
    let mut response = request.send().await.map_err(fail)?;
    let status = response.status();
    if status.is_success() {
        // Read the answer to its end, as ElasticJob does: a server that
        // stalls mid-answer is a read timeout, not a success.
        while response.chunk().await.map_err(fail)?.is_some() {}
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(format!("http job {method} {url} answered {status}: {}", excerpt(&body)).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Job, JobKind, JobSettings};
    use std::sync::Arc;
    use zk_harness::{closed_port, HttpSink, Reply};

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn settings(pairs: &[(&str, &str)]) -> JobSettings {
        JobSettings { http: Some(Arc::new(HttpSettings::from_props(&props(pairs)).unwrap())), ..Default::default() }
    }

    fn ctx(item: u32) -> ShardingContext {
        let mut ctx = ShardingContext::new("orders", 4, item, 1_700_000_000_000);
        ctx.sharding_parameter = "北京".into();
        ctx
    }

    #[tokio::test]
    async fn a_post_carries_context_header_body_and_content_type() {
        let sink = HttpSink::start();
        let uri = sink.url("/run?x=1");
        let job = Job::http();
        assert_eq!(job.kind(), JobKind::Http);
        assert!(job.is_abortable());
        let s = settings(&[
            (URI_PROP, &uri),
            (METHOD_PROP, "post"),
            (DATA_PROP, "{\"a\":1}"),
            (CONTENT_TYPE_PROP, "application/json"),
        ]);
        job.run(ctx(2), &s).await.unwrap();
        let request = &sink.requests()[0];
        assert_eq!((request.method.as_str(), request.target.as_str()), ("POST", "/run?x=1"));
        assert_eq!(request.body, "{\"a\":1}");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let context: serde_json::Value = serde_json::from_str(request.header(SHARDING_CONTEXT_HEADER).unwrap()).unwrap();
        assert_eq!(context["jobName"], "orders");
        assert_eq!(context["shardingItem"], 2);
        assert_eq!(context["shardingTotalCount"], 4);
        assert_eq!(context["shardingParameter"], "北京", "non-ASCII text survives the header as \\u escapes");
    }

    #[tokio::test]
    async fn a_get_sends_data_as_query_string_and_no_body() {
        let sink = HttpSink::start();
        for (uri, expected) in [(sink.url("/q"), "/q?a=1&b=2"), (sink.url("/q?z=0"), "/q?z=0&a=1&b=2")] {
            let s = settings(&[(URI_PROP, &uri), (METHOD_PROP, "GET"), (DATA_PROP, "a=1&b=2")]);
            Job::http().run(ctx(0), &s).await.unwrap();
            let request = sink.requests().pop().unwrap();
            assert_eq!((request.method.as_str(), request.target.as_str(), request.body.as_str()), ("GET", expected, ""));
            assert_eq!(request.header("content-type"), None);
        }
        // ElasticJob 3.0.0's name for the URI is still read.
        let s = settings(&[(LEGACY_URI_PROP, &sink.url("/old")), (METHOD_PROP, "DELETE")]);
        Job::http().run(ctx(0), &s).await.unwrap();
        assert_eq!(sink.requests().pop().unwrap().method, "DELETE");
    }

    #[tokio::test]
    async fn a_4xx_or_5xx_answer_fails_with_status_and_a_body_excerpt() {
        let long = "x".repeat(500);
        let sink = HttpSink::start();
        sink.script([Reply::new(404, "no such order"), Reply::new(503, &long)]);
        let s = settings(&[(URI_PROP, &sink.url("/")), (METHOD_PROP, "GET")]);
        let err = Job::http().run(ctx(0), &s).await.unwrap_err().to_string();
        assert!(err.contains("404") && err.contains("no such order"), "{err}");
        let err = Job::http().run(ctx(0), &s).await.unwrap_err().to_string();
        assert!(err.contains("503"), "{err}");
        assert!(err.contains(&"x".repeat(200)) && !err.contains(&"x".repeat(201)), "the body is cut at 200 characters: {err}");
    }

    #[tokio::test]
    async fn a_slow_answer_is_a_read_timeout() {
        let sink = HttpSink::answering(Reply::new(200, "late").after(Duration::from_secs(3)));
        let s = settings(&[(URI_PROP, &sink.url("/slow")), (METHOD_PROP, "GET"), (READ_TIMEOUT_PROP, "200")]);
        let started = std::time::Instant::now();
        let err = Job::http().run(ctx(0), &s).await.unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(2), "gave up after {:?}", started.elapsed());
        assert!(err.contains("read timed out after 200 ms") && err.contains(READ_TIMEOUT_PROP), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_fails_clearly() {
        let uri = format!("http://127.0.0.1:{}/", closed_port());
        let s = settings(&[(URI_PROP, &uri), (METHOD_PROP, "GET")]);
        let err = Job::http().run(ctx(0), &s).await.unwrap_err().to_string();
        assert!(err.contains("cannot connect") && err.contains(&uri), "{err}");
    }

    #[tokio::test]
    async fn a_cancelled_run_drops_its_request_at_once() {
        let sink = HttpSink::answering(Reply::new(200, "late").after(Duration::from_secs(5)));
        let s = settings(&[(URI_PROP, &sink.url("/slow")), (METHOD_PROP, "GET")]);
        let context = ctx(0);
        let signal = context.cancellation.clone();
        let run = tokio::spawn(Job::http().run(context, &s));
        while sink.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = std::time::Instant::now();
        signal.cancel(crate::cancel::CancelReason::Shutdown);
        let err = run.await.unwrap().unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert!(err.contains("cancelled") && err.contains("shutdown"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_configuration_fails_the_run() {
        let err = Job::http().run(ctx(0), &JobSettings::default()).await.unwrap_err().to_string();
        assert!(err.contains(URI_PROP), "{err}");
    }

    #[test]
    fn bad_props_are_named_with_their_values() {
        // (props, the key the error names, text the error holds)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[(METHOD_PROP, "GET")], URI_PROP, "must be set"),
            (&[(URI_PROP, "not a uri"), (METHOD_PROP, "GET")], URI_PROP, "not a uri"),
            (&[(URI_PROP, "ftp://h/x"), (METHOD_PROP, "GET")], URI_PROP, "ftp://h/x"),
            (&[(URI_PROP, "http://h/")], METHOD_PROP, "must be set"),
            (&[(URI_PROP, "http://h/"), (METHOD_PROP, "GE T")], METHOD_PROP, "GE T"),
            (&[(URI_PROP, "http://h/"), (METHOD_PROP, "GET"), (CONNECT_TIMEOUT_PROP, "0")], CONNECT_TIMEOUT_PROP, "`0`"),
            (&[(URI_PROP, "http://h/"), (METHOD_PROP, "GET"), (READ_TIMEOUT_PROP, "5s")], READ_TIMEOUT_PROP, "5s"),
            (&[(URI_PROP, "http://h/"), (METHOD_PROP, "GET"), (CONTENT_TYPE_PROP, "a\u{1}b")], CONTENT_TYPE_PROP, "a\u{1}b"),
        ];
        for (pairs, key, needle) in cases {
            let err = HttpSettings::from_props(&props(pairs)).unwrap_err();
            assert!(matches!(&err, Error::InvalidConfig { field, .. } if field == key), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
