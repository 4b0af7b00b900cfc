"""The accounts whose pages a platform publishes signals for: each one's part of the URL (its
handle or its id, as the page patterns name it) beside its choice, as of a ledger position."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.store import ContentStore
from consentry.ledger import LedgerStore, Position
from consentry.policy import Policy
from consentry.signals.config import PagePattern, SignalsConfig
from consentry.signals.state import SignalState, signal_state

#: Handles and ids that stand in a URL path as they are (RFC 3986 unreserved characters).
_UNRESERVED = r"^[A-Za-z0-9._~-]+$"


@dataclass(frozen=True, slots=True)
class Published:
    position: Position
    #: The account's part of its pages' URLs (handle or id), one per account.
    keys: pa.Array
    #: The account's choice, ``train + 2 * answer`` (``registry.COMBOS``).
    combo: npt.NDArray[np.int8]
    config: SignalsConfig

    def __len__(self) -> int:
        return len(self.keys)


def handles_of(content: ContentStore, account_ids: pa.Array) -> pa.Array:
    """Each account's current handle (null where the content store has none)."""
    names = content.accounts(("account_id", "handle"))
    if names.num_rows == 0:
        return pa.nulls(len(account_ids), pa.string())
    where = pc.index_in(account_ids, value_set=names["account_id"].combine_chunks())
    return names["handle"].combine_chunks().take(where)


def publish(state: SignalState, config: SignalsConfig, handles: pa.Array | None) -> Published:
    """The accounts of ``state`` that have pages: with patterns by handle, those the content
    store knows a handle of (others have no page to speak of)."""
    keys = state.account_id if config.key == "account" else handles
    if keys is None:
        raise ValueError("page patterns by {handle} need the accounts' handles")
    known = pc.is_valid(keys).to_numpy(zero_copy_only=False)
    combo = state.combo()
    if not known.all():
        keys = keys.filter(pa.array(known))
        combo = combo[known]
    keys, combo = _one_rule_per_key(keys.cast(pa.string()), combo)
    return Published(state.position, keys, combo, config)


def _one_rule_per_key(
    keys: pa.Array, combo: npt.NDArray[np.int8]
) -> tuple[pa.Array, npt.NDArray[np.int8]]:
    """One entry per URL part: where several accounts hold the same handle (one deleted, its
    handle taken again), their pages are the same pages, so a use is said yes to only when
    every one of them says yes."""
    encoded = pc.dictionary_encode(keys)
    if len(encoded.dictionary) == len(keys):
        return keys, combo
    codes = encoded.indices.to_numpy()
    both = np.full(len(encoded.dictionary), 3, dtype=np.int8)
    np.bitwise_and.at(both, codes, combo)
    return encoded.dictionary, both


def published(
    ledger: LedgerStore, policy: Policy, config: SignalsConfig, content: ContentStore
) -> Published:
    """Every account's signals as of the ledger's head."""
    state = signal_state(ledger, policy)
    handles = handles_of(content, state.account_id) if config.key == "handle" else None
    return publish(state, config, handles)


def url_part(keys: pa.Array) -> pa.Array:
    """``keys`` as they stand in a URL path: percent-encoded where they hold anything but
    unreserved characters (a handle with a space or a newline must never break a rule)."""
    plain = pc.fill_null(pc.match_substring_regex(keys, _UNRESERVED), False)
    if pc.all(plain).as_py() is not False:
        return keys
    odd = np.nonzero(~plain.to_numpy(zero_copy_only=False))[0]
    quoted = [quote(v, safe="") for v in keys.take(pa.array(odd)).to_pylist()]
    mask = np.zeros(len(keys), dtype=np.bool_)
    mask[odd] = True
    filled = np.zeros(len(keys), dtype=np.int64)
    filled[odd] = np.arange(len(odd))
    return pc.if_else(pa.array(mask), pa.array(quoted, pa.string()).take(pa.array(filled)), keys)


def rule_paths(page: PagePattern, parts: pa.Array) -> pa.Array:
    """Per account, the robots.txt path pattern of its pages of kind ``page``: the part every
    such page shares (``/alice/status/``), or the one page itself (``/alice$``)."""
    tail = "$" if page.exact else page.prefix_after
    return pc.binary_join_element_wise(page.before, parts, tail, "")
