"""The IBAN detector's first test, ISO 7064 mod 97-10 of every prefix of a candidate from one
pass, against stdnum's own (the oracle)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.iso7064 import mod_97_10

from consentry.scrub.detectors.ibans import _mod97_holds, validate_iban


@settings(max_examples=300, deadline=None)
@given(compact=st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZé", min_size=0, max_size=34))
def test_iban_checksum_of_every_prefix_is_iso_7064s(compact: str) -> None:
    """Each prefix's mod 97-10 from one pass is stdnum's ISO 7064 (the oracle) of that prefix
    as an IBAN reads it (first four characters moved to the end, letters as numbers)."""
    holds = _mod97_holds(compact)
    assert len(holds) == len(compact) + 1
    for length in range(len(compact) + 1):
        prefix = compact[:length]
        expected = (
            length > 4
            and prefix.isascii()
            and prefix.isalnum()
            and mod_97_10.is_valid(prefix[4:] + prefix[:4])
        )
        assert holds[length] == expected, prefix


CASES = [
    # (candidate, IBANs found in it)
    ("FR76 3000 6000 0112 3456 7890 189", [(0, 33)]),
    ("FR76 3000 6000 0112 3456 7890 189 merci", [(0, 33)]),
    ("FR7630006000011234567890189", [(0, 27)]),
    ("JO20 FR76 3000 6000 0112 3456 7890 189", [(5, 38)]),
    ("FR76 3000 6000 0112 3456 7890 188", []),
    ("DE89-3704-0044-0532-0130-00", [(0, 27)]),
]


def test_ibans_found_in_candidates() -> None:
    for candidate, expected in CASES:
        assert list(validate_iban(candidate)) == expected, candidate
