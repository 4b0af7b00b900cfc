"""The privacy center: server-rendered pages under ``/privacy`` where a person sees and changes
every AI use of their content (``docs/privacy-center.md``). No JavaScript, no third-party asset:
templates, styles and message catalogues ship in this package."""

from consentry.web.pages import install

__all__ = ["install"]
