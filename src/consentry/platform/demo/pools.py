"""Word, name and sentence pools the demo platform assembles its texts from.

Faker is slow per call (~15 µs) and a 10M-post platform needs hundreds of millions of words, so
it runs once per seed to fill pools (a few thousand entries per language); texts are then put
together from the pools by index. Pool strings never hold a double quote, a backslash or a
control character, so that generated JSON lines need no escaping.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

LANGS: Final = ("fr", "en", "de")
#: Faker locale for sentences (English lorem of en_GB is Latin: take en_US) and for names.
SENTENCE_LOCALE: Final = {"fr": "fr_FR", "en": "en_US", "de": "de_DE"}
NAME_LOCALES: Final = {"fr": ("fr_FR",), "en": ("en_US", "en_GB"), "de": ("de_DE",)}
SENTENCES_PER_LANG: Final = 1500
NAMES_PER_LOCALE: Final = 400

_UNSAFE: Final = re.compile(r'["\\\x00-\x1f\x7f]')

#: Carrier phrases per language and type of planted data; ``{x}`` is where the value goes.
CARRIERS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "fr": {
        "email": ("écrivez-moi à {x}", "mon mail : {x}", "contact : {x}", "CV à envoyer à {x}"),
        "phone": ("appelez-moi au {x}", "mon numéro : {x}", "tél. {x}", "dispo au {x} ce soir"),
        "iban": ("mon IBAN : {x}", "virement sur {x} svp", "RIB : {x} merci"),
        "card": ("ma carte {x} a été débitée deux fois", "paiement refusé avec la carte {x}"),
        "ip": ("mon IP {x} est bannie ?", "connexion bloquée depuis {x}", "le serveur {x} rame"),
        "url": ("à lire : {x}", "{x}", "source : {x}", "voir {x}"),
        "name": (
            "avec {x} ce matin",
            "merci à {x} pour l'aide",
            "{x} a raison",
            "vu {x} au marché",
        ),
        "handle": ("cc {x}", "merci {x} !", "d'accord avec {x}", "{x} tu en penses quoi ?"),
    },
    "en": {
        "email": ("email me at {x}", "my email is {x}", "reach out: {x}", "send it to {x}"),
        "phone": ("call me at {x}", "my number is {x}", "text {x} tonight", "ph: {x}"),
        "iban": ("my IBAN is {x}", "please wire it to {x}", "bank details: {x}"),
        "card": ("my card {x} got charged twice", "payment declined on card {x}"),
        "ip": ("my IP {x} got banned?", "blocked from {x} again", "server {x} is down"),
        "url": ("worth a read: {x}", "{x}", "source: {x}", "see {x}"),
        "name": ("met {x} this morning", "thanks to {x} for the help", "{x} is right", "with {x}"),
        "handle": ("cc {x}", "thanks {x}!", "agree with {x}", "{x} what do you think?"),
    },
    "de": {
        "email": ("schreibt mir an {x}", "meine Mail: {x}", "Kontakt: {x}"),
        "phone": ("ruft mich an unter {x}", "meine Nummer: {x}", "Tel. {x}"),
        "iban": ("meine IBAN: {x}", "bitte überweisen an {x}"),
        "card": ("meine Karte {x} wurde doppelt belastet", "Zahlung mit Karte {x} abgelehnt"),
        "ip": ("meine IP {x} ist gesperrt?", "Zugriff von {x} blockiert"),
        "url": ("lesenswert: {x}", "{x}", "Quelle: {x}", "siehe {x}"),
        "name": ("heute mit {x} unterwegs", "danke an {x} für die Hilfe", "{x} hat recht"),
        "handle": ("cc {x}", "danke {x}!", "stimme {x} zu", "{x} was meinst du?"),
    },
}

HASHTAGS: Final = {
    "fr": (
        "IA",
        "RGPD",
        "Paris",
        "football",
        "politique",
        "cuisine",
        "cinéma",
        "JO2024",
        "grève",
        "météo",
        "rentrée",
        "climat",
        "vieprivée",
        "Lyon",
        "musique",
    ),
    "en": (
        "AI",
        "GDPR",
        "MachineLearning",
        "NBA",
        "London",
        "tech",
        "privacy",
        "climate",
        "music",
        "startup",
        "OpenSource",
        "WorldCup",
        "books",
    ),
    "de": ("KI", "Datenschutz", "Berlin", "Fußball", "Bundesliga", "Klima", "Technik", "Bahn"),
}
CASHTAGS: Final = ("AAPL", "TSLA", "MSFT", "NVDA", "AMZN", "GOOG", "BTC", "ETH", "META", "AIR")
EMOJI: Final = ("🔥", "😂", "👍", "🙏", "❤️", "🇫🇷", "🤔", "🎉", "☀️", "😅")
OPENERS: Final = {
    "fr": ("Honnêtement, ", "Franchement ", "Bon, ", "Alors ", "Ptdr ", "Bref. ", ""),
    "en": ("Honestly, ", "Ok so ", "Lol ", "Hot take: ", "Just saying, ", "Well, ", ""),
    "de": ("Ehrlich gesagt, ", "Also ", "Naja, ", "Krass, ", ""),
}
PROMPTS: Final = {
    "fr": (
        "Peux-tu résumer ce texte : ",
        "Aide-moi à écrire un message : ",
        "Corrige les fautes : ",
        "Traduis en anglais : ",
        "Explique simplement : ",
    ),
    "en": (
        "Can you summarise this: ",
        "Help me write a message: ",
        "Fix the grammar: ",
        "Translate to French: ",
        "Explain like I am five: ",
    ),
    "de": (
        "Fasse bitte zusammen: ",
        "Hilf mir, eine Nachricht zu schreiben: ",
        "Korrigiere die Fehler: ",
        "Übersetze ins Englische: ",
    ),
}
ANSWERS: Final = {
    "fr": (
        "Bien sûr ! Voici une proposition : ",
        "Voici une version corrigée : ",
        "En résumé : ",
        "D'accord. ",
    ),
    "en": ("Sure! Here is a draft: ", "Here is a corrected version: ", "In short: ", "Of course. "),
    "de": ("Gern! Hier ist ein Vorschlag: ", "Hier die korrigierte Fassung: ", "Kurz gesagt: "),
}
EMAIL_DOMAINS: Final = (
    "gmail.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "yahoo.fr",
    "outlook.com",
    "hotmail.com",
    "gmx.de",
    "web.de",
    "proton.me",
    "icloud.com",
)
URL_DOMAINS: Final = (
    "www.lemonde.fr",
    "www.liberation.fr",
    "www.francetvinfo.fr",
    "www.bbc.co.uk",
    "www.nytimes.com",
    "www.theguardian.com",
    "www.spiegel.de",
    "www.zeit.de",
    "github.com",
    "www.youtube.com",
    "medium.com",
    "fr.wikipedia.org",
    "en.wikipedia.org",
    "example.org",
)
MEDIA_TYPES: Final = ("photo", "photo", "photo", "video", "animated_gif")


def clean(text: str) -> str:
    """``text`` without what JSON would have to escape."""
    return _UNSAFE.sub("", text)


def ascii_fold(text: str) -> str:
    """``Benoît Müller`` → ``benoit muller``: for emails and handles."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "", folded.lower())


