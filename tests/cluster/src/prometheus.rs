//! Reading a worker's `/metrics` endpoint from a test: one plain HTTP GET
//! (the endpoint closes the connection after its answer) and the samples
//! of the Prometheus text format by series, as written.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

/// The body of `GET /metrics` at `address` (`IP:PORT`), or why there is none.
pub fn scrape(address: &str) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| format!("connect {address}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("read {address}: {e}"))?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| format!("no HTTP answer: {response:?}"))?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(format!("GET /metrics answered {}", head.lines().next().unwrap_or_default()));
    }
    Ok(body.to_string())
}

/// Every sample: `name{labels}` exactly as written → its value.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The scraped samples of one job: `name{job="J",rest}` is found as `name{rest}`
/// (`name` when `rest` is empty).
pub fn job_samples(text: &str, job: &str) -> BTreeMap<String, f64> {
    let label = format!("job=\"{job}\"");
    parse(text)
        .into_iter()
        .filter_map(|(series, value)| {
            let (name, labels) = series.split_once('{')?;
            let labels = labels.strip_suffix('}')?;
            let rest = labels.strip_prefix(&label)?;
            let rest = rest.strip_prefix(',').unwrap_or(rest);
            let key = if rest.is_empty() { name.to_string() } else { format!("{name}{{{rest}}}") };
            Some((key, value))
        })
        .collect()
}
