//! One conformance suite, two backends: every case runs against a real
//! ZooKeeper server (started by the harness) and against the embedded
//! embedded registry, so that nothing above the registry can tell them apart.

use async_trait::async_trait;
use elasticjob::registry::{
    multi_size, pack_groups, CreateMode, EventKind, Fault, EmbeddedRegistry, EmbeddedServer, Op, OpResult, Registry,
    SessionEvent, ZookeeperOptions, ZookeeperRegistry, MAX_REQUEST_BYTES, ZOOKEEPER_MAX_BUFFER,
};
use elasticjob::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;
use zk_harness::{FreezableProxy, ZkServer};

/// A backend under test: opens sessions on one shared store and can make a
/// session expire the way the server would.
#[async_trait]
trait Backend: Send + Sync {
    /// A new session in the test's namespace.
    async fn session(&self) -> Arc<dyn Registry>;
    /// A new session that [`Backend::expire`] can expire.
    async fn expirable_session(&self) -> Arc<dyn Registry>;
    /// Expires a session from [`Backend::expirable_session`] server-side.
    async fn expire(&self, session: &Arc<dyn Registry>);
    /// Runs `ops` as a multi on a session from [`Backend::expirable_session`]
    /// while its connection is lost under the request (before it reaches
    /// the server), and lets the session reconnect.
    async fn multi_during_connection_loss(&self, session: &Arc<dyn Registry>, ops: Vec<Op>) -> Result<Vec<OpResult>, Error>;
}

struct Embedded {
    server: EmbeddedServer,
    namespace: String,
}

#[async_trait]
impl Backend for Embedded {
    async fn session(&self) -> Arc<dyn Registry> {
        Arc::new(self.server.connect(&self.namespace).unwrap())
    }
    async fn expirable_session(&self) -> Arc<dyn Registry> {
        self.session().await
    }
    async fn expire(&self, session: &Arc<dyn Registry>) {
        self.server.expire(session.session_id());
    }
    async fn multi_during_connection_loss(&self, session: &Arc<dyn Registry>, ops: Vec<Op>) -> Result<Vec<OpResult>, Error> {
        self.server.disconnect(session.session_id());
        assert!(session.is_alive(), "a lost connection is not a lost session");
        let outcome = session.multi(ops).await;
        self.server.reconnect(session.session_id());
        outcome
    }
}

struct Zookeeper {
    server: Arc<ZkServer>,
    proxy: FreezableProxy,
    namespace: String,
}

const SESSION_TIMEOUT: Duration = Duration::from_millis(1500);

#[async_trait]
impl Backend for Zookeeper {
    async fn session(&self) -> Arc<dyn Registry> {
        let options = ZookeeperOptions::new(self.server.connect_string(), &self.namespace).session_timeout(SESSION_TIMEOUT);
        Arc::new(ZookeeperRegistry::connect(options).await.unwrap())
    }
    async fn expirable_session(&self) -> Arc<dyn Registry> {
        let options = ZookeeperOptions::new(self.proxy.connect_string(), &self.namespace).session_timeout(SESSION_TIMEOUT);
        Arc::new(ZookeeperRegistry::connect(options).await.unwrap())
    }
    async fn expire(&self, session: &Arc<dyn Registry>) {
        // Freeze the client's traffic until the server gives up on it, then
        // let it reconnect and learn that its session is gone.
        let mut events = session.session_events();
        self.proxy.freeze();
        tokio::time::sleep(SESSION_TIMEOUT * 2 + Duration::from_millis(500)).await;
        self.proxy.thaw();
        wait_for(&mut events, SessionEvent::Expired).await;
    }
    async fn multi_during_connection_loss(&self, session: &Arc<dyn Registry>, ops: Vec<Op>) -> Result<Vec<OpResult>, Error> {
        // Hold the request in the proxy, then drop every connection: the
        // request was sent, never arrives, and gets no answer.
        self.proxy.freeze();
        let in_flight = tokio::spawn({
            let session = session.clone();
            async move { session.multi(ops).await }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.proxy.sever();
        assert!(session.is_alive(), "a lost connection is not a lost session");
        self.proxy.thaw();
        timeout(Duration::from_secs(10), in_flight).await.expect("answer in time").expect("request task")
    }
}

static NAMESPACES: AtomicUsize = AtomicUsize::new(0);

fn fresh_namespace(kind: &str) -> String {
    format!("conformance-{kind}-{}-{}", std::process::id(), NAMESPACES.fetch_add(1, Ordering::SeqCst))
}

fn embedded() -> Embedded {
    Embedded { server: EmbeddedServer::new(), namespace: fresh_namespace("embedded") }
}

fn zookeeper() -> Zookeeper {
    let server = shared_server();
    let proxy = FreezableProxy::start(&server.connect_string());
    Zookeeper { server, proxy, namespace: fresh_namespace("zk") }
}

/// One ZooKeeper server for all cases of this test binary; each case uses its own namespace.
fn shared_server() -> Arc<ZkServer> {
    static SERVER: std::sync::OnceLock<Arc<ZkServer>> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| Arc::new(ZkServer::start())).clone()
}

async fn wait_for(events: &mut tokio::sync::broadcast::Receiver<SessionEvent>, wanted: SessionEvent) {
    timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Ok(e) if e == wanted => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("session events ended before {wanted:?}: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} session event within 15 s"));
}

