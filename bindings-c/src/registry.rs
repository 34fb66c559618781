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
    let options = ej_zookeeper_options { servers, namespace, session_timeout_ms, connection_timeout_ms: 0, digest };
    ej_registry_zookeeper_new_with(&options, out)
}

/// Everything a ZooKeeper registry can be given; 0 and NULL fields take
/// the defaults.
#[repr(C)]
pub struct ej_zookeeper_options {
    /// Connect string, like "127.0.0.1:2181" or "zk1:2181,zk2:2181" (required).
    pub servers: *const c_char,
    /// Root node of the cluster's jobs (required).
    pub namespace: *const c_char,
    /// How long after losing contact an instance counts as dead: 0 for
    /// ElasticJob's 60 s, else 100 to 600000 ms.
    pub session_timeout_ms: u32,
    /// How long `ej_scheduler_start` may try to reach the servers before it
    /// fails naming them and the cause (refused, unresolvable, no answer):
    /// 0 for 5 s, else 1 to 600000 ms.
    pub connection_timeout_ms: u32,
    /// `"user:password"` digest credentials, or NULL (see
    /// `ej_registry_zookeeper_new_digest`).
    pub digest: *const c_char,
}

/// A registry on a ZooKeeper ensemble with every option (see
/// `ej_zookeeper_options`). A value out of range is `EJ_INVALID_ARGUMENT`
/// naming it. Connects lazily.
///
/// # Safety
/// `options` is NULL or readable, its strings NUL-terminated or NULL; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_registry_zookeeper_new_with(options: *const ej_zookeeper_options, out: *mut *mut ej_registry) -> ej_status {
    guard(|| {
        let given = object(options, "options")?;
        let mut options = ZookeeperOptions::new(text(given.servers, "servers")?, text(given.namespace, "namespace")?);
        if given.session_timeout_ms > 0 {
            options = options.session_timeout(Duration::from_millis(given.session_timeout_ms as u64));
        }
        if given.connection_timeout_ms > 0 {
            options = options.connection_timeout(Duration::from_millis(given.connection_timeout_ms as u64));
        }
        if let Some(digest) = optional_text(given.digest, "digest")? {
            options = options.digest(digest);
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
