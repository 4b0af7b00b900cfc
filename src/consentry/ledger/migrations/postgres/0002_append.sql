-- Serialised appends (see consentry/ledger/postgres.py for the design and its measurements).
--
-- ledger_lock(): the one lock every appender takes, for the rest of its transaction. Keyed by the
-- ledger table's oid, so that two ledgers in one database (one schema each) do not wait for
-- each other; the first key ('Cons') keeps clear of advisory locks other software may take.
CREATE FUNCTION ledger_lock() RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(1131376243, 'ledger_entries'::regclass::oid::integer)
$$;

-- ledger_append_one(payload…, salt, digest): append one entry in one round trip.
--
-- The salted payload digest is computed by the client (it does not depend on the chain); only
-- the link is computed here, under the lock, with the chain format of entries.py:
--     hash = SHA-256(prev_hash ‖ seq as 8-byte big-endian ‖ digest)
-- In a plpgsql function each statement takes a fresh snapshot (READ COMMITTED), so the head is
-- read after the lock is granted and always sees the previous holder's committed entry.
CREATE FUNCTION ledger_append_one(
    p_kind text, p_account_id text, p_purpose text, p_scope text, p_decision text,
    p_recipient text, p_source text, p_notice_version text, p_attr_mask integer,
    p_country text, p_birth_date text, p_protected integer, p_status text,
    p_at_us bigint, p_recorded_us bigint, p_salt bytea, p_digest bytea,
    OUT seq bigint, OUT hash bytea
) LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    PERFORM ledger_lock();
    SELECT e.seq, e.hash INTO seq, prev FROM ledger_entries e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        seq := 0;
        prev := decode(repeat('00', 32), 'hex');
    END IF;
    seq := seq + 1;
    hash := sha256(prev || int8send(seq) || p_digest);
    INSERT INTO ledger_entries (
        seq, kind, account_id, purpose, scope, decision, recipient, source, notice_version,
        attr_mask, country, birth_date, protected, status, at_us, recorded_us,
        salt, payload_hash, prev_hash, hash
    ) VALUES (
        seq, p_kind, p_account_id, p_purpose, p_scope, p_decision, p_recipient, p_source,
        p_notice_version, p_attr_mask, p_country, p_birth_date, p_protected, p_status,
        p_at_us, p_recorded_us, p_salt, p_digest, prev, hash
    );
END
$$;
