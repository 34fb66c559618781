//! A tiny SMTP server on a free loopback port that accepts every message
//! and records it: the far end of the EMAIL error handler in tests. It
//! speaks just enough of RFC 5321 for a client (EHLO, AUTH PLAIN/LOGIN,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT) and offers no TLS.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One message the sink accepted.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// The decoded `AUTH` credentials (`user`, `password`), if the client authenticated.
    pub auth: Option<(String, String)>,
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub to: Vec<String>,
    /// The message (headers and body) as sent, dot-unstuffed.
    pub data: String,
}

/// The sink; it stops accepting when dropped.
pub struct SmtpSink {
    port: u16,
    mails: Arc<(Mutex<Vec<Mail>>, Condvar)>,
}

impl SmtpSink {
    /// Starts a sink on a free loopback port.
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an SMTP sink on 127.0.0.1");
        let port = listener.local_addr().expect("sink address").port();
        let mails = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let weak = Arc::downgrade(&mails);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Some(mails) = weak.upgrade() else { return };
                let Ok(stream) = stream else { continue };
                thread::spawn(move || {
                    let _ = session(stream, &mails);
                });
            }
        });
        SmtpSink { port, mails }
    }

    /// The sink's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until `count` messages came (or `limit` passed); returns them all.
    pub fn wait_for(&self, count: usize, limit: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + limit;
        let (lock, ready) = &*self.mails;
        let mut mails = lock.lock().unwrap();
        while mails.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            mails = ready.wait_timeout(mails, left).unwrap().0;
        }
        mails.clone()
    }
}

fn decode_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim().bytes().take_while(|c| *c != b'=') {
        let Some(value) = ALPHABET.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn session(stream: TcpStream, mails: &(Mutex<Vec<Mail>>, Condvar)) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 sink ESMTP")?;
    let mut mail = Mail::default();
    let mut read = || -> std::io::Result<Option<String>> {
        let mut line = String::new();
        Ok((lines.read_line(&mut line)? > 0).then(|| line.trim_end_matches(['\r', '\n']).to_string()))
    };
    while let Some(line) = read()? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            reply("250-sink")?;
            reply("250-AUTH PLAIN LOGIN")?;
            reply("250 8BITMIME")?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            reply("250 ok")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = match line.split_whitespace().nth(2) {
                Some(encoded) => encoded.to_string(),
                None => {
                    reply("334 ")?;
                    read()?.unwrap_or_default()
                }
            };
            let decoded = decode_base64(&encoded);
            let mut parts = decoded.split('\0').skip(1);
            mail.auth = Some((parts.next().unwrap_or_default().into(), parts.next().unwrap_or_default().into()));
            reply("235 authenticated")?;
        } else if upper.starts_with("AUTH LOGIN") {
            reply("334 VXNlcm5hbWU6")?;
            let user = decode_base64(&read()?.unwrap_or_default());
            reply("334 UGFzc3dvcmQ6")?;
            let password = decode_base64(&read()?.unwrap_or_default());
            mail.auth = Some((user, password));
            reply("235 authenticated")?;
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = line[10..].trim().trim_start_matches('<').split('>').next().unwrap_or_default().to_string();
            reply("250 ok")?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim().trim_start_matches('<').split('>').next().unwrap_or_default().to_string());
            reply("250 ok")?;
        } else if upper == "DATA" {
            reply("354 go ahead")?;
            let mut data = String::new();
            while let Some(line) = read()? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            mail.data = data;
            let (lock, ready) = mails;
            // A session may send several messages under one login.
            let next = Mail { auth: mail.auth.clone(), ..Mail::default() };
            lock.lock().unwrap().push(std::mem::replace(&mut mail, next));
            ready.notify_all();
            reply("250 queued")?;
        } else if upper.starts_with("RSET") {
            mail = Mail { auth: mail.auth.take(), ..Mail::default() };
            reply("250 ok")?;
        } else if upper.starts_with("QUIT") {
            reply("221 bye")?;
            return Ok(());
        } else {
            reply("502 not implemented")?;
        }
    }
    Ok(())
}
