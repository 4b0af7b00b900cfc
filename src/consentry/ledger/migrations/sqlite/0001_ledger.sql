-- The hash-chained ledger. Column order and meaning: consentry/ledger/entries.py.
CREATE TABLE ledger_entries (
    seq            INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,
    account_id     TEXT    NOT NULL,
    purpose        TEXT,
    scope          TEXT,
    decision       TEXT,
    recipient      TEXT,
    source         TEXT,
    notice_version TEXT,
    attr_mask      INTEGER,
    country        TEXT,
    birth_date     TEXT,
    protected      INTEGER,
    status         TEXT,
    at_us          INTEGER NOT NULL,
    recorded_us    INTEGER NOT NULL,
    salt           BLOB    NOT NULL,
    payload_hash   BLOB    NOT NULL,
    prev_hash      BLOB    NOT NULL,
    hash           BLOB    NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, seq);
CREATE INDEX ledger_entries_recorded ON ledger_entries (recorded_us);
