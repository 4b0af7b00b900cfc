"""Compliance: who holds which records, and how withdrawals, deletions and erasure reach them.

- ``recipients``: the third parties snapshots go to, with their acknowledgement deadline.
- ``deliveries``: every snapshot built from the workspace, the records it holds (a private
  delivery map) and, per account, how many (for "where is my data").
- ``scanner``: turns ledger entries and content deletions since the last scan into compliance
  events, one per affected delivered record.
- ``feed``: those events per recipient, with a resumable cursor, acknowledgements and deadlines.
- ``erasure``: GDPR art. 17 — content removed, the erasure recorded, a certificate written.
- ``whereis``: GDPR art. 15 — every snapshot holding an account's content, and a full report.

Everything lives in the workspace's database (the ledger's, through its companion-table calls),
so a restart, another process or the HTTP service sees the same state.
"""
