-- Model lineage (consentry/models): each model a holder trained, and the snapshots it saw.
-- `holder` is a recipient's name, or '(internal)' for the platform's own models: a licensee
-- reads only its own. The records and accounts a model saw follow from the delivery maps of
-- its snapshots; nothing of them is copied here.
CREATE TABLE models (
    model_id      TEXT    PRIMARY KEY,
    holder        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    trained_us    INTEGER NOT NULL,
    registered_us INTEGER NOT NULL,
    -- Set once the holder retrained or unlearned it: its exposure is then no longer overdue.
    retired_us    INTEGER,
    UNIQUE (holder, name, version)
);
CREATE TABLE model_snapshots (
    model_id    TEXT    NOT NULL,
    delivery_id INTEGER NOT NULL,
    PRIMARY KEY (model_id, delivery_id)
) WITHOUT ROWID;
-- "Which models saw this snapshot": whereis asks it per delivery an account is in.
CREATE INDEX model_snapshots_delivery ON model_snapshots (delivery_id, model_id);
