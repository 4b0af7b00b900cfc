"""A realistic synthetic platform for demos, tests and benchmarks (``consentry demo generate``).

See ``consentry.platform.demo.generator`` for the files written and
``consentry.platform.demo.content`` for the ground truth of planted personal data.
"""

from consentry.platform.demo.generator import DEFAULT_POSTS, DemoSummary, default_accounts, generate

__all__ = ["DEFAULT_POSTS", "DemoSummary", "default_accounts", "generate"]
