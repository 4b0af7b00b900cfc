-- Deliveries are recorded before their snapshot is renamed into place, and marked published
-- after (or when a later run finds it published): a build killed at the rename leaves no
-- snapshot that compliance does not know of. Deliveries recorded before were published.
ALTER TABLE deliveries ADD COLUMN published_us BIGINT;
UPDATE deliveries SET published_us = created_us;
