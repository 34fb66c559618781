//! The cluster view for browsers: once (`/api/state`) or as a live
//! Server-Sent Events stream (`/api/events`). Each stream first gets the
//! newest snapshot, then every new one the hub publishes; a stream that
//! fell behind skips to the newest. Streams read no registry at all: the
//! one watcher does, for everyone.

use crate::hub::{Hub, Snapshot};
use crate::metrics::SseClient;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The newest snapshot as JSON.
pub async fn state(State(app): State<AppState>) -> Response {
    let snapshot = app.hub.current();
    (
        [(header::CONTENT_TYPE, "application/json")],
        snapshot.json.to_string(),
    )
        .into_response()
}

/// One browser's stream.
struct Feed {
    pending: Option<Arc<Snapshot>>,
    receiver: broadcast::Receiver<Arc<Snapshot>>,
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
    sent: Option<u64>,
    _client: SseClient,
}

impl Feed {
    /// The next snapshot to send, `None` when the console stops.
    async fn next(&mut self) -> Option<Arc<Snapshot>> {
        loop {
            if let Some(snapshot) = self.pending.take() {
                if self.sent.map_or(true, |sent| snapshot.version > sent) {
                    self.sent = Some(snapshot.version);
                    return Some(snapshot);
                }
            }
            if *self.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                _ = self.shutdown.changed() => return None,
                received = self.receiver.recv() => match received {
                    Ok(snapshot) => self.pending = Some(snapshot),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.pending = Some(self.hub.current()),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// The live stream: `state` events whose data is the view's JSON.
pub async fn stream(State(app): State<AppState>) -> Response {
    let receiver = app.hub.subscribe();
    let feed = Feed {
        pending: Some(app.hub.current()),
        receiver,
        hub: app.hub.clone(),
        shutdown: app.shutdown.clone(),
        sent: None,
        _client: app.metrics.sse_client(),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let snapshot = feed.next().await?;
        let event = Event::default()
            .event("state")
            .id(snapshot.version.to_string())
            .data(&*snapshot.json);
        Some((Ok::<_, Infallible>(event), feed))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Proxies must pass events on at once.
    response
        .headers_mut()
        .insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    response
}
