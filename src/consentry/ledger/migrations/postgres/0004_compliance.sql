-- Compliance (consentry/compliance): who holds which records, and what they were told to delete.
CREATE TABLE recipients (
    name       TEXT    PRIMARY KEY,
    contact    TEXT,
    ack_days   BIGINT  NOT NULL,
    created_us BIGINT  NOT NULL
);
-- One row per snapshot built from the workspace; `recipient` NULL for an internal snapshot.
-- The records it holds are listed in a private delivery map (Parquet, raw ids) in the workspace,
-- whose checksum is kept here.
CREATE TABLE deliveries (
    delivery_id BIGINT PRIMARY KEY,
    snapshot_id TEXT    NOT NULL UNIQUE,
    purpose     TEXT    NOT NULL,
    recipient   TEXT,
    path        TEXT    NOT NULL,
    created_us  BIGINT  NOT NULL,
    ledger_seq  BIGINT  NOT NULL,
    ledger_head TEXT    NOT NULL,
    records     BIGINT  NOT NULL,
    accounts    BIGINT  NOT NULL,
    map_path    TEXT    NOT NULL,
    map_sha256  TEXT    NOT NULL
);
-- "Where is my data": an account's records per delivery. Clustered by delivery, so that
-- recording a delivery appends (an account-first key would rewrite every page of the table
-- for each new snapshot); where-is probes each delivery's key instead: one lookup per snapshot.
CREATE TABLE delivered_accounts (
    account_id  TEXT    NOT NULL,
    delivery_id BIGINT  NOT NULL,
    records     BIGINT  NOT NULL,
    PRIMARY KEY (delivery_id, account_id)
);
-- One event per (delivery, record): a record is told to be deleted once, never resurrected.
-- The key leads with the account, as events are written per delivery ordered by account.
CREATE TABLE compliance_events (
    event_id    BIGINT PRIMARY KEY,
    recipient   TEXT    NOT NULL,
    delivery_id BIGINT  NOT NULL,
    account_id  TEXT    NOT NULL,
    tbl         TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    cause_seq   BIGINT,
    at_us       BIGINT  NOT NULL,
    UNIQUE (delivery_id, account_id, tbl, record_id, account)
);
CREATE INDEX compliance_events_recipient ON compliance_events (recipient, event_id);
CREATE INDEX compliance_events_account ON compliance_events (account_id, delivery_id);
CREATE TABLE compliance_acks (
    recipient     TEXT    PRIMARY KEY,
    through_event BIGINT  NOT NULL,
    at_us         BIGINT  NOT NULL
);
-- How far the event scanner has read: the ledger position and the content imports seen.
CREATE TABLE compliance_scan (
    name       TEXT    PRIMARY KEY,
    ledger_seq BIGINT  NOT NULL,
    import_seq BIGINT  NOT NULL,
    at_us      BIGINT  NOT NULL
);
