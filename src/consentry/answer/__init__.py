"""Live eligibility for the platform's assistant (purpose ``answer``), fed by the ledger.

``AnswerIndex`` holds every content item in 13 bytes and answers, for any batch of content ids,
``eligible`` or the one reason code by the policy's own rules, as of the ledger head;
``LiveAnswers`` keeps one worker's index fresh; ``filter_candidates`` drops what may not ground
an answer. See docs/answer.md.
"""

from consentry.answer.index import ELIGIBLE, UNKNOWN, AnswerIndex, Verdicts
from consentry.answer.live import LiveAnswers
from consentry.answer.retrieval import filter_candidates

__all__ = ["ELIGIBLE", "UNKNOWN", "AnswerIndex", "LiveAnswers", "Verdicts", "filter_candidates"]
