//! A TCP proxy between clients and a ZooKeeper server that a test can freeze.
//!
//! Freezing models a paused process or a network partition: bytes stop
//! flowing both ways while the connections stay open, so the server stops
//! hearing pings and expires the session on its own after the timeout —
//! a real server-side expiry, not a simulated one. Severing models the
//! opposite fault: every connection drops at once but the session lives.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A freezable loopback proxy in front of one server address.
pub struct FreezableProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl FreezableProxy {
    /// Starts forwarding `127.0.0.1:<new free port>` to `target` (`host:port`).
    pub fn start(target: &str) -> FreezableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy port on 127.0.0.1");
        let port = listener.local_addr().expect("proxy address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let target = target.to_string();
        let (f, s, c) = (frozen.clone(), stopped.clone(), connections.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                {
                    let mut all = c.lock().unwrap();
                    all.push(client.try_clone().expect("clone client stream"));
                    all.push(server.try_clone().expect("clone server stream"));
                }
                pump(client.try_clone().expect("clone"), server.try_clone().expect("clone"), f.clone());
                pump(server, client, f.clone());
            }
        });
        FreezableProxy { port, frozen, stopped, connections }
    }

    /// The address clients should connect to.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops all traffic; connections stay open.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Lets traffic flow again.
    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }

    /// Closes every current connection at once, both ends, while the proxy
    /// keeps accepting new ones: what a client sees when the ZooKeeper
    /// server it talks to loses leadership or the network blips. Requests in
    /// flight (also ones held by [`FreezableProxy::freeze`], which are then
    /// never delivered) fail with a connection loss, and the client
    /// reconnects within its session, which the server keeps alive.
    pub fn sever(&self) {
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FreezableProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.thaw();
        self.sever();
        // Wake the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies bytes from `from` to `to`, holding each chunk while frozen.
fn pump(mut from: TcpStream, mut to: TcpStream, frozen: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let read = from.read(&mut buf);
            // Hold data and hang-ups alike while frozen.
            while frozen.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(10));
            }
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
