"""The record of processing activities (GDPR art. 30(1)), generated from the policy in force and
the workspace: one activity per purpose, with its legal basis, the categories of people and of
data it concerns, its recipients, retention and safeguards.

What Consentry cannot know (the controller's name and representative, transfers outside the
EEA) is named as the controller's to fill in, never invented.
"""

from __future__ import annotations

from typing import Any, Final

from consentry.compliance.recipients import Recipients
from consentry.ledger import LedgerStore
from consentry.policy import Policy
from consentry.snapshot.inspect import recorded_snapshots
from consentry.workspace import Workspace

ARTICLE: Final = "GDPR art. 30(1)"
#: What each scope a decision may cover carries into a snapshot (the record columns).
DATA_CATEGORIES: Final = {
    "posts": "posts, replies and quotes: text (personal data scrubbed), language, day of creation",
    "interactions": "likes, bookmarks and reposts: which record, by which pseudonymous author",
    "assistant": "the account's own conversations with the platform's assistant",
}
SAFEGUARDS: Final = (
    "content enters a dataset only with its author's recorded consent to that purpose "
    "(opt-in by default), checked per item against the ledger",
    "account ids, handles and content ids replaced by keyed pseudonyms, one key per recipient",
    "personal data in texts (emails, phones, URLs, card numbers, IBANs, handles, …) replaced "
    "before delivery, counted per type in each manifest",
    "a hash-chained, append-only consent ledger; each snapshot's manifest publishes its head "
    "and a Merkle root binding every record to the decision that allowed it",
    "withdrawals, deletions and erasures sent to every holder as compliance events, with "
    "acknowledgement deadlines",
)
TO_FILL: Final = "to be completed by the controller"


def record_of_processing(ws: Workspace, ledger: LedgerStore, policy: Policy) -> dict[str, Any]:
    recipients = Recipients(ledger).list()
    built: dict[str, int] = {}
    for found in recorded_snapshots(ledger):
        built[found.delivery.purpose] = built.get(found.delivery.purpose, 0) + 1
    people = (
        f"account holders of the platform aged {policy.minimum_age} or over"
        + "".join(
            f"; {j.minimum_age} or over in {code}"
            for code, j in sorted(policy.jurisdictions.items())
            if j.minimum_age is not None
        )
        + " who consented to the purpose"
    )
    always = [r.code for r in sorted(policy.exclusions)]
    activities = []
    for purpose, description in policy.purposes.items():
        # A recipient's snapshot of any purpose needs its `share` consent too: each recipient
        # may receive data of every purpose.
        third_parties = [
            {"name": r.name, "contact": r.contact, "acknowledges_within_days": r.ack_days}
            for r in recipients
        ]
        activities.append(
            {
                "purpose": purpose,
                "description": description,
                "description_fr": policy.description(purpose, "fr"),
                "legal_basis": "consent, GDPR art. 6(1)(a); withdrawable at any time (art. 7(3))",
                "default_without_decision": str(policy.default_decision),
                "data_subjects": people,
                "data_categories": [DATA_CATEGORIES.get(str(s), str(s)) for s in policy.scopes],
                "never_processed": always,
                "recipients": third_parties,
                "transfers_outside_eea": TO_FILL,
                "retention": (
                    "until the author withdraws consent or deletes the content: each holder "
                    "is then told to delete the records, within its deadline"
                ),
                "snapshots_built": built.get(purpose, 0),
            }
        )
    return {
        "record": ARTICLE,
        "controller": TO_FILL,
        "policy": {"version": policy.version, "sha256": policy.sha256, "source": policy.source},
        "time_granularity": policy.time_granularity,
        "activities": activities,
        "safeguards": list(SAFEGUARDS),
        "workspace": ws.root.name,
    }
