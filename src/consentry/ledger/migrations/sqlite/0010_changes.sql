-- Issue 19: a key role `assistant` (live eligibility for the purpose `answer`, nothing else).
-- SQLite cannot alter a CHECK constraint: the table is rebuilt with the wider one, rows kept.
CREATE TABLE api_keys_0010 (
    key_id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'licensee', 'assistant')),
    recipient TEXT,
    label TEXT,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER,
    replaces TEXT
);
INSERT INTO api_keys_0010 SELECT key_id, secret_sha256, role, recipient, label, created_us,
    revoked_us, replaces FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_0010 RENAME TO api_keys;
