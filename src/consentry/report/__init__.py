"""The operator's report: consent over time, every snapshot, recipients, erasures, models, the
ledger's health and the GDPR art. 30 record of processing, as JSON, HTML or PDF; the console
(``/admin``) shows the same sections."""

from __future__ import annotations

from consentry.report.gather import FORMAT, Options, gather
from consentry.report.health import last_verification, verify_and_record
from consentry.report.ropa import record_of_processing

__all__ = [
    "FORMAT",
    "Options",
    "gather",
    "last_verification",
    "record_of_processing",
    "verify_and_record",
]
