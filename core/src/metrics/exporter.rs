//! The opt-in `/metrics` endpoint: one per process, serving every
//! scheduler's figures (see [`super::registry`]).
//!
//! The core otherwise runs no HTTP server, so this is a deliberately tiny
//! one on plain tokio rather than a web framework: it answers `GET
//! /metrics` (query strings ignored) and 404 to anything else, reads at
//! most [`MAX_REQUEST`] bytes of request head, gives each connection
//! [`REQUEST_TIME`] in all, serves at most [`MAX_CONNECTIONS`] at once and
//! closes every connection after one response. Nothing it does reaches
//! the scheduler but a read of counters, so it needs no authentication;
//! bind it to a non-loopback address only where the figures (job names,
//! counts) may be read by the network.
//!
//! It runs on the core's [`crate::runtime::shared`] runtime, whichever
//! runtime built the scheduler, and lives while some scheduler that asked
//! for it exists: the last one dropped stops it and frees the port.

use crate::error::{Error, Result};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// A request head longer than this is refused (431).
pub const MAX_REQUEST: usize = 8 * 1024;
/// The longest one connection may take, from accept to the last byte sent.
pub const REQUEST_TIME: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 16;

/// A running endpoint; dropping the last handle stops it.
#[derive(Debug)]
pub(crate) struct Exporter {
    /// The address asked for (port 0 means "any free port").
    requested: SocketAddr,
    /// The address it listens on.
    bound: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Exporter {
    pub(crate) fn address(&self) -> SocketAddr {
        self.bound
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

fn current() -> &'static Mutex<Weak<Exporter>> {
    static CURRENT: OnceLock<Mutex<Weak<Exporter>>> = OnceLock::new();
    CURRENT.get_or_init(Mutex::default)
}

/// Parses a listen address as the options take it (`127.0.0.1:9464`,
/// `[::1]:9464`, `0.0.0.0:9464`; port 0 picks a free port).
pub(crate) fn parse_address(text: &str) -> Result<SocketAddr> {
    text.trim().parse().map_err(|_| {
        Error::invalid("metrics_listen", text, "must be IP:PORT, e.g. 127.0.0.1:9464 (a host name is not resolved)")
    })
}

/// The process's endpoint on `address`: the one already running there, or
/// a new one. Another address while one runs is refused, naming both.
pub(crate) fn serve(address: SocketAddr) -> Result<Arc<Exporter>> {
    let mut current = current().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(running) = current.upgrade() {
        if address == running.requested || address == running.bound {
            return Ok(running);
        }
        return Err(Error::invalid(
            "metrics_listen",
            address,
            format!("this process already serves metrics on {} (one endpoint per process serves every job)", running.bound),
        ));
    }
    let listener = std::net::TcpListener::bind(address)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Error::invalid("metrics_listen", address, format!("cannot listen there: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::invalid("metrics_listen", address, e.to_string()))?;
    let runtime = crate::runtime::shared();
    let listener = {
        let _entered = runtime.enter();
        TcpListener::from_std(listener).map_err(|e| Error::invalid("metrics_listen", address, e.to_string()))?
    };
    let (stop, stopped) = watch::channel(false);
    runtime.spawn(accept(listener, stopped));
    tracing::info!(%bound, "serving metrics on http://{bound}/metrics");
    let exporter = Arc::new(Exporter { requested: address, bound, stop });
    *current = Arc::downgrade(&exporter);
    Ok(exporter)
}

async fn accept(listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stop.changed() => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause, do not spin.
                    tracing::warn!("metrics endpoint: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REQUEST_TIME, respond(stream)).await;
        });
    }
}

/// Reads one request head and answers it.
async fn respond(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while head_end(&head).is_none() {
        if head.len() > MAX_REQUEST {
            return reply(&mut stream, "431 Request Header Fields Too Large", "request too large\n").await;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    if method == "GET" && path == "/metrics" {
        return reply(&mut stream, "200 OK", &super::registry::render()).await;
    }
    reply(&mut stream, "404 Not Found", "not found: the only resource is GET /metrics\n").await
}

/// Where a request head ends (after its blank line), if it has.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    crlf.or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
}

async fn reply(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let content_type =
        if status.starts_with("200") { "text/plain; version=0.0.4; charset=utf-8" } else { "text/plain; charset=utf-8" };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request over a plain socket; the whole answer.
    async fn ask(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    // One test: the endpoint is process-wide, so tests of it must not overlap.
    async fn only_get_metrics_is_served_a_second_address_is_refused_and_idle_clients_dropped() {
        let exporter = serve(parse_address("127.0.0.1:0").unwrap()).unwrap();
        let address = exporter.address();
        let ok = ask(address, b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Connection: close\r\n") && ok.contains("text/plain; version=0.0.4"), "{ok}");
        for request in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"POST /metrics HTTP/1.1\r\n\r\n", b"GET /metricsx HTTP/1.0\n\n"] {
            let answer = ask(address, request).await;
            assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
        }
        let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_REQUEST + 10));
        assert!(ask(address, &huge).await.starts_with("HTTP/1.1 431"));
        // The same address (asked or bound) shares the endpoint; another one is refused by name.
        assert_eq!(serve(address).unwrap().address(), address);
        let other: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let refused = serve(other).unwrap_err().to_string();
        assert!(refused.contains("127.0.0.1:1") && refused.contains(&address.to_string()), "{refused}");
        assert!(parse_address("localhost:9464").unwrap_err().to_string().contains("metrics_listen"));
        // The last handle gone, the port is free and another address may be served.
        drop(exporter);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(TcpStream::connect(address).await.is_err(), "the endpoint stopped");
        let next = serve(parse_address("127.0.0.1:0").unwrap()).unwrap();
        // A client that sends nothing is dropped after the request time.
        let mut idle = TcpStream::connect(next.address()).await.unwrap();
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(REQUEST_TIME + Duration::from_secs(2), idle.read(&mut buffer)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed by the server, not left open: {read:?}");
    }
}
