//! Whether, and if not why, a ZooKeeper connect string can be reached.
//!
//! The ZooKeeper client retries an unreachable ensemble until the session
//! timeout runs out and then reports a bare "timeout", whatever the cause:
//! a typo in a port and a host that does not resolve look the same, and
//! the user waits a minute to learn either. So before the client is asked
//! for a session, each server is resolved and a TCP connection tried, all
//! at once and within the connection timeout; when none answers, the error
//! names each server's cause (refused, unresolvable, timed out).

use crate::error::{Error, Result};
use std::time::Duration;

/// ZooKeeper's client port, which the Java client assumes when a server
/// names none (`ConnectStringParser`).
const DEFAULT_PORT: u16 = 2181;

/// One `host:port` of a connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Server {
    pub(super) host: String,
    pub(super) port: u16,
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The servers of a connect string (`host[:port],…`; IPv6 hosts in
/// brackets); the error names the field and the bad part.
pub(super) fn parse_servers(servers: &str) -> Result<Vec<Server>> {
    let bad = |part: &str, why: &str| Error::invalid("serverLists", servers, format!("`{part}` {why}"));
    let mut out = Vec::new();
    for part in servers.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(bad(part, "is an empty server entry"));
        }
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad(part, "has an unclosed `[`"))?;
            (host, after.strip_prefix(':'))
        } else if part.matches(':').count() > 1 {
            return Err(bad(part, "looks like an IPv6 address: write it as `[address]:port`"));
        } else {
            match part.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (part, None),
            }
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad(part, "has no host name"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| bad(part, "has a port that is not a number from 1 to 65535"))?,
        };
        out.push(Server { host: host.to_string(), port });
    }
    Ok(out)
}

/// The connect string the client is given: every server with its port.
pub(super) fn connect_string(servers: &[Server]) -> String {
    servers.iter().map(Server::to_string).collect::<Vec<_>>().join(",")
}

/// `Ok` when at least one server accepts a TCP connection within `timeout`;
/// otherwise every server's cause, in order. The servers are tried at once.
pub(super) async fn reach(servers: &[Server], timeout: Duration) -> std::result::Result<(), String> {
    let attempts: Vec<_> = servers
        .iter()
        .cloned()
        .map(|server| {
            tokio::spawn(async move {
                let outcome = match tokio::time::timeout(timeout, try_server(&server)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("no answer within the connection timeout ({} ms)", timeout.as_millis())),
                };
                outcome.map_err(|cause| format!("{server}: {cause}"))
            })
        })
        .collect();
    let mut reached = false;
    let mut causes = Vec::new();
    for attempt in attempts {
        match attempt.await {
            Ok(Ok(())) => reached = true,
            Ok(Err(cause)) => causes.push(cause),
            Err(e) => causes.push(format!("the probe failed: {e}")),
        }
    }
    if reached { Ok(()) } else { Err(causes.join("; ")) }
}

/// Resolves `server` and connects to its addresses in turn.
async fn try_server(server: &Server) -> std::result::Result<(), String> {
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((server.host.as_str(), server.port)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => return Err(format!("cannot resolve the host name ({e})")),
    };
    if addrs.is_empty() {
        return Err("the host name resolves to no address".into());
    }
    let mut last = String::new();
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = format!("connection refused at {addr} (nothing listens on that port)")
            }
            Err(e) => last = format!("cannot connect to {addr} ({e})"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16) -> Server {
        Server { host: host.into(), port }
    }

    #[test]
    fn servers_are_parsed_with_java_s_default_port() {
        assert_eq!(
            parse_servers("a:1, b ,[::1]:3").unwrap(),
            vec![server("a", 1), server("b", 2181), server("::1", 3)]
        );
        assert_eq!(connect_string(&parse_servers("a,[::1]:3").unwrap()), "a:2181,[::1]:3");
    }

    #[test]
    fn bad_entries_are_named() {
        for (input, part) in [("a:x", "a:x"), ("a:0", "a:0"), ("a,,b", ""), ("::1:2", "::1:2"), ("[::1:2", "[::1:2"), (":2181", ":2181")] {
            let message = parse_servers(input).unwrap_err().to_string();
            assert!(message.contains("serverLists") && message.contains(&format!("`{part}`")), "{input}: {message}");
        }
    }

    #[tokio::test]
    async fn each_server_s_cause_is_named() {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let servers = vec![server("127.0.0.1", closed), server("no-such-host.invalid", 2181)];
        let started = std::time::Instant::now();
        let cause = reach(&servers, Duration::from_secs(3)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        assert!(cause.contains(&format!("127.0.0.1:{closed}: connection refused")), "{cause}");
        assert!(cause.contains("no-such-host.invalid:2181: cannot resolve the host name"), "{cause}");
    }

    #[tokio::test]
    async fn one_listening_server_is_enough() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let servers = vec![server("no-such-host.invalid", 2181), server("127.0.0.1", port)];
        assert_eq!(reach(&servers, Duration::from_secs(3)).await, Ok(()));
    }
}