async fn crud_with_versions(b: &dyn Backend) {
    let r = b.session().await;
    assert_eq!(r.create("/a", b"one", CreateMode::Persistent).await.unwrap(), "/a");
    assert_eq!(r.create("/a", b"again", CreateMode::Persistent).await, Err(Error::NodeExists("/a".into())));
    let (data, stat) = r.get("/a").await.unwrap().unwrap();
    assert_eq!((data.as_slice(), stat.version, stat.ephemeral_owner), (&b"one"[..], 0, 0));
    assert_eq!(r.set("/a", b"two", Some(0)).await.unwrap().version, 1);
    assert_eq!(r.set("/a", b"three", Some(0)).await, Err(Error::BadVersion("/a".into())));
    assert_eq!(r.get_string("/a").await.unwrap().as_deref(), Some("two"));
    assert_eq!(r.get("/missing").await.unwrap(), None);
    assert_eq!(r.exists("/missing").await.unwrap(), None);
    assert_eq!(r.set("/missing", b"", None).await, Err(Error::NoNode("/missing".into())));
    assert_eq!(r.create("/no/parent", b"", CreateMode::Persistent).await, Err(Error::NoNode("/no/parent".into())));
    r.create("/a/child", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(r.exists("/a").await.unwrap().unwrap().num_children, 1);
    assert_eq!(r.delete("/a", None).await, Err(Error::NotEmpty("/a".into())));
    assert_eq!(r.delete("/a/child", Some(7)).await, Err(Error::BadVersion("/a/child".into())));
    r.delete("/a/child", Some(0)).await.unwrap();
    r.delete("/a", None).await.unwrap();
    assert_eq!(r.delete("/a", None).await, Err(Error::NoNode("/a".into())));
    assert!(matches!(r.get("relative").await, Err(Error::InvalidConfig { .. })));
}

async fn children_sequential_and_helpers(b: &dyn Backend) {
    let r = b.session().await;
    r.create_with_parents("/p/q/r", b"deep", CreateMode::Persistent).await.unwrap();
    for name in ["b", "c", "a"] {
        r.create(&format!("/p/{name}"), b"", CreateMode::Persistent).await.unwrap();
    }
    assert_eq!(r.children("/p").await.unwrap(), vec!["a", "b", "c", "q"]);
    assert_eq!(r.children("/nothing").await, Err(Error::NoNode("/nothing".into())));
    let first = r.create("/p/seq-", b"", CreateMode::PersistentSequential).await.unwrap();
    let second = r.create("/p/seq-", b"", CreateMode::EphemeralSequential).await.unwrap();
    assert!(first.starts_with("/p/seq-") && first.len() == "/p/seq-".len() + 10, "{first}");
    assert!(second > first, "{second} should sort after {first}");
    // A child's creation and deletion move the parent's pzxid (a
    // fire's cached owners hang on it), a write to the parent does not.
    let parent = r.exists("/p").await.unwrap().unwrap();
    assert_eq!(parent.pzxid, r.exists(&second).await.unwrap().unwrap().czxid);
    r.set("/p", b"data", None).await.unwrap();
    assert_eq!(r.get_many(&["/p".to_string()]).await.unwrap()[0].as_ref().unwrap().1.pzxid, parent.pzxid, "a multi-read's stat too");
    r.delete(&second, None).await.unwrap();
    assert!(r.exists("/p").await.unwrap().unwrap().pzxid > parent.pzxid);
    r.put("/p/q/r", b"replaced").await.unwrap();
    r.put("/p/new/node", b"fresh").await.unwrap();
    assert_eq!(r.get_string("/p/new/node").await.unwrap().as_deref(), Some("fresh"));
    assert_eq!(r.get_string("/p/q/r").await.unwrap().as_deref(), Some("replaced"));
    r.delete_recursive("/p").await.unwrap();
    assert_eq!(r.exists("/p").await.unwrap(), None);
    r.delete_recursive("/p").await.unwrap();
}

async fn ephemeral_rules(b: &dyn Backend) {
    let r = b.session().await;
    r.create("/e", b"", CreateMode::Ephemeral).await.unwrap();
    assert_eq!(r.exists("/e").await.unwrap().unwrap().ephemeral_owner, r.session_id());
    assert_eq!(
        r.create("/e/child", b"", CreateMode::Persistent).await,
        Err(Error::NoChildrenForEphemerals("/e/child".into()))
    );
}

async fn multi_is_atomic(b: &dyn Backend) {
    let r = b.session().await;
    r.create("/m", b"", CreateMode::Persistent).await.unwrap();
    r.create("/m/owner", b"me", CreateMode::Persistent).await.unwrap();
    let results = r
        .multi(vec![
            Op::Check { path: "/m/owner".into(), version: 0 },
            Op::Create { path: "/m/running".into(), data: b"x".to_vec(), mode: CreateMode::Ephemeral },
            Op::Set { path: "/m/owner".into(), data: b"me2".to_vec(), version: 0 },
            Op::Create { path: "/m/s-".into(), data: vec![], mode: CreateMode::PersistentSequential },
        ])
        .await
        .unwrap();
    assert_eq!(results[0], OpResult::Check);
    let OpResult::Create { path, stat: created } = &results[1] else { panic!("{:?}", results[1]) };
    assert_eq!(path, "/m/running");
    assert_eq!(*created, r.exists("/m/running").await.unwrap().unwrap(), "create result carries the node's stat");
    assert_eq!(created.ephemeral_owner, r.session_id());
    // One multi is one transaction: everything it does has the same zxid.
    let OpResult::Set(set) = results[2] else { panic!("{:?}", results[2]) };
    assert_eq!((set.version, set.mzxid), (1, created.czxid));
    assert!(matches!(&results[3], OpResult::Create { path, .. } if path.starts_with("/m/s-") && path.len() == 15));
    // A failing check in the middle: nothing before it is applied.
    let failed = r
        .multi(vec![
            Op::Create { path: "/m/other".into(), data: vec![], mode: CreateMode::Persistent },
            Op::Delete { path: "/m/running".into(), version: -1 },
            Op::Check { path: "/m/owner".into(), version: 0 },
        ])
        .await;
    assert_eq!(failed, Err(Error::BadVersion("/m/owner".into())));
    assert_eq!(r.exists("/m/other").await.unwrap(), None);
    assert!(r.exists("/m/running").await.unwrap().is_some());
    let failed = r.multi(vec![Op::Check { path: "/m/gone".into(), version: -1 }]).await;
    assert_eq!(failed, Err(Error::NoNode("/m/gone".into())));
    let done = r
        .multi(vec![
            Op::Delete { path: "/m/running".into(), version: -1 },
            Op::Create { path: "/m/running".into(), data: b"y".to_vec(), mode: CreateMode::Persistent },
        ])
        .await;
    let done = done.unwrap();
    assert_eq!(r.get_string("/m/running").await.unwrap().as_deref(), Some("y"));
    // Every start of the mark gets a larger creation zxid: a fencing token.
    let OpResult::Create { stat: again, .. } = &done[1] else { panic!("{:?}", done[1]) };
    assert!(again.czxid > created.czxid, "{again:?} after {created:?}");
}

async fn oneshot_watches_fire(b: &dyn Backend) {
    let r = b.session().await;
    let other = b.session().await;
    let (value, watch) = r.get_and_watch("/w").await.unwrap();
    assert_eq!(value, None);
    other.create("/w", b"1", CreateMode::Persistent).await.unwrap();
    let event = timeout(Duration::from_secs(5), watch.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Created, "/w"));

    let (value, watch) = r.get_and_watch("/w").await.unwrap();
    assert_eq!(value.unwrap().0, b"1");
    other.set("/w", b"2", None).await.unwrap();
    let event = timeout(Duration::from_secs(5), watch.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::DataChanged, "/w"));

    let (children, watch) = r.children_and_watch("/w").await.unwrap();
    assert!(children.is_empty());
    other.create("/w/kid", b"", CreateMode::Ephemeral).await.unwrap();
    let event = timeout(Duration::from_secs(5), watch.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::ChildrenChanged, "/w"));

    let (_, watch) = r.get_and_watch("/w/kid").await.unwrap();
    other.delete("/w/kid", None).await.unwrap();
    let event = timeout(Duration::from_secs(5), watch.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Deleted, "/w/kid"));
}

