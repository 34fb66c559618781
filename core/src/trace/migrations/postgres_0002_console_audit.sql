CREATE TABLE IF NOT EXISTS console_audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor VARCHAR(255) NOT NULL,
    role VARCHAR(20) NOT NULL,
    action VARCHAR(50) NOT NULL,
    job_name VARCHAR(100) NOT NULL,
    target VARCHAR(255) NOT NULL,
    outcome VARCHAR(20) NOT NULL,
    detail TEXT NOT NULL,
    remote_addr VARCHAR(100) NOT NULL,
    creation_time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS console_audit_log_time ON console_audit_log (creation_time);
CREATE INDEX IF NOT EXISTS console_audit_log_job_time ON console_audit_log (job_name, creation_time);
