"""Each person's choice, published for crawlers: AIPREF ``Content-Usage`` (header and
robots.txt), Cloudflare's ``Content-Signal`` and W3C TDMRep, from the ledger as of its head
(docs/signals.md)."""

from consentry.signals.config import SignalsConfig, load_signals_config, parse_signals
from consentry.signals.published import Published, publish, published
from consentry.signals.registry import VOCABULARIES, headers, values
from consentry.signals.state import SignalState, signal_state
from consentry.signals.vocabulary import Choice, Vocabulary
from consentry.signals.writers import write_robots, write_tdmrep

__all__ = [
    "VOCABULARIES",
    "Choice",
    "Published",
    "SignalState",
    "SignalsConfig",
    "Vocabulary",
    "headers",
    "load_signals_config",
    "parse_signals",
    "publish",
    "published",
    "signal_state",
    "values",
    "write_robots",
    "write_tdmrep",
]