async fn recursive_watch_sees_descendants(b: &dyn Backend) {
    let r = b.session().await;
    let other = b.session().await;
    r.create("/job", b"", CreateMode::Persistent).await.unwrap();
    let mut watch = r.watch_recursive("/job").await.unwrap();
    other.create_with_parents("/job/sharding/0/instance", b"i1", CreateMode::Persistent).await.unwrap();
    other.set("/job/sharding/0/instance", b"i2", None).await.unwrap();
    other.delete("/job/sharding/0/instance", None).await.unwrap();
    other.create("/elsewhere", b"", CreateMode::Persistent).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let event = timeout(Duration::from_secs(5), watch.next()).await.expect("event in time").expect("watch alive");
        seen.push((event.kind, event.path));
    }
    let expected = vec![
        (EventKind::Created, "/job/sharding".to_string()),
        (EventKind::Created, "/job/sharding/0".to_string()),
        (EventKind::Created, "/job/sharding/0/instance".to_string()),
        (EventKind::DataChanged, "/job/sharding/0/instance".to_string()),
        (EventKind::Deleted, "/job/sharding/0/instance".to_string()),
    ];
    assert_eq!(seen, expected);
    assert!(timeout(Duration::from_millis(300), watch.next()).await.is_err(), "no event outside the subtree");
}

