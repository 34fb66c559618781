CREATE TABLE IF NOT EXISTS job_execution_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_name TEXT NOT NULL,
    task_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    hostname TEXT NOT NULL,
    sharding_item INTEGER NOT NULL,
    fire_time INTEGER NOT NULL,
    execution_source TEXT NOT NULL,
    binding TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    complete_time INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    is_success INTEGER NOT NULL,
    failure_cause TEXT,
    failover INTEGER NOT NULL,
    fencing_token INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS job_execution_log_job_time ON job_execution_log (job_name, start_time);
CREATE INDEX IF NOT EXISTS job_execution_log_time ON job_execution_log (start_time);
CREATE TABLE IF NOT EXISTS job_status_trace_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_name TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    sharding_item TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    creation_time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS job_status_trace_log_job_time ON job_status_trace_log (job_name, creation_time);
CREATE INDEX IF NOT EXISTS job_status_trace_log_time ON job_status_trace_log (creation_time);
