CREATE TABLE IF NOT EXISTS console_audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    job_name TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    creation_time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_audit_log_time ON console_audit_log (creation_time);
CREATE INDEX IF NOT EXISTS console_audit_log_job_time ON console_audit_log (job_name, creation_time);
