-- Deletion attestations: a licensee's proof, with its acknowledgement, that the records it was
-- told to delete from one snapshot are gone. Kept only once the platform recomputed the same
-- Merkle root from its delivery map minus the notified records (a wrong one is refused).
CREATE TABLE compliance_attestations (
    recipient     TEXT    NOT NULL,
    delivery_id   BIGINT  NOT NULL REFERENCES deliveries (delivery_id),
    through_event BIGINT  NOT NULL,
    merkle_root   TEXT    NOT NULL,
    records       BIGINT  NOT NULL,
    shards        TEXT    NOT NULL,
    at_us         BIGINT  NOT NULL,
    PRIMARY KEY (recipient, delivery_id, through_event)
);
-- Whether the holder's acknowledgement came from the licensee API, where a client can attest
-- (then an acknowledged event is done only once attested), or from the operator's
-- `compliance ack`, which records an acknowledgement received by other means.
ALTER TABLE compliance_acks ADD COLUMN needs_attestation INTEGER NOT NULL DEFAULT 0;