@dataclass(frozen=True, slots=True)
class Pools:
    sentences: dict[str, tuple[str, ...]]
    first_names: dict[str, tuple[str, ...]]
    last_names: dict[str, tuple[str, ...]]
    words: tuple[str, ...]
    carriers: dict[str, dict[str, tuple[tuple[str, str], ...]]]


def _split(template: str) -> tuple[str, str]:
    before, _, after = template.partition("{x}")
    return before, after


def build_pools(seed: int) -> Pools:
    """The pools for one seed (deterministic: Faker is seeded per locale)."""
    from faker import Faker  # here: Faker takes longer to import than most commands run

    sentences: dict[str, tuple[str, ...]] = {}
    first: dict[str, tuple[str, ...]] = {}
    last: dict[str, tuple[str, ...]] = {}
    words: list[str] = []
    for n, lang in enumerate(LANGS):
        fake = Faker(SENTENCE_LOCALE[lang])
        fake.seed_instance(seed * 7 + n)
        pool = []
        for i in range(SENTENCES_PER_LANG):
            s = clean(fake.sentence(nb_words=4 + i % 11))
            if i % 4 == 0:
                s = s.rstrip(".")  # people skip the final stop
            pool.append(s)
        sentences[lang] = tuple(pool)
        words.extend(ascii_fold(w) for w in fake.words(nb=200))
        firsts, lasts = [], []
        for m, locale in enumerate(NAME_LOCALES[lang]):
            names = Faker(locale)
            names.seed_instance(seed * 13 + n * 3 + m)
            for _ in range(NAMES_PER_LOCALE // len(NAME_LOCALES[lang])):
                firsts.append(clean(names.first_name()))
                lasts.append(clean(names.last_name()))
        first[lang], last[lang] = tuple(firsts), tuple(lasts)
    carriers = {
        lang: {kind: tuple(_split(t) for t in ts) for kind, ts in table.items()}
        for lang, table in CARRIERS.items()
    }
    return Pools(sentences, first, last, tuple(w for w in words if w), carriers)
