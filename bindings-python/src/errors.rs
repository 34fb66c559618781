//! Core errors as Python exceptions. The classes are plain Python
//! (`elasticjob/_errors.py`), so the hierarchy reads like any Python
//! library's, prints as `elasticjob.ConfigError`, and `ConfigError` can also
//! be a `ValueError`. `to_py` is the one place that decides which core error
//! kind becomes which class.

use elasticjob::Error;
use pyo3::PyErr;

pyo3::import_exception!(elasticjob._errors, ElasticJobError);
pyo3::import_exception!(elasticjob._errors, ConfigError);
pyo3::import_exception!(elasticjob._errors, RegistryError);
pyo3::import_exception!(elasticjob._errors, RegistryUnavailable);
pyo3::import_exception!(elasticjob._errors, SessionExpired);
pyo3::import_exception!(elasticjob._errors, NotAuthorized);
pyo3::import_exception!(elasticjob._errors, IllegalState);
pyo3::import_exception!(elasticjob._errors, JobExecutionError);
pyo3::import_exception!(elasticjob._errors, ShardingStrategyError);
pyo3::import_exception!(elasticjob._errors, HistoryError);

/// The Python exception for a core error, with the core's message.
pub(crate) fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::InvalidConfig { .. } => ConfigError::new_err(message),
        Error::Unreachable { servers, .. } => RegistryUnavailable::new_err((message, Some(servers))),
        Error::ConnectionLoss => RegistryUnavailable::new_err((message, None::<String>)),
        Error::SessionExpired => SessionExpired::new_err(message),
        Error::NotAuthorized(_) => NotAuthorized::new_err(message),
        Error::NoNode(_)
        | Error::NodeExists(_)
        | Error::BadVersion(_)
        | Error::NotEmpty(_)
        | Error::NoChildrenForEphemerals(_)
        | Error::Registry(_) => RegistryError::new_err(message),
        Error::IllegalState(_) => IllegalState::new_err(message),
        Error::Handler(_) => JobExecutionError::new_err(message),
        Error::ShardingStrategy { .. } => ShardingStrategyError::new_err(message),
        Error::History(_) => HistoryError::new_err(message),
        // A kind newer than this mapping: the base class, with the message.
        _ => ElasticJobError::new_err(message),
    }
}