async fn close_removes_ephemerals_and_fires_watches(b: &dyn Backend) {
    let watcher = b.session().await;
    let doomed = b.session().await;
    doomed.create("/instances", b"", CreateMode::Persistent).await.unwrap();
    doomed.create("/instances/a", b"", CreateMode::Ephemeral).await.unwrap();
    doomed.create("/kept", b"", CreateMode::Persistent).await.unwrap();
    let (_, watch) = watcher.children_and_watch("/instances").await.unwrap();
    let mut events = doomed.session_events();
    doomed.close().await;
    let event = timeout(Duration::from_secs(5), watch.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::ChildrenChanged, "/instances"));
    assert!(watcher.children("/instances").await.unwrap().is_empty());
    assert!(watcher.exists("/kept").await.unwrap().is_some());
    wait_for(&mut events, SessionEvent::Closed).await;
    assert_eq!(doomed.create("/after", b"", CreateMode::Persistent).await, Err(Error::SessionExpired));
}

async fn expiry_removes_ephemerals_and_fences_the_zombie(b: &dyn Backend) {
    let watcher = b.session().await;
    let zombie = b.expirable_session().await;
    zombie.create("/owner", b"", CreateMode::Persistent).await.unwrap();
    zombie.create("/owner/lock", b"", CreateMode::Ephemeral).await.unwrap();
    let mut recursive = watcher.watch_recursive("/owner").await.unwrap();
    b.expire(&zombie).await;
    let event = timeout(Duration::from_secs(5), recursive.next()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Deleted, "/owner/lock"));
    // The expired session cannot write anything, not even inside a multi.
    let fenced = zombie
        .multi(vec![
            Op::Check { path: "/owner".into(), version: 0 },
            Op::Create { path: "/owner/running".into(), data: vec![], mode: CreateMode::Ephemeral },
        ])
        .await;
    assert_eq!(fenced, Err(Error::SessionExpired));
    assert_eq!(watcher.exists("/owner/running").await.unwrap(), None);
    assert_eq!(zombie.create("/owner/again", b"", CreateMode::Ephemeral).await, Err(Error::SessionExpired));
    assert_eq!(zombie.set("/owner", b"x", None).await, Err(Error::SessionExpired));
    assert_eq!(zombie.delete("/owner", None).await, Err(Error::SessionExpired));
    assert_eq!(zombie.get("/owner").await, Err(Error::SessionExpired));
    assert!(!zombie.is_alive());
    assert_eq!(watcher.get_string("/owner").await.unwrap().as_deref(), Some(""));
}

