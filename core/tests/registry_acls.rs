//! Digest credentials protect what they create, against a real ZooKeeper.
//!
//! A session with `digest` creates every node creator-only (Java
//! ElasticJob's `CREATOR_ALL_ACL`): a client without those credentials, or
//! with other ones, can neither read nor change the job, and is told so with
//! [`Error::NotAuthorized`]. Without a digest nodes stay world-open.

use elasticjob::registry::{CreateMode, Op, Registry, ZookeeperOptions, ZookeeperRegistry};
use elasticjob::{Error, Job, JobConfig, JobScheduler, RegistryCenter};
use std::sync::Arc;
use std::time::Duration;
use zk_harness::ZkServer;
use zookeeper_client as zk;

const DIGEST: &str = "ops:s3cret";

async fn session(zk: &ZkServer, namespace: &str, digest: Option<&str>) -> Arc<dyn Registry> {
    let mut options = ZookeeperOptions::new(zk.connect_string(), namespace);
    if let Some(digest) = digest {
        options = options.digest(digest);
    }
    Arc::new(ZookeeperRegistry::connect(options).await.unwrap())
}

/// The ACL of `path` (absolute, namespace included), read by a client with
/// the digest: reading an ACL needs READ or ADMIN since ZooKeeper 3.5.
async fn acl_of(zk: &ZkServer, path: &str) -> Vec<zk::Acl> {
    let client = zk::Client::connector().with_auth("digest", DIGEST.as_bytes()).connect(&zk.connect_string()).await.unwrap();
    client.get_acl(path).await.unwrap_or_else(|e| panic!("ACL of {path}: {e}")).0
}

fn assert_creator_only(acl: &[zk::Acl], path: &str) {
    assert_eq!(acl.len(), 1, "{path}: {acl:?}");
    assert_eq!(acl[0].scheme(), "digest", "{path}: {acl:?}");
    assert!(acl[0].id().starts_with("ops:"), "{path}: the creator's identity, {acl:?}");
    assert_eq!(acl[0].permission(), zk::Permission::ALL, "{path}: {acl:?}");
}

fn assert_refused<T: std::fmt::Debug>(outcome: Result<T, Error>, path: &str, what: &str) {
    match outcome {
        Err(Error::NotAuthorized(p)) => {
            assert_eq!(p, path, "{what}: the error names the node");
            let message = Error::NotAuthorized(p).to_string();
            assert!(message.contains("not authorized") && message.contains(path), "{message}");
        }
        other => panic!("{what}: expected a refusal on `{path}`, got {other:?}"),
    }
}

fn create_op(path: &str) -> Op {
    Op::Create { path: path.to_string(), data: b"y".to_vec(), mode: CreateMode::Persistent }
}

