CREATE TABLE IF NOT EXISTS job_execution_log (
    id BIGSERIAL PRIMARY KEY,
    job_name VARCHAR(100) NOT NULL,
    task_id VARCHAR(1000) NOT NULL,
    instance_id VARCHAR(255) NOT NULL,
    ip VARCHAR(50) NOT NULL,
    hostname VARCHAR(255) NOT NULL,
    sharding_item INTEGER NOT NULL,
    fire_time BIGINT NOT NULL,
    execution_source VARCHAR(20) NOT NULL,
    binding VARCHAR(20) NOT NULL,
    start_time BIGINT NOT NULL,
    complete_time BIGINT NOT NULL,
    outcome VARCHAR(20) NOT NULL,
    is_success INTEGER NOT NULL,
    failure_cause TEXT,
    failover INTEGER NOT NULL,
    fencing_token BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_execution_log_job_time ON job_execution_log (job_name, start_time);
CREATE INDEX IF NOT EXISTS job_execution_log_time ON job_execution_log (start_time);
CREATE TABLE IF NOT EXISTS job_status_trace_log (
    id BIGSERIAL PRIMARY KEY,
    job_name VARCHAR(100) NOT NULL,
    instance_id VARCHAR(255) NOT NULL,
    sharding_item VARCHAR(1000) NOT NULL,
    state VARCHAR(20) NOT NULL,
    message TEXT NOT NULL,
    creation_time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_status_trace_log_job_time ON job_status_trace_log (job_name, creation_time);
CREATE INDEX IF NOT EXISTS job_status_trace_log_time ON job_status_trace_log (creation_time);
