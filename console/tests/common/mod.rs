//! What the console's integration tests share: a users file, an HTTP
//! client that speaks the console's authentication and CSRF rules, a
//! reader of the live event stream, and waiting for a condition.

#![allow(dead_code)]

use elasticjob_console::auth::password::{PasswordHash, TokenHash, MIN_ITERATIONS};
use elasticjob_console::{Console, ConsoleOptions};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const OPERATOR: (&str, &str) = ("olga", "operator-password-1");
pub const VIEWER: (&str, &str) = ("victor", "viewer-password-1");
pub const TOKEN: &str = "prometheus-scrape-token-0123456789abcdef";

/// A users file with an operator, a viewer (passwords) and a viewer token.
pub fn users_file(dir: &Path) -> PathBuf {
    let path = dir.join("users");
    let operator = PasswordHash::new(OPERATOR.1, MIN_ITERATIONS).unwrap();
    let viewer = PasswordHash::new(VIEWER.1, MIN_ITERATIONS).unwrap();
    let text = format!(
        "# console users\n{}:operator:{operator}\n{}:viewer:{viewer}\nscraper:viewer:{}\n",
        OPERATOR.0,
        VIEWER.0,
        TokenHash::of(TOKEN)
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Options with short delays, so tests see changes quickly.
pub fn quick(mut options: ConsoleOptions) -> ConsoleOptions {
    options.debounce = Duration::from_millis(50);
    options.history_delay = Duration::from_millis(300);
    options.history_interval = Duration::from_millis(700);
    options
}

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic(&'static str, &'static str),
    Bearer(&'static str),
    /// A login cookie and its CSRF token.
    Login(String, String),
}

/// An answer: status and body as JSON (or text in `Value::String`).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

/// A client of one console.
pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(console: &Console) -> Self {
        Client {
            base: format!("http://{}", console.local_addr()),
            http: reqwest::Client::new(),
        }
    }

    fn authed(&self, request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
        match auth {
            Auth::None => request,
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Login(cookie, csrf) => {
                request.header("cookie", cookie).header("x-ejob-csrf", csrf)
            }
        }
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Answer {
        let request = self.authed(self.http.get(format!("{}{path}", self.base)), auth);
        Self::answer(request.send().await.unwrap()).await
    }

    /// A POST as the console's page sends it: JSON body and the CSRF header
    /// (the login's token for logins, any value otherwise).
    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if !matches!(auth, Auth::Login(..)) {
            request = request.header("x-ejob-csrf", "1");
        }
        let request = self.authed(request, auth).body(body.to_string());
        Self::answer(request.send().await.unwrap()).await
    }

    /// A POST with exactly the given headers (CSRF tests).
    pub async fn post_raw(&self, path: &str, auth: &Auth, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body("{}");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Self::answer(self.authed(request, auth).send().await.unwrap()).await
    }

    /// Logs in; the cookie and CSRF token of the new login.
    pub async fn login(&self, user: &str, password: &str) -> Answer {
        let request = self
            .http
            .post(format!("{}/api/login", self.base))
            .header("content-type", "application/json")
            .header("x-ejob-csrf", "login")
            .body(serde_json::json!({ "name": user, "password": password }).to_string());
        Self::answer(request.send().await.unwrap()).await
    }

    /// Opens the live event stream.
    pub async fn events(&self, auth: &Auth) -> Events {
        let request = self.authed(self.http.get(format!("{}/api/events", self.base)), auth);
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "the event stream opens");
        Events {
            response,
            buffer: String::new(),
        }
    }
}

/// A reader of the live event stream.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// The next `state` event's view.
    pub async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                    if event
                        .lines()
                        .any(|l| l == "event: state" || l == "event:state")
                    {
                        return serde_json::from_str(data.trim_start())
                            .expect("state events carry JSON");
                    }
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("an event within 20 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads events until `check` accepts one (30 s at most).
    pub async fn until(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let wait = async {
            loop {
                let view = self.next().await;
                if check(&view) {
                    return view;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("no event showed {what} within 30 s"))
    }
}

/// Waits up to 30 s for `check` to give `Some`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The job called `name` in a view.
pub fn job<'a>(view: &'a Value, name: &str) -> Option<&'a Value> {
    view["registry"]["jobs"]
        .as_array()?
        .iter()
        .find(|j| j["job_name"] == name)
}

/// The state of item `item` of job `name` in a view.
pub fn item_state(view: &Value, name: &str, item: u64) -> Option<String> {
    let job = job(view, name)?;
    job["items"]
        .as_array()?
        .iter()
        .find(|i| i["item"] == item)
        .and_then(|i| i["state"].as_str())
        .map(String::from)
}
