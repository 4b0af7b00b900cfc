"""Platform data in: importers (canonical export, X archive, Mastodon, Reddit) and the demo
platform. Every importer feeds ``consentry.platform.ingest.Ingest``, the one seam that validates
records, quarantines what is refused and writes the ledger and the content store.

Kept free of imports so that loading one importer does not load them all.
"""
