//! A tiny HTTP/1.1 server on a free loopback port that records every request
//! and answers with what the test scripted: the far end of HTTP jobs and
//! webhook notifiers in tests, so no test ever talks to a real service.
//!
//! Plain threads, no async runtime: it works the same under any test
//! framework, and a test blocked waiting for a request cannot starve it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query, e.g. `/hook?x=1`.
    pub target: String,
    /// Header names lower-cased, values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl Request {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`, still percent-encoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query.split('&').filter_map(|pair| pair.split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// An answer the sink gives.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body (sent as `text/plain` unless it looks like JSON).
    pub body: String,
    /// How long to wait before answering (to provoke read timeouts).
    pub delay: Duration,
}

impl Reply {
    /// `status` with `body`, at once.
    pub fn new(status: u16, body: &str) -> Reply {
        Reply { status, body: body.to_string(), delay: Duration::ZERO }
    }

    /// The same answer after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    /// Answers still to give, in order; then `fallback`.
    script: VecDeque<Reply>,
    fallback: Option<Reply>,
}

/// The sink; it stops accepting when dropped.
pub struct HttpSink {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl HttpSink {
    /// Starts a sink that answers `200 ok` to everything.
    pub fn start() -> HttpSink {
        HttpSink::answering(Reply::new(200, "ok"))
    }

    /// Starts a sink whose answer, once the script runs out, is `fallback`.
    pub fn answering(fallback: Reply) -> HttpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an HTTP sink on 127.0.0.1");
        let port = listener.local_addr().expect("sink address").port();
        let state = Arc::new((Mutex::new(State { fallback: Some(fallback), ..State::default() }), Condvar::new()));
        let weak = Arc::downgrade(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Some(state) = weak.upgrade() else { return };
                let Ok(stream) = stream else { continue };
                thread::spawn(move || serve(stream, state));
            }
        });
        HttpSink { port, state }
    }

    /// Queues answers for the next requests, before the fallback.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.0.lock().unwrap().script.extend(replies);
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The sink's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.0.lock().unwrap().requests.clone()
    }

    /// Waits until `count` requests came (or `limit` passed); returns them all.
    pub fn wait_for(&self, count: usize, limit: Duration) -> Vec<Request> {
        let deadline = Instant::now() + limit;
        let (lock, ready) = &*self.state;
        let mut state = lock.lock().unwrap();
        while state.requests.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = ready.wait_timeout(state, left).unwrap().0;
        }
        state.requests.clone()
    }
}

/// Serves one connection: requests one after another (keep-alive).
fn serve(stream: TcpStream, state: Arc<(Mutex<State>, Condvar)>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else { return };
        let reply = {
            let (lock, ready) = &*state;
            let mut state = lock.lock().unwrap();
            state.requests.push(request);
            ready.notify_all();
            state.script.pop_front().or_else(|| state.fallback.clone()).expect("a fallback reply")
        };
        thread::sleep(reply.delay);
        let kind = if reply.body.starts_with('{') { "application/json" } else { "text/plain" };
        let head = format!(
            "HTTP/1.1 {} Sink\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\r\n",
            reply.status,
            reply.body.len()
        );
        if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(reply.body.as_bytes())).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A loopback port with nothing listening on it: connecting is refused.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}
