-- A background job is leased by the worker running it: it refreshes heartbeat_us while it runs;
-- a job whose heartbeat is stale belongs to a dead worker and another one takes it over.
ALTER TABLE service_jobs ADD COLUMN owner TEXT;
ALTER TABLE service_jobs ADD COLUMN heartbeat_us INTEGER;
ALTER TABLE service_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
