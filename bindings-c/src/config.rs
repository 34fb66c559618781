//! `ej_job_config`: a job's configuration, from YAML or built with setters.

use crate::status::*;
use std::ffi::{c_char, CString};

/// A job configuration (opaque).
pub struct ej_job_config {
    pub(crate) inner: elasticjob::JobConfig,
}

/// A configuration with ElasticJob's defaults. An empty `cron` means the job
/// only runs when triggered. Checked fully when a scheduler is made.
///
/// # Safety
/// String arguments are NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_job_config_new(
    job_name: *const c_char,
    cron: *const c_char,
    sharding_total_count: i32,
    out: *mut *mut ej_job_config,
) -> ej_status {
    guard(|| {
        // int32_t in the ABI: a negative count is refused by name, never wrapped.
        let count = elasticjob::JobConfig::checked_sharding_total_count(i64::from(sharding_total_count))?;
        let inner = elasticjob::JobConfig::new(text(job_name, "job_name")?, text(cron, "cron")?, count);
        inner.validate()?;
        put(out, ej_job_config { inner }, "out")
    })
}

/// Parses the YAML of a `config` node (ElasticJob's keys).
///
/// # Safety
/// `yaml` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_job_config_from_yaml(yaml: *const c_char, out: *mut *mut ej_job_config) -> ej_status {
    guard(|| {
        let inner = elasticjob::JobConfig::from_yaml(text(yaml, "yaml")?)?;
        put(out, ej_job_config { inner }, "out")
    })
}

/// Sets one field by its ElasticJob key, e.g. ("failover", "true"),
/// ("shardingItemParameters", "0=a,1=b"), ("props.streaming.process", "true").
///
/// # Safety
/// `config` is live; strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ej_job_config_set(config: *mut ej_job_config, key: *const c_char, value: *const c_char) -> ej_status {
    guard(|| {
        let config = config.as_mut().ok_or_else(|| invalid("config", "must not be NULL"))?;
        let (key, value) = (text(key, "key")?, text(value, "value")?);
        let mut updated = config.inner.clone();
        updated.set(key, value)?;
        config.inner = updated;
        Ok(())
    })
}

/// The configuration as the YAML stored in the registry; free it with `ej_string_free`.
///
/// # Safety
/// `config` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_job_config_to_yaml(config: *const ej_job_config, out: *mut *mut c_char) -> ej_status {
    guard(|| {
        let yaml = object(config, "config")?.inner.to_yaml()?;
        if out.is_null() {
            return Err(invalid("out", "must not be NULL"));
        }
        *out = CString::new(yaml).map_err(|_| invalid("config", "contains a NUL byte"))?.into_raw();
        Ok(())
    })
}

/// Frees a configuration (NULL is fine).
///
/// # Safety
/// `config` is null or from this library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ej_job_config_free(config: *mut ej_job_config) {
    if !config.is_null() {
        drop(Box::from_raw(config));
    }
}
