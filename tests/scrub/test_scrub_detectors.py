"""Each detector's table: true positives, and the near misses it must leave alone.

Every case runs through the whole registry (as scrubbing does), and looks at the spans of the
type under test, so a case also shows that no other detector steals the text.
"""

from __future__ import annotations

import pytest

from consentry.scrub import default_registry, detect_spans


def found(text: str, type_: str) -> list[str]:
    return [s.value for s in detect_spans([text])[0] if s.type == type_]


EMAILS = [
    ("écris à bob.martin@example.fr stp", ["bob.martin@example.fr"]),
    ("Mail: Jean-Luc+news@sub.mail.example.co.uk.", ["Jean-Luc+news@sub.mail.example.co.uk"]),
    ("bob@example.com.Merci", ["bob@example.com"]),
    ("...alice@example.org", ["alice@example.org"]),
    ("élodie@exemple.fr", ["élodie@exemple.fr"]),
    ("deux: a@b.io, c@d.net", ["a@b.io", "c@d.net"]),
    # near misses
    ("logo@2x.png", []),  # not a TLD
    ("user@localhost", []),
    ("@alice on se voit", []),
    ("me@ example.com", []),
]

PHONES = [
    ("appelle-moi au 06 12 34 56 78 ce soir", ["06 12 34 56 78"]),
    # National formats of the other default regions (US, GB, DE).
    ("my number is (305) 664-4422", ["(305) 664-4422"]),
    ("call 212-640-4738 now", ["212-640-4738"]),
    ("text 07928 806785 tonight", ["07928 806785"]),
    ("Tel. 0171 32209866, danke", ["0171 32209866"]),
    ("order 2126404738 shipped", []),  # ten bare digits: an id, not a written number
    ("0612345678", ["0612345678"]),
    ("06.12.34.56.78", ["06.12.34.56.78"]),
    ("tel 06-12-34-56-78.", ["06-12-34-56-78"]),
    ("+33 6 12 34 56 78", ["+33 6 12 34 56 78"]),
    ("+33 (0)6 12 34 56 78", ["+33 (0)6 12 34 56 78"]),
    ("0033 6 12 34 56 78", ["0033 6 12 34 56 78"]),
    ("+33612345678", ["+33612345678"]),
    ("bureau 01 23 45 67 89", ["01 23 45 67 89"]),
    ("UK +44 20 7946 0958", ["+44 20 7946 0958"]),
    ("US +1 (415) 555-2671 ok", ["+1 (415) 555-2671"]),
    ("+49 30 12345678", ["+49 30 12345678"]),
    ("06 12 34 56 78 06 98 76 54 32", ["06 12 34 56 78", "06 98 76 54 32"]),
    # Issue 15: layouts of many countries, most without a country code.
    ("Ruf 052 948 46 74 an", ["052 948 46 74"]),  # Switzerland
    ("Hubungi (021) 8106-014 ya", ["(021) 8106-014"]),  # Indonesia
    ("ring +46 (0)8 704 655 72 nu", ["+46 (0)8 704 655 72"]),  # Sweden
    ("call 475-661-2500x905 now", ["475-661-2500x905"]),  # US, with an extension
    ("office 212 555 0100 ext. 12", ["212 555 0100 ext. 12"]),
    ("tel 0316/49539646", ["0316/49539646"]),  # Austria
    ("(06)91/417-7763", ["(06)91/417-7763"]),  # Hungary, trunk 06
    ("ligue (351) 969 141 777", ["(351) 969 141 777"]),  # Portugal: code in parentheses
    ("+(370) 90964557", ["+(370) 90964557"]),  # Lithuania
    ("звони 8 (492) 922-6829", ["8 (492) 922-6829"]),  # Russia, trunk 8
    ("call 1-718-204-2991", ["1-718-204-2991"]),  # NANP with its trunk 1
    ("zadzwoń 609 141 777", ["609 141 777"]),  # Poland: no trunk prefix, grouped
    ("ring 91 41 77 76", ["91 41 77 76"]),  # Norway
    ("liga 12 5535-7359", ["12 5535-7359"]),  # Brazil, written without its trunk 0
    ("電話 080-1209-0541", ["080-1209-0541"]),  # Japan
    # Numbers without trunk prefix count only whole: cut from a run, a score or a time
    # before a French number would pass for one of another country.
    ("on score 3-1 02 81 97 77 08 mais", ["02 81 97 77 08"]),
    ("vers 10:45 01 29 82 57 19", ["01 29 82 57 19"]),
    ("le 15/01/2024 06 59 62 64 64 in", ["06 59 62 64 64"]),
    # near misses: dates, times, ids, random runs, no trunk prefix
    ("le 2024-01-15 à 10:30", []),
    ("rdv 15/01/2024", []),
    ("commande 4829104829", []),
    ("612345678", []),
    ("12345678901", []),
    ("ref ABC0612345678", []),
    ("version 06.12.34.56.78.90.12", []),
    # Issue 15: numbers that are not personal data, whatever region is tried.
    ("le 2024-07-26", []),
    ("am 26.07.2024", []),
    ("on 07/26/2024", []),
    ("27.1.2017 12:00", []),
    ("(2006-12-14)", []),
    ("total 12 500 000 €", []),
    ("score 102:98", []),
    ("order #48213077", []),
    ("order 4821307712", []),
    ("version 10.0.19045.3570", []),
    ("release 4.18.40.8059", []),
    ("ISBN 978-3-16-148410-0", []),
    ("ISBN 0-306-40615-2", []),
    ("ISBN 1-395-85131-X", []),
    ("tracking 1Z999AA10123456784", []),
    ("USPS 9400 1000 0000 0000 0000 00", []),
    ("EAN 4006381333931", []),
    ("en 2024 2001:db8:318:10a:d537:5929:1c67:e5c0", []),  # a year, then an IPv6 address
    ("Common Sense, No. 485 (1966-12-15)", []),  # an issue number, then a date
    ("EAN 09106987", []),
    ("barcode 0300679750979", []),
]