/// Waits for the session to come back after a connection loss: Suspended, then Connected.
async fn wait_for_reconnect(events: &mut tokio::sync::broadcast::Receiver<SessionEvent>) {
    wait_for(events, SessionEvent::Suspended).await;
    wait_for(events, SessionEvent::Connected).await;
}

async fn oversized_requests_fail_with_connection_loss_and_apply_nothing(b: &dyn Backend) {
    let r = b.session().await;
    r.create("/big", b"", CreateMode::Persistent).await.unwrap();
    r.create("/big/mine", b"", CreateMode::Ephemeral).await.unwrap();
    let half = |name: &str| vec![Op::Create { path: format!("/big/{name}"), data: vec![7; 600_000], mode: CreateMode::Ephemeral }];
    let groups = vec![half("a"), half("b")];
    let all: Vec<Op> = groups.concat();
    assert!(multi_size(&all) > ZOOKEEPER_MAX_BUFFER);
    let mut events = r.session_events();
    assert_eq!(r.multi(all).await, Err(Error::ConnectionLoss));
    wait_for_reconnect(&mut events).await;
    assert_eq!(r.children("/big").await.unwrap(), vec!["mine"], "nothing applied, ephemeral kept");
    assert_eq!(r.set("/big", &vec![1; ZOOKEEPER_MAX_BUFFER], None).await, Err(Error::ConnectionLoss));
    wait_for_reconnect(&mut events).await;
    assert_eq!(r.get("/big").await.unwrap().unwrap().1.version, 0);
    // Packed under the limit, the same groups go through, one multi each.
    let packed = pack_groups(groups, MAX_REQUEST_BYTES);
    assert_eq!(packed.len(), 2);
    for multi in packed {
        r.multi(multi).await.unwrap();
    }
    assert_eq!(r.children("/big").await.unwrap(), vec!["a", "b", "mine"]);
    assert!(r.is_alive());
}

async fn connection_loss_keeps_the_session_and_its_watches(b: &dyn Backend) {
    let r = b.expirable_session().await;
    let other = b.session().await;
    r.create("/held", b"", CreateMode::Persistent).await.unwrap();
    r.create("/held/lock", b"", CreateMode::Ephemeral).await.unwrap();
    let mut recursive = r.watch_recursive("/held").await.unwrap();
    let (_, oneshot) = r.get_and_watch("/held/flag").await.unwrap();
    let mut events = r.session_events();
    let lost = b
        .multi_during_connection_loss(
            &r,
            vec![Op::Create { path: "/held/blip".into(), data: vec![], mode: CreateMode::Persistent }],
        )
        .await;
    assert_eq!(lost, Err(Error::ConnectionLoss));
    wait_for_reconnect(&mut events).await;
    assert!(r.is_alive());
    let lock = r.exists("/held/lock").await.unwrap().expect("ephemeral survives a connection loss");
    assert_eq!(lock.ephemeral_owner, r.session_id());
    // This request never reached the server; read back to know.
    assert_eq!(r.exists("/held/blip").await.unwrap(), None);
    // Watches set before the loss still work after it.
    other.create("/held/flag", b"", CreateMode::Persistent).await.unwrap();
    let event = timeout(Duration::from_secs(5), oneshot.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Created, "/held/flag"));
    let event = timeout(Duration::from_secs(5), recursive.next()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Created, "/held/flag"));
    // A path no one-shot watch covers: only a re-armed recursive watch sees it.
    other.create("/held/flag/deeper", b"", CreateMode::Persistent).await.unwrap();
    let event = timeout(Duration::from_secs(5), recursive.next()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Created, "/held/flag/deeper"));
    r.create("/held/after", b"", CreateMode::Ephemeral).await.unwrap();
}

