"""``consentry snapshot …``: build, verify and prove consent-gated training snapshots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from consentry.cli.common import (
    WorkspaceOption,
    console,
    err_console,
    fmt_time,
    handle_errors,
    open_workspace,
    progress_bar,
    secret_source,
    uncut,
)
from consentry.compliance.deliveries import Deliveries, Delivery
from consentry.compliance.erasure import erased_record_ids
from consentry.compliance.recipients import Recipients
from consentry.errors import SnapshotError, UsageError, WorkspaceError
from consentry.ledger import AsOf
from consentry.snapshot.build import DEFAULT_BATCH, DEFAULT_SHARD_ROWS, BuildResult, BuildSpec
from consentry.snapshot.build_fs import Location, build_at, staging_for
from consentry.snapshot.executors import executor as make_executor
from consentry.snapshot.inspect import (
    SHOWN_COLUMNS,
    excluded_in_order,
    first_records,
    is_snapshot_folder,
    original_texts,
    recorded_folder,
    recorded_snapshots,
)
from consentry.snapshot.manifest import Manifest
from consentry.snapshot.source import WorkspaceSource
from consentry.snapshot.verify import (
    check_key,
    load_manifest,
    prove,
    verify_against_workspace,
    verify_files,
)
from consentry.snapshot.workspace_build import workspace_builder
from consentry.workspace import CONFIG_NAME, ENV_ROOT, Workspace

app = typer.Typer(help="Build, verify and prove consent-gated snapshots.", no_args_is_help=True)


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


@app.command()
@handle_errors
def build(
    purpose: Annotated[str, typer.Option(help="What the snapshot is for: train, fine_tune, …")],
    out: Annotated[
        str,
        typer.Option(
            help="Folder to publish the snapshot in: a path, or a pyarrow.fs URI (file:///…, "
            "s3://…, gs://…, hdfs://…; a non-local one is built under the workspace's "
            "snapshots/.staging/, recorded there, then copied)."
        ),
    ],
    recipient: Annotated[
        str | None,
        typer.Option(help="Third party it goes to (also requires `share` consent)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Ledger sequence number or RFC 3339 time (default: head)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    names: Annotated[
        bool,
        typer.Option(
            help="Also replace names of persons (spaCy NER on texts with two capitalised words "
            "in a row; slower; needs `pip install 'consentry[names]'`)."
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per Arrow batch.")] = DEFAULT_BATCH,
    shard_rows: Annotated[
        int, typer.Option(min=1, help="Input items per output shard.")
    ] = DEFAULT_SHARD_ROWS,
    executor: Annotated[
        str,
        typer.Option(help="Who runs the build's tasks: local (worker processes) or ray."),
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Local worker processes (default: every core; 1: no workers)."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to run on with --executor ray (default: a local Ray)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Build the snapshot of content whose authors consented to PURPOSE as of a ledger position.

    Runs as steps over the content buckets (verdicts, duplicates and reposts, then records), in
    --workers local processes or as Ray tasks; pseudonymises authors, mentions and ids with keys
    for the recipient, scrubs personal data, and publishes OUT atomically with a manifest, a
    dataset card and Croissant metadata. A killed build resumes where it stopped
    when run again with the same arguments, whatever --workers or --executor it then uses: the
    snapshot's bytes do not depend on them.

    Example: `consentry snapshot build --purpose train --recipient acme-ai --out snapshots/acme`

    On a Ray cluster: `consentry snapshot build --purpose train --out snapshots/t
    --executor ray --ray-address auto` (docs/cluster.md).
    """
    runner = make_executor(executor, workers=workers, ray_address=ray_address)
    runner.start()  # its workers' server starts up while this process opens the workspace
    ws = open_workspace(workspace)
    if WorkspaceSource(ws.content_dir).count() == 0:
        raise UsageError(
            f"no content in {ws.content_dir}: import a platform export first: "
            "`consentry import canonical DIR` (or x-archive, mastodon, reddit)"
        )
    target = Location.parse(out)
    spec = BuildSpec(
        purpose=purpose,
        out=target.local or staging_for(target, ws.root / "snapshots"),
        recipient=recipient,
        as_of=AsOf.parse(as_of),
        batch_size=batch_size,
        shard_rows=shard_rows,
        force=force,
    )
    with (
        ws.ledger() as ledger,
        progress_bar(
            TextColumn("{task.description:>12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as progress,
    ):
        if recipient is not None:
            Recipients(ledger).get(recipient)  # before hours of work, not after
        builder = workspace_builder(
            ws,
            ledger,
            recipient=recipient,
            progress=_RichProgress(progress),
            names=names,
            executor=runner,
        )
        deliveries = Deliveries(ledger, ws.deliveries_dir)
        recorded: list[Delivery] = []

        def run(built: BuildSpec) -> BuildResult:
            result, delivery = deliveries.build(builder, built)
            recorded.append(delivery)
            return result

        result = build_at(builder, spec, target, staging=spec.out, run=run, keep=True)
        (delivery,) = recorded
        progress.stop()
    print_summary(result)
    console.print(
        f"recorded as delivered to {delivery.recipient}"
        if delivery.recipient
        else "recorded as an internal snapshot",
        f"({delivery.records:,} records of {delivery.accounts:,} accounts;"
        " see `consentry whereis ACCOUNT`)",
        style="dim",
        highlight=False,
    )


def print_summary(result: BuildResult) -> None:
    m = result.manifest
    counts = m.counts
    console.print(
        f"[bold]Snapshot {m.snapshot_id}[/] → {result.out}  ({m.purpose}"
        + (f", for {m.recipient}" if m.recipient else "")
        + f", ledger entry {m.ledger['seq']})",
        highlight=False,
    )
    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("items", justify="right")
    table.add_column("")
    table.add_row(f"{counts['input']:,}", "read")
    table.add_row(f"[green]{counts['included']:,}[/]", "[green]included[/]")
    for code, n in excluded_in_order(m):
        table.add_row(f"{n:,}", f"excluded: {code}")
    if counts["age_unknown_included"]:
        table.add_row(f"{counts['age_unknown_included']:,}", "included with unknown age")
    for kind, n in counts["pii_replaced"].items():
        table.add_row(f"{n:,}", f"PII replaced: {kind}")
    inter = counts["interactions"]
    if inter["input"]:
        table.add_row(f"{inter['included']:,}", f"interactions of {inter['input']:,}")
    console.print(table)
    resumed = f", {result.resumed_shards} shard(s) resumed" if result.resumed_shards else ""
    console.print(
        f"{len(m.shards)} shard(s), Merkle root {m.merkle['root'][:16]}…, "
        f"{result.seconds:.2f} s, {result.items_per_second:,.0f} items/s{resumed}",
        highlight=False,
    )


@app.command()
@handle_errors
def verify(
    folder: Annotated[Path, typer.Argument(help="A published snapshot folder.")],
    offline: Annotated[
        bool,
        typer.Option(help="Check files and the Merkle root only, without the workspace."),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Check a snapshot: every shard's checksum and row count, the Merkle root, and (with the
    workspace) every record's eligibility re-derived as of the snapshot's ledger position.
    Exits 9 naming each record that should not be there, or that is missing.

    Example: `consentry snapshot verify snapshots/acme`
    """
    report = verify_files(folder)
    if report.ok and not offline:
        ws = _operator_workspace(workspace, folder)
        check_key(folder, report.manifest, ws.secret(), secret_source(ws))
        with ws.ledger() as ledger:
            builder = workspace_builder(
                ws,
                ledger,
                recipient=report.manifest.recipient,
                names="names" in report.manifest.scrub.get("detectors", []),
            )
            erased = erased_record_ids(ledger, ws.secret(), report.manifest.snapshot_id)
            verify_against_workspace(folder, builder, report, erased=erased)
    if not report.ok:
        for problem in report.problems:
            err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
        raise SnapshotError(f"{folder}: {len(report.problems)} problem(s)")
    m = report.manifest
    what = "and every record's eligibility re-derived from the ledger" if report.rederived else ""
    console.print(
        f"[green]ok[/]: {len(m.shards)} record shard(s)"
        + (f" and {len(m.interactions)} interaction shard(s)" if m.interactions else "")
        + f", {m.merkle['leaves']:,} records, Merkle root {what}".rstrip()
        + (
            f" ({report.erased_since:,} records touched by erasures since, not re-derivable)"
            if report.erased_since
            else ""
        ),
        highlight=False,
        soft_wrap=True,
    )


@app.command("list")
@handle_errors
def list_command(workspace: WorkspaceOption = None) -> None:
    """List every snapshot this workspace built: its id, purpose, recipient, when, ledger
    entry, records, folder, and whether the folder still holds it.

    Example: `consentry snapshot list`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = recorded_snapshots(ledger)
    if not found:
        console.print("No snapshots yet (build one with `consentry snapshot build`).")
        return
    table = Table(box=None)
    for name in ("snapshot", "purpose", "for", "created", "ledger entry", "records", "path", ""):
        table.add_column(name)
    for s in found:
        d = s.delivery
        table.add_row(
            d.snapshot_id,
            d.purpose,
            d.recipient or "(internal)",
            fmt_time(d.created),
            str(d.ledger_seq),
            f"{d.records:,}",
            d.path,
            "" if s.present else "[red]folder gone[/]",
        )
    console.print(uncut(table, "snapshot"), highlight=False)


@app.command("show")
@handle_errors
def show_command(
    snapshot: Annotated[
        str, typer.Argument(help="A snapshot folder, or the id of one this workspace built.")
    ],
    head: Annotated[int, typer.Option(min=0, help="Records to show.")] = 5,
    with_pii: Annotated[
        bool, typer.Option("--with-pii", help="Only records where personal data was replaced.")
    ] = False,
    original: Annotated[
        bool,
        typer.Option(
            help="Beside each record, the text it was made from (operator only: read from the "
            "workspace's content store)."
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Show what a snapshot holds: what was left out and why, the personal data replaced, its
    shards, and its first records. A folder needs no workspace (a licensee's copy).

    Example: `consentry snapshot show snapshots/acme --head 3`
    """
    ws = None
    if is_snapshot_folder(snapshot) or Path(snapshot).exists():
        folder = Path(snapshot)  # (a folder that is no snapshot is said so when loaded)
    elif not _has_workspace(workspace):
        raise UsageError(
            f"{snapshot} is no snapshot folder, and there is no workspace at "
            f"{Workspace.locate(workspace)} to look a snapshot id up in"
        )
    else:
        ws = open_workspace(workspace)
        with ws.ledger() as ledger:
            folder = recorded_folder(ledger, snapshot)
    m = load_manifest(folder)
    records = first_records(folder, m, head, with_pii=with_pii)
    originals: dict[str, str | None] = {}
    if original:
        ws = ws or _operator_workspace(workspace, folder)
        secret = ws.secret()
        check_key(folder, m, secret, secret_source(ws))
        with ws.ledger() as ledger:
            ids = records["record_id"].to_pylist()
            originals = original_texts(ledger, ws.content_dir, secret, m, ids)
    _print_manifest(folder, m)
    _print_records(records, originals if original else None)


def _print_manifest(folder: Path, m: Manifest) -> None:
    console.print(
        f"[bold]Snapshot {m.snapshot_id}[/] in {folder}: {m.purpose}, "
        + (f"for {m.recipient}" if m.recipient else "internal")
        + f", as of ledger entry {m.ledger['seq']} (head {m.ledger['head']}), created {m.created}",
        highlight=False,
        soft_wrap=True,
    )
    counts = m.counts
    console.print(
        f"{counts['included']:,} of {counts['input']:,} items included; Merkle root "
        f"{m.merkle['root']}",
        highlight=False,
        soft_wrap=True,
    )
    left = Table("left out: reason", "items", box=None)
    for code, n in excluded_in_order(m):
        left.add_row(code, f"{n:,}")
    pii = Table("personal data replaced", "times", box=None)
    for kind, n in counts.get("pii_replaced", {}).items():
        pii.add_row(kind, f"{n:,}")
    shards = Table("shard", "rows", "sha256", box=None)
    for shard in m.shard_infos() + m.shard_infos("interactions"):
        shards.add_row(shard.path, f"{shard.rows:,}", shard.sha256)
    for table in (left, pii, shards):
        if table.row_count:
            console.print(uncut(table, "sha256"), highlight=False)


def _print_records(records: pa.Table, originals: dict[str, str | None] | None) -> None:
    if not records.num_rows:
        return
    rows = records.to_pylist()
    if originals is not None:  # two long texts side by side: one small table per record
        for row in rows:
            pair = Table("in the snapshot", "original", box=None, title_justify="left")
            pair.title = f"record {row['record_id']} ({row['kind']}), personal data replaced: " + (
                ", ".join(row["pii"] or []) or "none"
            )
            text = originals.get(row["record_id"])
            pair.add_row(
                Text(row["text"] or ""),
                Text(text) if text is not None else Text("(gone)", style="dim"),
            )
            console.print(uncut(pair), highlight=False)
        return
    table = Table(*SHOWN_COLUMNS, box=None, title="records", title_justify="left")
    for row in rows:
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    row["record_id"],
                    row["kind"],
                    row["lang"] or "",
                    fmt_time(row["created_at"]) if row["created_at"] else "",
                    ", ".join(row["pii"] or []),
                    row["text"] or "",
                )
            )
        )
    console.print(uncut(table, "record_id"), highlight=False)


def _operator_workspace(workspace: Path | None, folder: Path, *, instead: str = "") -> Workspace:
    """The operator's workspace; where there is none, a licensee is more likely than an
    operator to be asking, and ``consentry init`` would not help them: ``instead`` (default:
    ``verify --offline FOLDER``) is what they can run."""
    root = Workspace.locate(workspace)
    if not _has_workspace(root):
        raise WorkspaceError(
            f"no workspace at {root}: this needs the operator's workspace (--workspace or "
            f"{ENV_ROOT}); a licensee checks the files and the Merkle root with "
            f"`{instead or f'consentry snapshot verify --offline {folder}'}`"
        )
    return open_workspace(root)


def _has_workspace(workspace: Path | None) -> bool:
    return (Workspace.locate(workspace) / CONFIG_NAME).is_file()


@app.command("prove")
@handle_errors
def prove_command(
    folder: Annotated[Path, typer.Argument(help="A published snapshot folder.")],
    record_id: Annotated[str, typer.Argument(help="The record's id (its `record_id`).")],
    workspace: WorkspaceOption = None,
    offline: Annotated[
        bool, typer.Option(help="Do not look the consent entry up in the workspace.")
    ] = False,
) -> None:
    """Print, as JSON, the proof linking one record to the consent entry that allowed it (its
    Merkle audit path to the manifest's root) and to the ledger head the manifest published.

    Example: `consentry snapshot prove snapshots/acme c_k3j…`
    """
    proof = prove(folder, record_id)
    doc: dict[str, object] = {"proof": asdict(proof), "valid": proof.check()}
    if not offline and proof.consent_entry is not None:
        offline_proof = f"consentry snapshot prove --offline {folder} {record_id}"
        ws = _operator_workspace(workspace, folder, instead=offline_proof)
        with ws.ledger() as ledger:
            entry = ledger.entry(proof.consent_entry)
            head = ledger.position_at(proof.ledger_seq)
        doc["consent_entry"] = {
            "seq": entry.seq,
            "purpose": entry.purpose,
            "scope": entry.scope,
            "decision": entry.decision,
            "recipient": entry.recipient,
            "at": entry.at.isoformat(),
            "hash": entry.hash,
        }
        doc["ledger_head_matches"] = head.hash == proof.ledger_head
    print(json.dumps(doc, indent=2))
    if not proof.check():
        raise SnapshotError("the proof does not lead to the manifest's Merkle root")
