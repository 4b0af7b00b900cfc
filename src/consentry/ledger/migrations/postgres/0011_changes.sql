-- Issue 19: a key role `assistant`, which may ask live eligibility (purpose `answer`) and
-- record assistant turns, nothing else.
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('admin', 'licensee', 'assistant'));
