-- The terms each recipient was under, from when: a plan assigned or a plan's terms changed adds
-- a row, so that a past month is invoiced on the terms in force then, not today's.
CREATE TABLE IF NOT EXISTS recipient_plan_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient TEXT NOT NULL,
    since_us BIGINT NOT NULL,
    name TEXT NOT NULL,
    monthly_price_cents BIGINT NOT NULL,
    included_records BIGINT NOT NULL,
    overage_cents_per_1000 BIGINT NOT NULL,
    requests_per_minute BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS recipient_plan_history_by_time
    ON recipient_plan_history (recipient, since_us);
INSERT INTO recipient_plan_history (recipient, since_us, name, monthly_price_cents,
    included_records, overage_cents_per_1000, requests_per_minute)
SELECT rp.recipient, rp.since_us, p.name, p.monthly_price_cents, p.included_records,
    p.overage_cents_per_1000, p.requests_per_minute
FROM recipient_plans rp JOIN plans p ON p.name = rp.plan;