async fn wait_for(session: &Arc<dyn Registry>, path: &str) {
    for _ in 0..200 {
        if session.exists(path).await.unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{path} never appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_nodes_are_creator_only_and_outsiders_can_neither_read_nor_change_them() {
    let zk = ZkServer::start();
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "secure").digest(DIGEST));
    let scheduler =
        JobScheduler::builder(center.clone(), JobConfig::new("guarded", "", 2), Job::from_fn(|_| async { Ok(()) }))
            .build()
            .unwrap();
    scheduler.start().await.unwrap();
    let owner = center.session().await.unwrap();
    wait_for(&owner, "/guarded/sharding/1/instance").await;
    // Direct calls too: parents made on the way and creates inside a multi.
    owner.create_with_parents("/guarded/extra/deep", b"x", CreateMode::Persistent).await.unwrap();
    owner.multi(vec![create_op("/guarded/extra/in-multi")]).await.unwrap();
    let config = owner.get("/guarded/config").await.unwrap().expect("the scheduler wrote its config").0;

    let instance = format!("/secure/guarded/instances/{}", scheduler.instance_id());
    for path in [
        "/secure",
        "/secure/guarded",
        "/secure/guarded/config",
        "/secure/guarded/sharding/1/instance",
        instance.as_str(),
        "/secure/guarded/extra",
        "/secure/guarded/extra/deep",
        "/secure/guarded/extra/in-multi",
    ] {
        assert_creator_only(&acl_of(&zk, path).await, path);
    }

    // Same user, another session: the identity is the credentials, not the session.
    let colleague = session(&zk, "secure", Some(DIGEST)).await;
    assert_eq!(colleague.get("/guarded/config").await.unwrap().unwrap().0, config);

    for digest in [None, Some("ops:wrong"), Some("intruder:s3cret")] {
        let outsider = session(&zk, "secure", digest).await;
        let who = format!("{digest:?}");
        assert_refused(outsider.get("/guarded/config").await, "/guarded/config", &who);
        assert_refused(outsider.get_many(&["/guarded/config".to_string()]).await, "/guarded/config", &who);
        assert_refused(outsider.children("/guarded").await, "/guarded", &who);
        assert_refused(outsider.children("/").await, "/", &who);
        assert_refused(outsider.set("/guarded/config", b"script.command.line: evil", None).await, "/guarded/config", &who);
        assert_refused(outsider.delete("/guarded/extra/deep", None).await, "/guarded/extra/deep", &who);
        assert_refused(outsider.delete_recursive("/guarded/extra").await, "/guarded/extra", &who);
        assert_refused(outsider.create("/guarded/evil", b"", CreateMode::Persistent).await, "/guarded/evil", &who);
        assert_refused(outsider.create("/evil", b"", CreateMode::Persistent).await, "/evil", &who);
        assert_refused(
            outsider.multi(vec![create_op("/guarded/sharding/evil")]).await,
            "/guarded/sharding/evil",
            &who,
        );
        outsider.close().await;
    }
    assert_eq!(owner.get("/guarded/config").await.unwrap().unwrap().0, config, "nothing changed");
    assert!(owner.exists("/guarded/extra/deep").await.unwrap().is_some());
    assert!(owner.exists("/guarded/evil").await.unwrap().is_none());
    scheduler.shutdown().await;
    center.close().await;
    colleague.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_client_works_in_a_namespace_created_world_open() {
    let zk = ZkServer::start();
    let open = session(&zk, "shared", None).await;
    open.create("/legacy", b"old", CreateMode::Persistent).await.unwrap();
    assert_eq!(acl_of(&zk, "/shared").await, zk::Acls::anyone_all().to_vec(), "no digest: world-open");

    let secured = session(&zk, "shared", Some(DIGEST)).await;
    assert_eq!(secured.get("/legacy").await.unwrap().unwrap().0, b"old", "world-open nodes stay readable");
    secured.create_with_parents("/job/config", b"cron: x", CreateMode::Persistent).await.unwrap();
    assert_eq!(secured.get("/job/config").await.unwrap().unwrap().0, b"cron: x");
    assert_eq!(acl_of(&zk, "/shared").await, zk::Acls::anyone_all().to_vec(), "the namespace keeps its ACL");
    assert_creator_only(&acl_of(&zk, "/shared/job/config").await, "/shared/job/config");
    assert_refused(open.get("/job/config").await, "/job/config", "no digest");
    open.close().await;
    secured.close().await;
}

#[test]
fn a_digest_without_user_is_rejected_without_showing_it() {
    let options = ZookeeperOptions::new("127.0.0.1:2181", "ns").digest("justapassword");
    let err = options.validate().unwrap_err();
    assert!(matches!(&err, Error::InvalidConfig { field, .. } if field == "digest"), "{err:?}");
    assert!(!err.to_string().contains("justapassword"), "{err}");
    assert!(ZookeeperOptions::new("127.0.0.1:2181", "ns").digest(":pw").validate().is_err());
    assert!(ZookeeperOptions::new("127.0.0.1:2181", "ns").digest("user:pw").validate().is_ok());
}
