-- Deliveries are recorded before their snapshot is renamed into place, and marked published
-- after (or when a later run finds it published): a build killed at the rename leaves no
-- snapshot that compliance does not know of. Deliveries recorded before were published.
ALTER TABLE deliveries ADD COLUMN published_us INTEGER;
UPDATE deliveries SET published_us = created_us;
-- A delivery recorded after a scan read changes since its ledger position (a withdrawal during
-- its build, an --as-of build) is caught up from that position by the next scan (0 until then).
ALTER TABLE deliveries ADD COLUMN caught_up INTEGER NOT NULL DEFAULT 1;
