-- The HTTP service's tables (consentry.api): API keys, plans, metering, background jobs.
-- Key secrets are stored only as SHA-256 digests (hex); money in integer cents.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'licensee')),
    recipient TEXT,
    label TEXT,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER,
    replaces TEXT
);
CREATE TABLE IF NOT EXISTS plans (
    name TEXT PRIMARY KEY,
    monthly_price_cents INTEGER NOT NULL,
    included_records INTEGER NOT NULL,
    overage_cents_per_1000 INTEGER NOT NULL,
    requests_per_minute INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recipient_plans (
    recipient TEXT PRIMARY KEY,
    plan TEXT NOT NULL REFERENCES plans (name),
    since_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS usage_counters (
    recipient TEXT NOT NULL,
    period TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (recipient, period)
);
-- One row per file a recipient received in full: its records count once, however often the
-- file is downloaded again or resumed.
CREATE TABLE IF NOT EXISTS metered_files (
    recipient TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    path TEXT NOT NULL,
    period TEXT NOT NULL,
    records INTEGER NOT NULL,
    delivered_us INTEGER NOT NULL,
    PRIMARY KEY (recipient, snapshot_id, path)
);
CREATE TABLE IF NOT EXISTS service_jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_us INTEGER NOT NULL,
    started_us INTEGER,
    finished_us INTEGER
);