async fn batched_reads_cross_chunks_and_report_missing_nodes(b: &dyn Backend) {
    let r = b.session().await;
    r.create("/many", b"", CreateMode::Persistent).await.unwrap();
    let count = elasticjob::registry::MULTI_READ_CHUNK + 10;
    let ops = (0..count)
        .filter(|i| i % 3 != 0)
        .map(|i| Op::Create { path: format!("/many/{i}"), data: i.to_string().into_bytes(), mode: CreateMode::Persistent })
        .collect();
    r.multi(ops).await.unwrap();
    let paths: Vec<String> = (0..count).map(|i| format!("/many/{i}")).collect();
    let found = r.get_many(&paths).await.unwrap();
    assert_eq!(found.len(), count);
    for (i, node) in found.iter().enumerate() {
        match node {
            Some((data, _)) => assert_eq!(data, i.to_string().as_bytes(), "node {i}"),
            None => assert_eq!(i % 3, 0, "node {i} exists"),
        }
    }
    assert!(r.get_many(&[]).await.unwrap().is_empty());
}

async fn namespaces_are_isolated(b: &dyn Backend) {
    let r = b.session().await;
    r.create("/only-here", b"", CreateMode::Persistent).await.unwrap();
    assert!(r.children("/").await.unwrap().contains(&"only-here".to_string()));
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod embedded_backend {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::embedded()).await;
                }
            )*
        }
        mod zookeeper_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::zookeeper()).await;
                }
            )*
        }
    };
}

conformance!(
    crud_with_versions,
    children_sequential_and_helpers,
    ephemeral_rules,
    multi_is_atomic,
    oneshot_watches_fire,
    recursive_watch_sees_descendants,
    close_removes_ephemerals_and_fires_watches,
    expiry_removes_ephemerals_and_fences_the_zombie,
    batched_reads_cross_chunks_and_report_missing_nodes,
    namespaces_are_isolated,
    oversized_requests_fail_with_connection_loss_and_apply_nothing,
    connection_loss_keeps_the_session_and_its_watches,
);

#[tokio::test]
async fn embedded_namespaces_do_not_see_each_other() {
    let server = EmbeddedServer::new();
    let a = server.connect("ns-a").unwrap();
    let b = server.connect("ns-b").unwrap();
    a.create("/x", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(b.exists("/x").await.unwrap(), None);
    let standalone = EmbeddedRegistry::standalone("solo").unwrap();
    assert_eq!(standalone.exists("/x").await.unwrap(), None);
}

/// A request the server never answers (traffic frozen past the client's
/// connection timeout but not the session timeout) ends in the client's
/// "no response from connection" error: it must read as a connection loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_request_without_answer_is_connection_loss() {
    let b = zookeeper();
    let options = ZookeeperOptions::new(b.proxy.connect_string(), &b.namespace)
        .session_timeout(Duration::from_millis(4000))
        .connection_timeout(Duration::from_millis(400));
    let r = ZookeeperRegistry::connect(options).await.unwrap();
    r.create("/quiet", b"", CreateMode::Ephemeral).await.unwrap();
    let mut events = r.session_events();
    b.proxy.freeze();
    let outcome = timeout(Duration::from_secs(3), r.set("/quiet", b"x", None)).await.expect("the client gives up");
    assert_eq!(outcome, Err(Error::ConnectionLoss));
    // While disconnected, new requests fail at once instead of queueing.
    let started = std::time::Instant::now();
    assert_eq!(r.exists("/quiet").await, Err(Error::ConnectionLoss));
    assert!(r.is_alive(), "disconnected is not dead");
    assert!(started.elapsed() < Duration::from_millis(200));
    b.proxy.thaw();
    wait_for(&mut events, SessionEvent::Connected).await;
    assert_eq!(r.exists("/quiet").await.unwrap().unwrap().ephemeral_owner, r.session_id());
}

