-- Consent-state checkpoints: the latest decision per (account, purpose, scope, recipient) as of
-- entry `seq`, as an Arrow IPC stream. A cache, never evidence: `ledger verify` recomputes each
-- one from the entries, and it is used only while entry `seq` still carries `hash`.
CREATE TABLE consent_checkpoints (
    seq  BIGINT  PRIMARY KEY,
    hash BYTEA   NOT NULL,
    rows INTEGER NOT NULL,
    data BYTEA   NOT NULL
);
