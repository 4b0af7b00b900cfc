"""Pseudonyms: keyed, per recipient, per domain, stable, short, and never revealing the secret."""

from __future__ import annotations

import io
import logging
import pickle
import re

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.scrub import Domain, MentionResolver, Pseudonymiser, scrub_array
from consentry.scrub.pseudonym import ACCOUNT_PSEUDONYM_PATTERN

SECRET = bytes.fromhex("8f1c2a4b6d8e0f1a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f")
OTHER_SECRET = bytes(range(32))


def test_stable_for_one_recipient_across_instances() -> None:
    a = Pseudonymiser(SECRET, "acme").account("1001")
    b = Pseudonymiser(SECRET, "acme").account("1001")
    assert a == b


def test_recipients_and_no_recipient_are_unlinkable() -> None:
    values = {
        Pseudonymiser(SECRET, "acme").account("1001"),
        Pseudonymiser(SECRET, "globex").account("1001"),
        Pseudonymiser(SECRET, None).account("1001"),
        Pseudonymiser(SECRET, "").account("1001"),
        Pseudonymiser(OTHER_SECRET, "acme").account("1001"),
    }
    assert len(values) == 5


def test_account_and_content_with_the_same_text_differ() -> None:
    p = Pseudonymiser(SECRET, "acme")
    assert p.account("9001")[2:] != p.content("9001")[2:]


def test_shape_is_short_url_safe_and_prefixed() -> None:
    p = Pseudonymiser(SECRET)
    assert re.fullmatch(ACCOUNT_PSEUDONYM_PATTERN, p.account("1001"))
    assert re.fullmatch("c_[a-z2-7]{24}", p.content("9001"))


def test_is_keyed_not_a_plain_hash() -> None:
    import hashlib

    p = Pseudonymiser(SECRET)
    digests = {
        hashlib.sha256(b"1001").hexdigest(),
        hashlib.blake2b(b"1001").hexdigest(),
        hashlib.md5(b"1001").hexdigest(),
    }
    body = p.account("1001")[2:]
    assert not any(body in d for d in digests)


def test_arrays_compute_per_distinct_value_and_keep_nulls() -> None:
    p = Pseudonymiser(SECRET, "acme")
    ids = pa.chunked_array([["1", "2", None], ["1"]])
    out = p.accounts(ids).to_pylist()
    assert out == [p.account("1"), p.account("2"), None, p.account("1")]
    assert p.contents(pa.array(["1"])).to_pylist() == [p.content("1")]
    with pytest.raises(TypeError, match="strings"):
        p.accounts(pa.array([1, 2]))


@pytest.mark.parametrize("bad", [b"short", b""])
def test_rejects_weak_secrets_without_echoing_them(bad: bytes) -> None:
    with pytest.raises(ValueError) as err:
        Pseudonymiser(bad)
    assert bad.hex() not in str(err.value) or not bad


def test_secret_never_in_repr_logs_pickles_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    p = Pseudonymiser(SECRET, "acme")
    resolver = MentionResolver(["alice"], ["1001"], p)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("consentry").debug("%r %r", p, resolver)
    texts = [repr(p), str(p), repr(resolver), caplog.text]
    try:
        p.accounts(pa.array([1]))
    except TypeError as exc:
        texts.append(str(exc))
    out = scrub_array(pa.array(["@alice salut"]), mentions=resolver)
    texts.append(str(out.text.to_pylist()))
    blob = "\n".join(texts)
    for form in (SECRET.hex(), SECRET.hex().upper(), repr(SECRET), SECRET.decode("latin-1")):
        assert form not in blob
    assert SECRET not in pickle.dumps(p)
    buf = io.BytesIO()
    pickle.dump(p, buf)
    assert pickle.loads(buf.getvalue()).account("1") == p.account("1")


@given(st.text(max_size=30), st.text(max_size=30))
def test_distinct_ids_get_distinct_pseudonyms(a: str, b: str) -> None:
    p = Pseudonymiser(SECRET)
    assert (p.account(a) == p.account(b)) == (a == b)


def test_mention_resolver_is_case_insensitive_and_matches_the_author_column() -> None:
    p = Pseudonymiser(SECRET, "acme")
    resolver = MentionResolver(["Alice", "@bob", None], ["1001", "1002", "1003"], p)
    assert len(resolver) == 2
    got = resolver.resolve(pa.array(["ALICE", "alice", "bob", "carol"])).to_pylist()
    assert got == [p.account("1001"), p.account("1001"), p.account("1002"), None]
    author = p.accounts(pa.array(["1001"])).to_pylist()[0]
    text = scrub_array(pa.array(["merci @Alice et @carol"]), mentions=resolver).text
    assert text.to_pylist() == [f"merci @{author} et @<USER>"]


def test_first_account_wins_a_shared_handle() -> None:
    p = Pseudonymiser(SECRET)
    resolver = MentionResolver(["alice", "ALICE"], ["1", "2"], p)
    assert resolver.account_ids(pa.array(["alice"])).to_pylist() == ["1"]
    with pytest.raises(ValueError, match="2 handles but 1 account ids"):
        MentionResolver(["a", "b"], ["1"], p)


def test_domain_enum_names() -> None:
    assert [d.value for d in Domain] == ["account", "content"]
