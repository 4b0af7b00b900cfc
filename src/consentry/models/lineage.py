"""The lineage store: a model (name, version, when trained) and the snapshots it was trained on.

A model belongs to one holder: a recipient (a licensee registers the models it trains on the
snapshots delivered to it) or the platform itself (``recipient=None``: its internal snapshots).
A holder names only snapshots delivered to it; any other id, another licensee's included, is
refused with the same message as an id that does not exist, so nothing leaks of what others
received.

A model's id is derived from (holder, name, version): registering the same model twice with the
same snapshots and time answers the model already recorded (a client retrying after a lost
answer), with other snapshots or another time it is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from consentry.compliance.deliveries import Deliveries, Delivery
from consentry.compliance.recipients import Recipients, holder_key, holder_of
from consentry.errors import NotFoundError, UsageError
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us
from consentry.times import now_us

#: Names and versions appear in URLs, tables and the AI Act summary: printable, one line.
_TEXT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+/@ -]{0,127}$")
MAX_SNAPSHOTS: Final = 10_000
_COLUMNS: Final = "model_id, holder, name, version, trained_us, registered_us, retired_us"


class ModelConflictError(UsageError):
    """A model of that name and version is already recorded with other snapshots or another
    training time (the HTTP service answers 409)."""


@dataclass(frozen=True, slots=True)
class Model:
    model_id: str
    recipient: str | None  # None: the platform's own model
    name: str
    version: str
    trained_at: datetime
    registered: datetime
    snapshots: tuple[Delivery, ...]
    #: When its holder said it was retrained or unlearned (None: still in use).
    retired: datetime | None = None

    @property
    def delivery_ids(self) -> list[int]:
        return [d.delivery_id for d in self.snapshots]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.model_id,
            "recipient": self.recipient,
            "name": self.name,
            "version": self.version,
            "trained_at": self.trained_at.isoformat(),
            "registered": self.registered.isoformat(),
            "snapshots": [d.snapshot_id for d in self.snapshots],
            "records": sum(d.records for d in self.snapshots),
            "retired": self.retired.isoformat() if self.retired else None,
        }


def model_id_of(recipient: str | None, name: str, version: str) -> str:
    digest = hashlib.sha256(f"{holder_key(recipient)}\0{name}\0{version}".encode()).hexdigest()
    return f"m-{digest[:20]}"


def _check_text(field: str, value: str) -> None:
    if not _TEXT.match(value):
        raise UsageError(
            f"model {field} {value!r}: use 1 to 128 letters, digits, spaces or . _ : + / @ -,"
            " starting with a letter or digit"
        )


class Models:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def register(
        self,
        recipient: str | None,
        name: str,
        version: str,
        snapshots: list[str],
        trained_at: datetime,
    ) -> Model:
        """Record that ``recipient`` (None: the platform) trained ``name`` ``version`` on
        ``snapshots`` at ``trained_at``."""
        _check_text("name", name)
        _check_text("version", version)
        if recipient is not None:
            Recipients(self.ledger).get(recipient)
        if not snapshots:
            raise UsageError("a model names at least one snapshot it was trained on")
        if len(snapshots) > MAX_SNAPSHOTS:
            raise UsageError(f"a model names at most {MAX_SNAPSHOTS:,} snapshots")
        if trained_at.tzinfo is None:
            raise UsageError("trained_at needs a UTC offset, e.g. 2026-11-30T12:00:00Z")
        held = self._held(recipient, snapshots)
        if to_us(trained_at) > now_us():
            raise UsageError(f"trained_at {trained_at.isoformat()} is in the future")
        late = [d.snapshot_id for d in held if d.created > trained_at]
        if late:
            raise UsageError(
                f"trained_at {trained_at.isoformat()} is before snapshot {late[0]} was built"
            )
        model_id = model_id_of(recipient, name, version)
        ids = sorted(d.delivery_id for d in held)
        with self.ledger.transaction():
            existing = self.find(model_id)
            if existing is not None:
                if existing.delivery_ids != ids or existing.trained_at != trained_at:
                    raise ModelConflictError(
                        f"model {name} {version} is already recorded (id {model_id}) with other"
                        " snapshots or another training time: register a new version"
                    )
                return existing
            self.ledger.execute(
                f"INSERT INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (model_id, holder_key(recipient), name, version, to_us(trained_at), now_us()),
            )
            for delivery_id in ids:
                self.ledger.execute(
                    "INSERT INTO model_snapshots (model_id, delivery_id) VALUES (?, ?)",
                    (model_id, delivery_id),
                )
        found = self.find(model_id)
        assert found is not None
        return found

    def _held(self, recipient: str | None, snapshots: list[str]) -> list[Delivery]:
        deliveries = Deliveries(self.ledger)
        held: dict[str, Delivery] = {}
        for snapshot_id in snapshots:
            found = deliveries.get(snapshot_id)
            # Another holder's snapshot reads exactly like one that does not exist.
            if found is None or found.recipient != recipient:
                whose = "delivered to you" if recipient is not None else "an internal snapshot"
                raise NotFoundError(f"no snapshot {snapshot_id!r} {whose}")
            held[snapshot_id] = found
        return list(held.values())

    def find(self, model_id: str) -> Model | None:
        """The model of id ``model_id``, whoever holds it (None: no such model)."""
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM models WHERE model_id = ?", (model_id,))
        return self._models(rows)[0] if rows else None

    def _models(self, rows: list[tuple[Any, ...]]) -> list[Model]:
        if not rows:
            return []
        ids = [str(r[0]) for r in rows]
        marks = ", ".join("?" for _ in ids)
        links = self.ledger.query(
            f"SELECT model_id, delivery_id FROM model_snapshots WHERE model_id IN ({marks})"
            " ORDER BY model_id, delivery_id",
            ids,
        )
        found = Deliveries(self.ledger).by_ids(sorted({int(r[1]) for r in links}))
        per_model: dict[str, list[Delivery]] = {}
        for model_id, delivery_id in links:
            per_model.setdefault(str(model_id), []).append(found[int(delivery_id)])
        return [
            Model(
                model_id=str(r[0]),
                recipient=holder_of(str(r[1])),
                name=str(r[2]),
                version=str(r[3]),
                trained_at=from_us(int(r[4])),
                registered=from_us(int(r[5])),
                snapshots=tuple(per_model.get(str(r[0]), [])),
                retired=None if r[6] is None else from_us(int(r[6])),
            )
            for r in rows
        ]

    def get(self, recipient: str | None, model: str) -> Model:
        """The holder's model ``model``: its id, or ``NAME@VERSION``. Another holder's model
        reads like one that does not exist."""
        model_id = model
        if "@" in model and not model.startswith("m-"):
            name, _, version = model.rpartition("@")
            model_id = model_id_of(recipient, name, version)
        found = self.find(model_id)
        if found is None or found.recipient != recipient:
            raise NotFoundError(f"no model {model!r} registered by you")
        return found

    def retire(self, recipient: str | None, model: str) -> Model:
        """Mark the holder's model retired (retrained without the exposed records, or the
        records unlearned): its exposure stays on record but is no longer overdue. Retiring
        it again keeps the first time."""
        found = self.get(recipient, model)
        self.ledger.execute(
            "UPDATE models SET retired_us = ? WHERE model_id = ? AND retired_us IS NULL",
            (now_us(), found.model_id),
        )
        return self.get(recipient, found.model_id)

    def held_by(self, recipient: str | None) -> list[Model]:
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM models WHERE holder = ? ORDER BY name, trained_us, version",
            (holder_key(recipient),),
        )
        return self._models(rows)

    def all(self) -> list[Model]:
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM models ORDER BY holder, name, trained_us")
        return self._models(rows)

    def trained_on(self, delivery_ids: list[int]) -> list[Model]:
        """The models (of any holder) trained on any of these deliveries."""
        if not delivery_ids:
            return []
        marks = ", ".join("?" for _ in delivery_ids)
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM models WHERE model_id IN (SELECT model_id FROM"
            f" model_snapshots WHERE delivery_id IN ({marks})) ORDER BY holder, name, trained_us",
            delivery_ids,
        )
        return self._models(rows)
