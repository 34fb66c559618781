//! `ejob run --metrics IP:PORT`: the jobs it runs serve their metrics on one
//! endpoint, scraped here while they run on a real ZooKeeper.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zk_harness::ZkServer;

fn scrape(address: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: ejob\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    response.split_once("\r\n\r\n").unwrap().1.to_string()
}

fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|l| l.rsplit_once(' ').filter(|(s, _)| *s == series).and_then(|(_, v)| v.parse().ok()))
}

#[test]
fn run_serves_every_jobs_metrics_on_one_endpoint() {
    let zk = ZkServer::start();
    let sink = zk_harness::HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for job in ["pinged", "polled"] {
        let yaml = dir.path().join(format!("{job}.yaml"));
        let props = format!("props:\n  http.uri: {}\n  http.method: GET\n", sink.url("/ping"));
        std::fs::write(&yaml, format!("jobName: {job}\ncron: '* * * * * ?'\nshardingTotalCount: 2\n{props}")).unwrap();
        files.push(yaml.to_str().unwrap().to_string());
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli-metrics", "--metrics", "127.0.0.1:0", "run"])
        .args(&files)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Read ejob's output to its end, so that it never writes to a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("serving metrics on http://") {
                let _ = tx.send(address.trim_end_matches("/metrics").to_string());
            }
        }
    });
    let address = rx.recv_timeout(Duration::from_secs(30)).expect("ejob says where it serves metrics");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = scrape(&address);
        let done = |job: &str| sample(&text, &format!("elasticjob_executions_total{{job=\"{job}\",outcome=\"succeeded\"}}"));
        if done("pinged").unwrap_or(0) >= 2 && done("polled").unwrap_or(0) >= 2 {
            break text;
        }
        assert!(Instant::now() < deadline, "both jobs ran twice: {text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(sample(&text, "elasticjob_registry_session_state{job=\"pinged\",state=\"connected\"}"), Some(1));
    assert_eq!(sample(&text, "elasticjob_items_owned{job=\"polled\"}"), Some(2));
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(child.wait().unwrap().success());

    let refused = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli-metrics", "--metrics", "localhost", "run", &files[0]])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("metrics_listen `localhost`"));
}
