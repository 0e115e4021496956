"""The care record as SQLAlchemy 2 typed ORM classes (the schema of migration 0001).

Nothing is overwritten: an edit is a new `CaseVersion`, an override a new `Override` row, and
every access leaves an `AuditEntry`, so the record can answer "who decided what, and when".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ROLES = ("clinician", "viewer", "admin")
DECISIONS = ("accepted", "overridden")
REASONS = ("patient_declined", "done_elsewhere", "contraindicated", "clinical_judgement", "other")
ACTIONS = (
    "created",
    "changed",
    "viewed",
    "overrode",
    "exported",
    "login",
    "login_failed",
    "login_throttled",
    "logout",
    "password_changed",
    "user_created",
    "user_changed",
    "token_issued",
    "token_revoked",
    "listed",
    "audit_read",
    "erased",
    "patient_changed",
    "archived",
    "unarchived",
)

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps always come back as UTC-aware datetimes, whatever the backend does."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        # PostgreSQL answers in the session's time zone; SQLite gives back what was stored
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JsonType,
        datetime: UtcDateTime(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(default=utcnow)
    # a disabled user cannot log in, and their sessions and tokens stop working
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_changed: Mapped[datetime | None]
    # the language of the clinician pages this user chose (web/i18n.py codes); None: not chosen
    lang: Mapped[str | None] = mapped_column(String(8))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_used: Mapped[datetime | None]
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    expires: Mapped[datetime | None]
    revoked: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class WebSession(Base):
    """A logged-in browser: the cookie holds a random id whose hash is the key here, so a
    logout, a password change or disabling the user ends the session on the server."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    client: Mapped[str | None] = mapped_column(String(64))


class CaseRecord(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    # an archived case leaves the worklist (its record stays whole; unarchiving brings it back)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    versions: Mapped[list[CaseVersion]] = relationship(
        back_populates="case", order_by="CaseVersion.n", lazy="raise"
    )


class CaseVersion(Base):
    __tablename__ = "case_versions"
    __table_args__ = (UniqueConstraint("case_id", "n", name="uq_case_versions_case_n"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    n: Mapped[int]
    data: Mapped[dict[str, Any]]
    # why this version exists: created | edited | imported | loss_recorded
    event: Mapped[str] = mapped_column(String(20), default="edited")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[CaseRecord] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship(lazy="joined")

    @property
    def version(self) -> int:
        """The case version number (1, 2, ...): the API's ETag and the forms' `version`."""
        return self.n


class AssessmentRecord(Base):
    __tablename__ = "assessments"
    __table_args__ = (
        # one assessment per version, options, date AND what made it (knowledge + engine)
        UniqueConstraint(
            "case_version_id",
            "kb_hash",
            "engine",
            "definition",
            "luteal_policy",
            "assessed_on",
            name="uq_assessments_key",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_version_id: Mapped[int] = mapped_column(
        ForeignKey("case_versions.id", ondelete="CASCADE"), index=True
    )
    kb_version: Mapped[str] = mapped_column(String(40))
    # knowledge_base.content_hash and .engine of the assessment ("" for rows stored before
    # they were recorded: such a row is stale and recomputed when read)
    kb_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    engine: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # the stale assessment this one was recomputed from (knowledge or engine changed)
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessments.id", ondelete="SET NULL"), default=None
    )
    input_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[str] = mapped_column(String(20))
    luteal_policy: Mapped[str] = mapped_column(String(20))
    assessed_on: Mapped[date] = mapped_column(Date)
    data: Mapped[dict[str, Any]]
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Override(Base):
    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_case_rec", "case_id", "recommendation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    recommendation_id: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case_created", "case_id", "created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    # not a foreign key: the log must outlive (and record) anything it refers to
    case_id: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]]
    created: Mapped[datetime] = mapped_column(default=utcnow)
    # who, as what, from where (the role at the time; the client address as the app saw it)
    role: Mapped[str | None] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User | None] = relationship(lazy="joined")


