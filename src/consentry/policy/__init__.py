"""Policy files and the eligibility rules they drive."""

from consentry.policy.eligibility import FRAME_SCHEMA, RULES, verdict, verdicts
from consentry.policy.loader import Policy, check_policy, default_policy_text, load_policy

__all__ = [
    "FRAME_SCHEMA",
    "RULES",
    "Policy",
    "check_policy",
    "default_policy_text",
    "load_policy",
    "verdict",
    "verdicts",
]
