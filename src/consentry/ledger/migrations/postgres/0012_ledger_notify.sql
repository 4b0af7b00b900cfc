-- Issue 19: every append wakes the workers that answer live eligibility (LISTEN/NOTIFY), so a
-- withdrawal reaches their indexes within a round trip rather than a polling interval.
--
-- One notification per statement, not per row: a bulk import (one COPY of millions of rows)
-- sends one. The payload is the highest sequence number the statement wrote; the listener only
-- takes it as "the head moved" and reads the changes itself, so a lost or merged notification
-- (NOTIFY folds duplicates within a transaction) costs nothing but the wait for the next poll.
-- The channel is named after the ledger table's oid, as ledger_lock() is: two ledgers in one
-- database (one schema each) do not wake each other.
CREATE FUNCTION ledger_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'consentry_ledger_' || TG_RELID::text, (SELECT max(seq) FROM appended)::text
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER ledger_entries_notify AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION ledger_notify();
