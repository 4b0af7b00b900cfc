"""The EU AI Act public summary of training content (art. 53(1)(d)), as far as Consentry knows it.

The AI Office's template (European Commission, "Template for the Public Summary of Training
Content for general-purpose AI models", 24 July 2025) has three parts: 1. general information
(provider, model, modalities and size), 2. the list of data sources (2.1 public datasets,
2.2 private datasets from third parties, 2.3 crawled data, 2.4 user data, 2.5 synthetic data,
2.6 other), 3. data processing (3.1 respect of opt-outs / reservations of rights, 3.2 removal of
illegal content, 3.3 other information). The snapshots' manifests fill what they can prove:
the model's identification, the text modality and its size, the user-data section (2.4 for the
platform's own models; 2.2 for a licensee's, whose data was licensed from the platform), and
3.1: how consent withdrawals and exclusions were honoured, with the counts per reason code and
the ledger positions anyone can check against the published heads. The other parts are the
provider's to write, and are listed as such rather than guessed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

from consentry.errors import WorkspaceError
from consentry.models.exposure import Exposure
from consentry.models.lineage import Model
from consentry.snapshot.manifest import Manifest

TEMPLATE: Final = (
    "European Commission, Template for the Public Summary of Training Content for"
    " general-purpose AI models (AI Act, art. 53(1)(d)), 24 July 2025"
)
#: The template's parts the provider completes: Consentry does not know them.
FOR_THE_PROVIDER: Final = [
    "1.1 provider identification and contact",
    "1.2 date of placement on the Union market, model dependencies",
    "2.1 publicly available datasets",
    "2.3 data crawled and scraped from online sources",
    "2.5 synthetic data",
    "2.6 other sources of data",
    "3.2 removal of illegal content",
]


def _manifest(model: Model, snapshot_id: str, path: str) -> Manifest:
    try:
        return Manifest.load(Path(path))
    except (OSError, ValueError, TypeError):
        raise WorkspaceError(
            f"the manifest of snapshot {snapshot_id} (model {model.model_id}) cannot be read at"
            f" {path}: the summary is made from it"
        ) from None


def training_summary(model: Model, exposure: Exposure) -> dict[str, Any]:
    """The parts of the public summary that the manifests of ``model``'s snapshots fill."""
    manifests = [_manifest(model, d.snapshot_id, d.path) for d in model.snapshots]
    excluded: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    records = considered = interactions = 0
    for m in manifests:
        excluded.update(m.counts.get("excluded", {}))
        pii.update(m.counts.get("pii_replaced", {}))
        records += int(m.counts.get("included", 0))
        considered += int(m.counts.get("input", 0))
        interactions += int(m.counts.get("interactions", {}).get("included", 0))
    internal = model.recipient is None
    section = "2.4" if internal else "2.2.1"
    purposes = sorted({m.purpose for m in manifests})
    return {
        "template": TEMPLATE,
        "model": {
            "section": "1.2",
            "name": model.name,
            "version": model.version,
            "id": model.model_id,
            "trained_at": model.trained_at.isoformat(),
        },
        "modalities": {
            "section": "1.3",
            "modalities": ["text"],
            "text_records": records,
            "interaction_records": interactions,
            "content_types": "social media posts, replies and quotes; assistant conversations"
            " where their owners consented to that scope",
        },
        "user_data": {
            "section": section,
            "title": "user data" if internal else "private dataset licensed from a platform",
            "description": (
                "Content of the platform's users, included only where its author consented to"
                f" the purpose ({', '.join(purposes)})"
                + ("" if internal else f" and to its disclosure to {model.recipient}")
                + "; pseudonymised (keyed, per recipient) and scrubbed of personal data."
            ),
            "snapshots": [
                {
                    "snapshot_id": m.snapshot_id,
                    "created": m.created,
                    "purpose": m.purpose,
                    "records": int(m.counts.get("included", 0)),
                    "merkle_root": m.merkle.get("root"),
                }
                for m in manifests
            ],
        },
        "opt_outs": {
            "section": "3.1",
            "mechanism": (
                "opt-in consent recorded in an append-only, hash-chained ledger: content"
                " reached a snapshot only when its author's latest decision for the purpose"
                " was a grant as of the snapshot's ledger position; exclusions the policy"
                " names apply whatever the consent"
            ),
            "items_considered": considered,
            "items_included": records,
            "excluded_by_reason": dict(sorted(excluded.items())),
            "ledger_positions": [
                {"snapshot_id": m.snapshot_id, "seq": m.ledger["seq"], "head": m.ledger["head"]}
                for m in manifests
            ],
            "policy": sorted({(m.policy["version"], m.policy["sha256"]) for m in manifests}),
            "after_training": {
                "records_withdrawn_or_deleted": exposure.records,
                "accounts": exposure.accounts,
                "by_reason": {g.reason: g.records for g in exposure.groups},
                "retrain_or_unlearn_by": exposure.deadline.isoformat()
                if exposure.deadline
                else None,
                "retired": model.retired.isoformat() if model.retired else None,
            },
        },
        "personal_data": {
            "section": "3.3",
            "pii_replaced": dict(sorted(pii.items())),
            "pseudonymisation": sorted({m.pseudonyms.get("scheme", "") for m in manifests} - {""}),
        },
        "for_the_provider": FOR_THE_PROVIDER,
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown, the template's section numbers in the headings."""
    model, sizes = summary["model"], summary["modalities"]
    users, opt = summary["user_data"], summary["opt_outs"]
    after = opt["after_training"]
    lines = [
        f"# Public summary of training content: {model['name']} {model['version']}",
        "",
        f"Following the {summary['template']}: the sections Consentry can prove from the"
        " snapshots' manifests; the provider completes the others (listed at the end).",
        "",
        "## 1.2 Model identification",
        "",
        f"- model: {model['name']} {model['version']} (`{model['id']}`)",
        f"- trained: {model['trained_at']}",
        "",
        "## 1.3 Modalities and size",
        "",
        f"- modality: {', '.join(sizes['modalities'])}",
        f"- text records: {sizes['text_records']:,}; interaction records:"
        f" {sizes['interaction_records']:,}",
        f"- content: {sizes['content_types']}",
        "",
        f"## {users['section']} {users['title'].capitalize()}",
        "",
        users["description"],
        "",
        "| snapshot | created | purpose | records | Merkle root |",
        "|---|---|---|---:|---|",
        *[
            f"| `{s['snapshot_id']}` | {s['created']} | {s['purpose']} | {s['records']:,} |"
            f" `{s['merkle_root']}` |"
            for s in users["snapshots"]
        ],
        "",
        "## 3.1 Respect of opt-outs and exclusions",
        "",
        opt["mechanism"].capitalize() + ".",
        "",
        f"Items considered: {opt['items_considered']:,}; included: {opt['items_included']:,}.",
        "",
        "| reason code | items excluded |",
        "|---|---:|",
        *[f"| `{r}` | {n:,} |" for r, n in opt["excluded_by_reason"].items()],
        "",
        "Ledger positions (check them against the heads the platform published):",
        "",
        *[
            f"- `{p['snapshot_id']}`: entry {p['seq']}, head `{p['head']}`"
            for p in opt["ledger_positions"]
        ],
        "",
        "Policies: " + "; ".join(f"{v} (sha256 `{h}`)" for v, h in opt["policy"]),
        "",
        f"After training, {after['records_withdrawn_or_deleted']:,} record(s) of"
        f" {after['accounts']:,} account(s) were withdrawn, deleted or erased"
        + (
            ": " + ", ".join(f"{n:,} {r}" for r, n in after["by_reason"].items())
            if after["by_reason"]
            else ""
        )
        + "."
        + (
            f" Retired (retrained or unlearned) on {after['retired']}."
            if after["retired"]
            else (
                f" To be retrained or unlearned by {after['retrain_or_unlearn_by']}."
                if after["retrain_or_unlearn_by"]
                else ""
            )
        ),
        "",
        "## 3.3 Other information: personal data",
        "",
        "Personal data replaced in the text: "
        + (
            ", ".join(f"{n:,} {t}" for t, n in summary["personal_data"]["pii_replaced"].items())
            or "none found"
        )
        + ".",
        "",
        "## For the provider to complete",
        "",
        *[f"- {part}" for part in summary["for_the_provider"]],
        "",
    ]
    return "\n".join(lines)