/// A wrong address fails fast, naming each server and its cause: a closed
/// port and an unresolvable name at once, a port that accepts connections
/// but never answers (a frozen proxy) when the connection timeout runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_connect_to_a_wrong_address_fails_fast_naming_the_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let servers = format!("127.0.0.1:{closed},no-such-host.invalid:2181");
    let started = std::time::Instant::now();
    let error = ZookeeperRegistry::connect(ZookeeperOptions::new(servers.clone(), "wrong")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "refused and unresolvable took {:?}", started.elapsed());
    let message = error.to_string();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(message.contains(&servers), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{closed}: connection refused")), "{message}");
    assert!(message.contains("no-such-host.invalid:2181: cannot resolve the host name"), "{message}");

    let b = zookeeper();
    b.proxy.freeze();
    let options = ZookeeperOptions::new(b.proxy.connect_string(), &b.namespace).connection_timeout(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let error = ZookeeperRegistry::connect(options).await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(3000), "a silent server took {took:?}");
    assert!(error.to_string().contains("gave no session within the connection timeout (1500 ms)"), "{error}");
    b.proxy.thaw();
}

/// A connect string that cannot be right is refused before any connection,
/// naming the field and the entry.
#[test]
fn zookeeper_options_refuse_a_bad_connect_string() {
    for (servers, entry) in [("127.0.0.1:x", "`127.0.0.1:x`"), ("a:2181,,b:2181", "``"), ("a:70000", "`a:70000`")] {
        let message = ZookeeperOptions::new(servers, "ns").validate().unwrap_err().to_string();
        assert!(message.contains("serverLists") && message.contains(entry), "{servers}: {message}");
    }
}

/// Fault injection on the embedded backend: a write lost before or after it
/// was applied, and what a disconnected session's watches see.
#[tokio::test]
async fn embedded_faults_model_unknown_outcomes_and_missed_events() {
    let server = EmbeddedServer::new();
    let r = server.connect("faults").unwrap();
    let other = server.connect("faults").unwrap();
    let id = r.session_id();
    let mut events = r.session_events();
    server.inject_fault(id, Fault::LoseBeforeApply);
    server.inject_fault(id, Fault::LoseAfterApply);
    assert_eq!(r.create("/before", b"", CreateMode::Persistent).await, Err(Error::ConnectionLoss));
    wait_for_reconnect(&mut events).await;
    assert_eq!(r.create("/after", b"", CreateMode::Ephemeral).await, Err(Error::ConnectionLoss));
    wait_for_reconnect(&mut events).await;
    assert_eq!(r.exists("/before").await.unwrap(), None);
    assert_eq!(r.exists("/after").await.unwrap().unwrap().ephemeral_owner, id);
    r.create("/next", b"", CreateMode::Persistent).await.unwrap();

    // Disconnected: every request fails, the session and its ephemerals live on.
    let (_, oneshot) = r.get_and_watch("/flag").await.unwrap();
    let mut recursive = r.watch_recursive("/").await.unwrap();
    server.disconnect(id);
    wait_for(&mut events, SessionEvent::Suspended).await;
    assert_eq!(r.get("/after").await, Err(Error::ConnectionLoss));
    assert_eq!(r.set("/next", b"", None).await, Err(Error::ConnectionLoss));
    assert!(r.is_alive());
    assert!(other.exists("/after").await.unwrap().is_some());
    other.create("/flag", b"", CreateMode::Persistent).await.unwrap();
    other.create("/missed", b"", CreateMode::Persistent).await.unwrap();
    assert!(timeout(Duration::from_millis(100), recursive.next()).await.is_err(), "nothing while disconnected");
    server.reconnect(id);
    wait_for(&mut events, SessionEvent::Connected).await;
    // The one-shot watch fires for what changed meanwhile; the recursive one
    // does not replay it, but sees what comes next.
    let event = timeout(Duration::from_secs(1), oneshot.changed()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Created, "/flag"));
    other.delete("/missed", None).await.unwrap();
    let event = timeout(Duration::from_secs(1), recursive.next()).await.unwrap().unwrap();
    assert_eq!((event.kind, event.path.as_str()), (EventKind::Deleted, "/missed"));

    // Expiry while disconnected still ends the session.
    server.disconnect(id);
    server.expire(id);
    assert_eq!(r.create("/late", b"", CreateMode::Persistent).await, Err(Error::SessionExpired));
    assert_eq!(other.exists("/after").await.unwrap(), None);
}
