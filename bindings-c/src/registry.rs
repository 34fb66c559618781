//! `ej_registry`: where schedulers and operators find the cluster.

use crate::status::*;
use elasticjob::{RegistryCenter, ZookeeperOptions};
use std::ffi::c_char;
use std::time::Duration;

/// A ZooKeeper ensemble or the embedded registry (opaque).
pub struct ej_registry {
    pub(crate) center: RegistryCenter,
}

/// A registry on a ZooKeeper ensemble (`servers` like "127.0.0.1:2181").
/// `session_timeout_ms` 0 means ElasticJob's default (60 s); otherwise it
/// must be 100 to 600000 (10 minutes), or the call fails with
/// `EJ_INVALID_ARGUMENT`. Connects lazily.
///
/// # Safety
/// String arguments are NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_registry_zookeeper_new(
    servers: *const c_char,
    namespace: *const c_char,
    session_timeout_ms: u32,
    out: *mut *mut ej_registry,
) -> ej_status {
    ej_registry_zookeeper_new_digest(servers, namespace, session_timeout_ms, std::ptr::null(), out)
}

/// Like [`ej_registry_zookeeper_new`], with ZooKeeper digest credentials
/// (`"user:password"`; NULL for none). With credentials every node the
/// registry creates is readable and writable only by the same credentials
/// (ZooKeeper's `CREATOR_ALL_ACL`, as Java ElasticJob does). A digest
/// without `user:` is `EJ_INVALID_ARGUMENT`; the message never shows it.
///
/// # Safety
/// String arguments are NUL-terminated (`digest` may be NULL); `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_registry_zookeeper_new_digest(
    servers: *const c_char,
    namespace: *const c_char,
    session_timeout_ms: u32,
    digest: *const c_char,
    out: *mut *mut ej_registry,
) -> ej_status {
    guard(|| {
        let mut options = ZookeeperOptions::new(text(servers, "servers")?, text(namespace, "namespace")?);
        if session_timeout_ms > 0 {
            options = options.session_timeout(Duration::from_millis(session_timeout_ms as u64));
        }
        if !digest.is_null() {
            options = options.digest(text(digest, "digest")?);
        }
        options.validate()?;
        put(out, ej_registry { center: RegistryCenter::zookeeper(options) }, "out")
    })
}

/// The in-process registry: no server, one process (demos, tests).
///
/// # Safety
/// `namespace` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_registry_embedded_new(namespace: *const c_char, out: *mut *mut ej_registry) -> ej_status {
    guard(|| put(out, ej_registry { center: RegistryCenter::embedded(text(namespace, "namespace")?) }, "out"))
}

/// Frees a registry (NULL is fine). Schedulers made from it keep working.
///
/// # Safety
/// `registry` is null or from `ej_registry_*_new` and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ej_registry_free(registry: *mut ej_registry) {
    if !registry.is_null() {
        drop(Box::from_raw(registry));
    }
}