CARDS = [
    ("carte 4111 1111 1111 1111 merci", ["4111 1111 1111 1111"]),
    ("4111-1111-1111-1111", ["4111-1111-1111-1111"]),
    ("5500005555555559", ["5500005555555559"]),
    ("amex 3782 822463 10005", ["3782 822463 10005"]),
    ("6011 0009 9013 9424", ["6011 0009 9013 9424"]),
    ("score 3-1 3782 822463 10005 top", ["3782 822463 10005"]),  # run starts too early
    ("n°12345 4111 1111 1111 1111", ["4111 1111 1111 1111"]),
    ("n°12345 4111111111111111 film", ["4111111111111111"]),
    # Issue 15: every brand and length from 12 to 19 digits.
    ("maestro 5875 4645 3354", ["5875 4645 3354"]),  # 12 digits
    ("maestro 6304-3207-1854", ["6304-3207-1854"]),
    ("visa 4071284308860", ["4071284308860"]),  # 13
    ("diners 38251027346464", ["38251027346464"]),  # 14
    ("diners 3025 899139 4410", ["3025 899139 4410"]),
    ("jcb 2131 843978 21062", ["2131 843978 21062"]),  # 15, old JCB
    ("jcb 180001657150694", ["180001657150694"]),
    ("jcb 3574 9952 5255 9449", ["3574 9952 5255 9449"]),  # 16
    ("mastercard 2230-7986-8307-8486", ["2230-7986-8307-8486"]),
    ("visa 4798609605756670333", ["4798609605756670333"]),  # 19
    # near misses
    ("USPS 9454 4951 5667 4929 7812 06", []),  # a card's digits inside a tracking number
    ("en 2024 5513-2570-0614-1076 by", ["5513-2570-0614-1076"]),  # a year, then the card
    ("EAN 6788914973965", []),  # Luhn-valid, 13 digits, not Visa: a barcode
    ("4111 1111 1111 1112", []),  # Luhn fails
    ("commande 1234567890123452", []),  # Luhn passes, no network starts with 1
    ("9111 1111 1111 1117", []),
    ("41111111111111111111111", []),  # too long
]

IBANS = [
    # Valid by ISO 13616 (length, mod-97) though not by Spain's own check digits: still an IBAN.
    ("wire it to ES33 8236 5258 3323 1307 0329", ["ES33 8236 5258 3323 1307 0329"]),
    ("ES4817723395576559870788", ["ES4817723395576559870788"]),
    ("iban FR76 3000 6000 0112 3456 7890 189 merci", ["FR76 3000 6000 0112 3456 7890 189"]),
    ("FR7630006000011234567890189", ["FR7630006000011234567890189"]),
    ("DE89 3704 0044 0532 0130 00", ["DE89 3704 0044 0532 0130 00"]),
    ("GB82WEST12345698765432.", ["GB82WEST12345698765432"]),
    ("fr76 3000 6000 0112 3456 7890 189", ["fr76 3000 6000 0112 3456 7890 189"]),
    ("#JO2024 to and les DE89370400440532013000", ["DE89370400440532013000"]),  # JO: Jordan
    # near misses
    ("FR76 3000 6000 0112 3456 7890 188", []),  # mod-97 fails
    ("DE89 3704 0044 0532 0130", []),  # too short for Germany
    ("XX89 3704 0044 0532 0130 00", []),  # no such country
]

IPS = [
    ("serveur 192.168.1.12 down", ["192.168.1.12"]),
    ("8.8.8.8", ["8.8.8.8"]),
    ("http://10.0.0.1/admin", ["10.0.0.1"]),
    ("v6 2001:db8::1 ok", ["2001:db8::1"]),
    ("fe80::1ff:fe23:4567:890a", ["fe80::1ff:fe23:4567:890a"]),
    ("::ffff:192.0.2.128", ["::ffff:192.0.2.128"]),
    # near misses: versions, octets over 255, times, code
    ("v1.2.3.4", []),
    ("python 3.11.2.1.5", []),
    ("256.1.1.1", []),
    ("01.02.03.04", []),
    ("à 10:30:00", []),
    ("std::vector", []),
    ("a::b", []),
]

