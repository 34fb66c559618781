-- What a run printed (a script job's stdout and stderr ends), when captured.
-- Nullable and last, so ElasticJob's JOB_EXECUTION_LOG columns stay as they are.
ALTER TABLE job_execution_log ADD COLUMN output TEXT;
