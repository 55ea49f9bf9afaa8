"""Agreements: multi-signed, hash-linked chains of events judged by per-kind tables.

``machine`` holds the generic machine (events, states, ``apply``/``replay``,
builders); ``sealed`` the co-signed agreement document an auditor checks
offline; ``loan`` the first kind's table and terms. Importing this package
registers every kind.
"""

from ._frozen import FrozenMap
from .campaign import CAMPAIGN  # noqa: F401  (registers the campaign kind)
from .loan import (
    LOAN,
    LoanTerms,
    cancellation_fee,
    lateness_minutes,
    open_request,
    parse_terms,
)
from .machine import (
    EVENT_TYPE,
    KINDS,
    STATEMENT_TYPE,
    Acceptance,
    AgreementState,
    Embedding,
    EventBody,
    Kind,
    Proposal,
    StatementBody,
    StatementRule,
    Step,
    Transition,
    apply,
    effective_state,
    embed,
    is_closed,
    kind_of,
    make_statement,
    next_event,
    open_agreement,
    register_kind,
    replay,
)
from .sealed import (
    SEAL_PREFIX,
    AgreementDocument,
    SealedAgreement,
    sign_document,
    terms_document,
)

from . import federation  # noqa: F401  (registers the federation kind; after machine and loan)

__all__ = [
    "EVENT_TYPE",
    "KINDS",
    "LOAN",
    "SEAL_PREFIX",
    "STATEMENT_TYPE",
    "Acceptance",
    "AgreementDocument",
    "AgreementState",
    "Embedding",
    "EventBody",
    "FrozenMap",
    "Kind",
    "LoanTerms",
    "Proposal",
    "SealedAgreement",
    "StatementBody",
    "StatementRule",
    "Step",
    "Transition",
    "apply",
    "cancellation_fee",
    "effective_state",
    "embed",
    "is_closed",
    "kind_of",
    "lateness_minutes",
    "make_statement",
    "next_event",
    "open_agreement",
    "open_request",
    "parse_terms",
    "register_kind",
    "replay",
    "sign_document",
    "terms_document",
]
