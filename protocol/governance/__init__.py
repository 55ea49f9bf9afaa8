"""Governance: how a federation decides (``decisions``: consent and ballot tallies) and, beside
it, the territorial fund its decisions allocate (``fund``). Pure, like the rest of ``protocol``."""

# The federation kind (protocol.agreements.federation) plugs the fund in when it registers: load the
# agreements package first, so that importing the fund from here or from there gives the same order.
from .. import agreements as _agreements  # noqa: F401
from .decisions import (
    CHOICES,
    BallotTally,
    Choice,
    CollegeTally,
    ConsentTally,
    DecisionRule,
    Objection,
    Outcome,
    Window,
    ballot_tally,
    college_weights,
    consent_tally,
    integrate,
    phase,
    review_date,
    window,
    withdraw,
)

__all__ = [
    "CHOICES",
    "BallotTally",
    "Choice",
    "CollegeTally",
    "ConsentTally",
    "DecisionRule",
    "Objection",
    "Outcome",
    "Window",
    "ballot_tally",
    "college_weights",
    "consent_tally",
    "integrate",
    "phase",
    "review_date",
    "window",
    "withdraw",
]
