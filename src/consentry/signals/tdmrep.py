"""W3C TDMRep (TDM Reservation Protocol, Community Group Final Report, 2024): ``1`` reserves
the rights of text and data mining (EU DSM Directive, art. 4), ``0`` does not. Sent as the
``tdm-reservation`` HTTP header and published in ``/.well-known/tdmrep.json``, an array of
``{"location": PATH-PATTERN, "tdm-reservation": 0|1}``. Mining is reserved unless the account
granted ``train``."""

from __future__ import annotations

from consentry.signals.vocabulary import Choice


class Tdmrep:
    name = "tdm_reservation"
    spec = "W3C TDMRep, Community Group Final Report (2024-02)"
    header: str | None = "tdm-reservation"
    robots: str | None = None

    def value(self, choice: Choice) -> str:
        return "0" if choice.train else "1"