URLS = [
    ("voir https://example.com/x?y=1 !", ["https://example.com/x?y=1"]),
    ("lien: example.fr/page", ["example.fr/page"]),
    ("www.exemple.fr", ["www.exemple.fr"]),
    ("(http://twitter.com)", ["http://twitter.com"]),
    # near misses
    # A sentence run on after its full stop, the next word a TLD (issue 15): twitter-text
    # extracts these, but a host is not written capitalised after a single label.
    ("fin.Je pars", []),
    ("Das liegt.Mit dem", []),
    ("das ist arbiträr.Es gibt", []),
    ("zurechtlegen.Es war", []),
    # ...while real bare domains still are URLs.
    ("see example.com", ["example.com"]),
    ("bit.ly/x", ["bit.ly/x"]),
    ("de.wikipedia.org", ["de.wikipedia.org"]),
    ("EXAMPLE.COM", ["EXAMPLE.COM"]),
    ("www.Example.De", ["www.Example.De"]),
    ("https://liegt.Mit", ["https://liegt.Mit"]),
    ("e.g. this", []),
    ("3.14 et 2.5", []),
    ("fichier.txt", []),
]

HANDLES = [
    ("merci @bob !", ["@bob"]),
    ("@alice @Bob_2", ["@alice", "@Bob_2"]),
    ("RT @test: hello", ["@test"]),
    ("@alice/amis", ["@alice/amis"]),
    # near misses
    ("bob@example.com", []),
    ("@alice@mastodon.social", []),
    ("f!@kn", []),
    ("@u_abcdefghijklmnop", []),  # already one of our pseudonyms
]

KEPT = [
    ("#JO2024 et $TSLA", [("hashtag", "#JO2024"), ("cashtag", "$TSLA")]),
    ("#123", []),
]


@pytest.mark.parametrize(("text", "expected"), EMAILS)
def test_emails(text: str, expected: list[str]) -> None:
    assert found(text, "email") == expected


@pytest.mark.parametrize(("text", "expected"), PHONES)
def test_phones(text: str, expected: list[str]) -> None:
    assert found(text, "phone") == expected


@pytest.mark.parametrize(("text", "expected"), CARDS)
def test_cards(text: str, expected: list[str]) -> None:
    assert found(text, "card") == expected
    assert found(text, "phone") == []


@pytest.mark.parametrize(("text", "expected"), IBANS)
def test_ibans(text: str, expected: list[str]) -> None:
    assert found(text, "iban") == expected


@pytest.mark.parametrize(("text", "expected"), IPS)
def test_ips(text: str, expected: list[str]) -> None:
    assert found(text, "ip") == expected


@pytest.mark.parametrize(("text", "expected"), URLS)
def test_urls(text: str, expected: list[str]) -> None:
    assert found(text, "url") == expected


@pytest.mark.parametrize(("text", "expected"), HANDLES)
def test_handles(text: str, expected: list[str]) -> None:
    assert found(text, "handle") == expected


@pytest.mark.parametrize(("text", "expected"), KEPT)
def test_hashtags_and_cashtags_are_detected(text: str, expected: list[tuple[str, str]]) -> None:
    spans = [(s.type, s.value) for s in detect_spans([text])[0]]
    assert spans == expected


def test_offsets_are_code_points() -> None:
    text = "🎉 é @bob 06 12 34 56 78"
    spans = detect_spans([text])[0]
    assert [text[s.start : s.end] for s in spans] == ["@bob", "06 12 34 56 78"]


def test_registry_names_are_unique_and_typed() -> None:
    reg = default_registry()
    assert reg.names() == [
        "email",
        "url",
        "iban",
        "card",
        "ipv4",
        "ipv6",
        "phone",
        "handle",
        "hashtag",
        "cashtag",
    ]
    with pytest.raises(ValueError, match="already registered"):
        reg.register(reg.get("email"))
    with pytest.raises(KeyError, match="no detector named 'nope'"):
        reg.select(["nope"])


def test_a_subset_of_detectors_finds_only_its_types() -> None:
    reg = default_registry()
    spans = detect_spans(["@bob 06 12 34 56 78"], detectors=reg.select(["phone"]))[0]
    assert [s.type for s in spans] == ["phone"]


def test_card_networks_never_span_two_first_digits() -> None:
    """The issuer table compares a card's first digits with each range's bounds as numbers
    of the bounds' length: that is the ranges' order only when both bounds have one length."""
    from consentry.scrub.detectors.cards import _NETWORKS

    assert all(low[0] == high[0] and len(low) == len(high) for low, high, _ in _NETWORKS)