class CdsFeedback(Base):
    """An EHR's report of what a clinician did with a CDS Hooks card (accepted / overridden and
    the coded reason), kept like an override so the record can answer who decided what."""

    __tablename__ = "cds_feedback"
    __table_args__ = (
        UniqueConstraint(
            "service_id",
            "card",
            "outcome",
            "outcome_timestamp",
            "reason_code",
            name="uq_cds_feedback_event",
        ),
        Index("ix_cds_feedback_service_created", "service_id", "created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[str] = mapped_column(String(100))
    card: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_timestamp: Mapped[str] = mapped_column(String(40), default="")
    reason_code: Mapped[str] = mapped_column(String(100), default="")
    recommendation_id: Mapped[str | None] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    created: Mapped[datetime] = mapped_column(default=utcnow)


# --- outcomes registry (derived from the case versions; migration 0003_outcomes) --------------
# Rows are rewritten from a case's versions whenever one is stored (rplcare.outcomes.facts), so
# the registry figures are SQL aggregates over these three tables.


class OutcomePatient(Base):
    """One RPL episode: a patient from her first assessment in the clinic."""

    __tablename__ = "outcome_patients"
    __table_args__ = (Index("ix_outcome_patients_index_date", "index_date"),)

    case_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int]  # the case version the row was derived from (the latest)
    versions: Mapped[int]  # how many versions the case had then (staleness check)
    index_date: Mapped[date] = mapped_column(Date)
    index_year: Mapped[int]
    age: Mapped[int | None]
    prior_losses: Mapped[int]
    clinician: Mapped[str] = mapped_column(String(100))
    expected: Mapped[float | None] = mapped_column(
        Float
    )  # Brigham 1999 probability of success of the next pregnancy
    pregnancies: Mapped[int]  # subsequent pregnancies
    resolved: Mapped[int]  # of which with a recorded outcome
    live_births: Mapped[int]  # subsequent live births at 24+0 or later
    last_record: Mapped[date] = mapped_column(Date)
    # the next pregnancy, copied from outcome_pregnancies (seq 1) so the figures need no join
    next_outcome: Mapped[str | None] = mapped_column(String(20))
    next_due: Mapped[date | None] = mapped_column(Date)
    next_reached_12: Mapped[int]
    next_reached_24: Mapped[int]


class OutcomePregnancy(Base):
    """A pregnancy after the first assessment; seq 1 is the next pregnancy."""

    __tablename__ = "outcome_pregnancies"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_outcome_pregnancies_case_seq"),
        Index("ix_outcome_pregnancies_seq", "seq", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(20))
    ga_days: Mapped[int | None]
    end_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    reached_12: Mapped[int]
    reached_24: Mapped[int]


class OutcomeTag(Base):
    """A cause found or a treatment received by an episode (several per patient)."""

    __tablename__ = "outcome_tags"
    __table_args__ = (Index("ix_outcome_tags_dimension_value", "dimension", "value"),)

    case_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(120), primary_key=True)


# --- patients as people and the worklist (migration 0004_patients) ----------------------------


class PatientIdentity(Base):
    """Who the case is about: name, date of birth, hospital number, contact (issue 11 §2).

    Kept apart from the clinical record on purpose: `assess()` never sees it (the case versions
    hold no identity), exports and FHIR can leave it out, and the audit log names the fields
    changed, never their values. One row per case; erasing the case erases it."""

    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_mrn", "mrn"),
        Index("ix_patients_name_folded", "name_folded"),
    )

    case_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # NFKC + casefold of the name: the search key (SQL lower() folds ASCII only on SQLite)
    name_folded: Mapped[str] = mapped_column(String(200), default="", server_default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    mrn: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(500), default="", server_default="")
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class WorklistEntry(Base):
    """The case list's row of a case: what its latest version's stored assessment (default
    definition and policy) says, in columns, so the list filters, sorts and pages in SQL.

    A cache, rebuilt from the assessment when it no longer matches: another latest version,
    another knowledge base or engine, or (for a case without `assessed_on`) another day. A
    failed assessment is kept with its `error` and retried on the next list."""

    __tablename__ = "worklist"
    __table_args__ = (Index("ix_worklist_rank_due", "rank", "next_due"),)

    case_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int]
    version: Mapped[int]
    updated: Mapped[datetime]  # when the latest version was saved
    event: Mapped[str] = mapped_column(String(20))
    author: Mapped[str | None] = mapped_column(String(100))  # of the latest version
    clinician: Mapped[str | None] = mapped_column(String(100))  # who opened the case
    kb_hash: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(40))
    as_of: Mapped[date] = mapped_column(Date)
    dated: Mapped[bool] = mapped_column(Boolean)  # the case fixes its own assessed_on
    # URGENCIES index of the first action (0 immediate ... 3 routine; 4 no action; -1 error)
    rank: Mapped[int]
    urgency: Mapped[str | None] = mapped_column(String(20))
    next_due: Mapped[date | None] = mapped_column(Date)
    next_action: Mapped[str | None] = mapped_column(Text)
    needs_review: Mapped[bool] = mapped_column(Boolean)  # an action due within 24 h or sooner
    pregnant: Mapped[bool] = mapped_column(Boolean)
    workup_incomplete: Mapped[bool] = mapped_column(Boolean)
    lost: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
