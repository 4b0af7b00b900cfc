"""The main job: consent-gated, pseudonymised, scrubbed training snapshots with a manifest."""
