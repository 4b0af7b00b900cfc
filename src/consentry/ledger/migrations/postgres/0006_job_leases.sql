-- A background job is leased by the worker running it: it refreshes heartbeat_us while it runs;
-- a job whose heartbeat is stale belongs to a dead worker and another one takes it over.
ALTER TABLE service_jobs ADD COLUMN IF NOT EXISTS owner TEXT;
ALTER TABLE service_jobs ADD COLUMN IF NOT EXISTS heartbeat_us BIGINT;
ALTER TABLE service_jobs ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0;
