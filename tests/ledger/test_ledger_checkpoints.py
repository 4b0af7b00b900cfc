"""Consent checkpoints: a cache that must answer exactly what the entries answer, and never be
trusted when it disagrees with them."""

from __future__ import annotations

import pyarrow as pa
import pytest

from consentry.errors import LedgerIntegrityError
from consentry.ledger import AsOf
from consentry.ledger.store import LedgerStore
from consentry.model import Scope

from .ledger_support import Backend, deny, grant


def _history(ledger: LedgerStore, n: int, offset: int = 0) -> None:
    items = []
    for i in range(n):
        account = f"a{(i + offset) % 37}"
        if i % 5 == 0:
            items.append(deny(account, "train", minutes=i + offset, scope=Scope.ASSISTANT))
        elif i % 7 == 0:
            items.append(grant(account, "share", minutes=i + offset, recipient="acme"))
        else:
            items.append(grant(account, "train", minutes=(i + offset) * (-1) ** i))
    ledger.append(items)


def _same(ledger: LedgerStore, **kw: object) -> None:
    fast = ledger.consent_state(**kw)  # type: ignore[arg-type]
    slow = ledger.consent_state(use_checkpoints=False, **kw)  # type: ignore[arg-type]
    assert fast.equals(slow)


def test_checkpoint_answers_like_the_entries(ledger: LedgerStore) -> None:
    _history(ledger, 300)
    head = ledger.checkpoint()
    assert ledger._query("SELECT seq FROM consent_checkpoints") == [(head.seq,)]
    _history(ledger, 120, offset=300)  # entries after the checkpoint, some backdated
    for kw in ({}, {"purposes": ["train"]}, {"recipient": "acme"}, {"purposes": ["share"]}):
        _same(ledger, **kw)
    # An earlier position than the checkpoint folds from the entries.
    _same(ledger, as_of=AsOf(seq=head.seq - 10))
    _same(ledger, as_of=AsOf(seq=head.seq + 7))


def test_checkpoint_taken_automatically_far_past_the_last(
    ledger: LedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consentry.ledger.store as store

    monkeypatch.setattr(store, "CHECKPOINT_EVERY", 50)
    _history(ledger, 120)
    _same(ledger)
    assert len(ledger._query("SELECT seq FROM consent_checkpoints")) == 1
    _history(ledger, 30, offset=120)
    _same(ledger)  # under the threshold: reads since the checkpoint, takes none
    assert len(ledger._query("SELECT seq FROM consent_checkpoints")) == 1
    assert ledger.verify().entries == 150


def test_a_stale_checkpoint_is_ignored(ledger: LedgerStore, backend: Backend) -> None:
    _history(ledger, 60)
    head = ledger.checkpoint()
    # History rewritten under the checkpoint: entry `head.seq` no longer carries its hash.
    backend.execute("UPDATE ledger_entries SET hash = prev_hash WHERE seq = ?", (head.seq,))
    base_seq, base = ledger._load_checkpoint(head.seq)
    assert (base_seq, base) == (0, None)


def test_a_poisoned_checkpoint_fails_verify(ledger: LedgerStore, backend: Backend) -> None:
    _history(ledger, 60)
    head = ledger.checkpoint()
    seq, data = ledger._query("SELECT seq, data FROM consent_checkpoints")[0]
    rows = pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all()
    # Someone with database access turns every denial into a grant in the cache only.
    forged = rows.set_column(
        rows.schema.get_field_index("decision"), "decision", pa.array(["grant"] * rows.num_rows)
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, forged.schema) as writer:
        writer.write_table(forged)
    backend.execute(
        "UPDATE consent_checkpoints SET data = ? WHERE seq = ?",
        (sink.getvalue().to_pybytes(), seq),
    )
    with pytest.raises(LedgerIntegrityError, match=f"checkpoint at entry {head.seq}"):
        ledger.verify()
    # A check never trusts it either.
    assert not ledger.consent_state().equals(ledger.consent_state(use_checkpoints=False))
