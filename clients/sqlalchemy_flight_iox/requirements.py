"""What flight-iox supports, for SQLAlchemy's dialect compliance suite.

flight-iox is a time-series database: every table is tags + fields + a
``time`` TIMESTAMP column. Tables come into being when data is written, or
with ``CREATE TABLE`` when they have a ``time`` column (the suite's fixture
tables have none, so the suite cannot create them). INSERT, DELETE and DROP
TABLE work; there is no UPDATE and there are no transactions. Each closed
requirement below names the capability that is missing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements

NO_DDL = (
    "every flight-iox table needs a 'time' TIMESTAMP column; the suite's tables have none, "
    "so CREATE TABLE refuses them"
)
NO_VIEWS = "flight-iox has no CREATE VIEW, temporary tables or other DDL than CREATE/DROP TABLE"
NO_DML = "flight-iox has no UPDATE, RETURNING or DML inside CTEs (INSERT and DELETE work)"
NO_TRANSACTIONS = "flight-iox has no transactions"


def lacks(reason: str) -> exclusions.compound:
    """A requirement flight-iox does not meet, and why."""
    return exclusions.skip_if(lambda config: True, reason)


class Requirements(SuiteRequirements):
    """flight-iox's capabilities; anything not listed follows SQLAlchemy's defaults."""

    # --- DDL and DML ---------------------------------------------------------------------
    @property
    def create_table(self) -> exclusions.compound:
        """CREATE TABLE needs a ``time`` TIMESTAMP column, which the suite's tables lack."""
        return lacks(NO_DDL)

    @property
    def drop_table(self) -> exclusions.compound:
        """DROP TABLE works; the suite's tests of it create their tables first."""
        return lacks(NO_DDL)

    @property
    def table_ddl_if_exists(self) -> exclusions.compound:
        """IF [NOT] EXISTS works; the suite's tests of it create tables without ``time``."""
        return lacks(NO_DDL)

    @property
    def index_ddl_if_exists(self) -> exclusions.compound:
        """No indexes."""
        return lacks(NO_DDL)

    @property
    def create_table_as(self) -> exclusions.compound:
        """No CREATE TABLE AS."""
        return lacks(NO_DDL)

    @property
    def schemas(self) -> exclusions.compound:
        """Schemas are fixed (``iox``, ``information_schema``, ``system``)."""
        return lacks("flight-iox schemas are fixed; there is no test_schema to create")

    @property
    def views(self) -> exclusions.compound:
        """No CREATE VIEW."""
        return lacks(NO_VIEWS)

    @property
    def temporary_tables(self) -> exclusions.compound:
        """No temporary tables."""
        return lacks(NO_VIEWS)

    @property
    def temp_table_reflection(self) -> exclusions.compound:
        """No temporary tables."""
        return lacks(NO_VIEWS)

    @property
    def delete_from(self) -> exclusions.compound:
        """DELETE works; the suite's tests of it delete from tables it cannot create."""
        return lacks(NO_DDL)

    @property
    def update_from(self) -> exclusions.compound:
        """No UPDATE."""
        return lacks(NO_DML)

    @property
    def ctes_on_dml(self) -> exclusions.compound:
        """No DML."""
        return lacks(NO_DML)

    @property
    def ctes_with_update_delete(self) -> exclusions.compound:
        """No DML."""
        return lacks(NO_DML)

    @property
    def empty_inserts(self) -> exclusions.compound:
        """A write needs a time."""
        return lacks("every flight-iox row needs a time")

    @property
    def returning(self) -> exclusions.compound:
        """No RETURNING."""
        return lacks(NO_DML)

    # --- keys, constraints, indexes, comments ---------------------------------------------
    @property
    def foreign_keys(self) -> exclusions.compound:
        """No foreign keys."""
        return lacks("flight-iox has no foreign keys")

    @property
    def foreign_key_constraint_reflection(self) -> exclusions.compound:
        """No foreign keys."""
        return lacks("flight-iox has no foreign keys")

    @property
    def unique_constraint_reflection(self) -> exclusions.compound:
        """No unique constraints."""
        return lacks("flight-iox has no unique constraints")

    @property
    def index_reflection(self) -> exclusions.compound:
        """No indexes."""
        return lacks("flight-iox has no indexes")

    @property
    def comment_reflection(self) -> exclusions.compound:
        """No comments."""
        return lacks("flight-iox has no comments")

    @property
    def autoincrement_insert(self) -> exclusions.compound:
        """No generated keys."""
        return lacks("flight-iox keys are tags and time, never generated")

    # --- transactions ---------------------------------------------------------------------
    @property
    def autocommit(self) -> exclusions.compound:
        """Every statement commits: AUTOCOMMIT is the only level."""
        return exclusions.open()

    @property
    def isolation_level(self) -> exclusions.compound:
        """Only AUTOCOMMIT."""
        return lacks(NO_TRANSACTIONS)

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        """AUTOCOMMIT, the default and only level."""
        return {"default": "AUTOCOMMIT", "supported": ["AUTOCOMMIT"]}

    @property
    def savepoints(self) -> exclusions.compound:
        """No transactions."""
        return lacks(NO_TRANSACTIONS)

    @property
    def two_phase_transactions(self) -> exclusions.compound:
        """No transactions."""
        return lacks(NO_TRANSACTIONS)


NO_DECIMAL256 = (
    "DataFusion's decimals are Decimal128: DECIMAL(38, 0) / DECIMAL(38, 0) scales the dividend "
    "past 38 digits and overflows, and integer literals beyond 64 bits are parsed as floats"
)

# Suite tests that need what flight-iox lacks but declare no requirement that could say so.
# Each entry is (suite class, test name as pytest shows it, with parameters) and a reason.
UNDECLARED_GAPS: dict[tuple[str, str], str] = {
    # Both create a table in the test body without the ``metadata`` fixture, so nothing
    # structural marks them: ``Table("foo", MetaData(), ...).create(config.db)``, and the
    # legacy ``@provide_metadata`` decorator followed by ``t.create(config.db)``.
    ("StringTest", "test_nolength_string"): f"the test creates a table: {NO_DDL}",
    ("EscapingTest", "test_percent_sign_round_trip"): f"the test creates a table: {NO_DDL}",
    # Only the numeric_many_decimals case of this test declares a precision requirement.
    ("TrueDivTest", "test_truediv_divisor[numeric_38_digit_divisor-typed]"): NO_DECIMAL256,
}


def creates_tables(cls: type | None) -> bool:
    """Whether a suite class's fixtures create tables (it overrides ``define_tables``)."""
    from sqlalchemy.testing.fixtures import TablesTest

    if cls is None or not issubclass(cls, TablesTest) or cls.run_define_tables is None:
        return False
    return cls.define_tables.__func__ is not TablesTest.define_tables.__func__  # type: ignore[attr-defined]


def creates_tables_in_test(item: Any) -> bool:
    """Whether a suite test creates tables itself, through the ``metadata`` fixture.

    That function-scoped fixture drops the test's tables afterwards; the suite's tests
    use it directly or through fixtures built on it (``literal_round_trip``,
    ``integer_round_trip``, ``do_numeric_test``, ...), and pytest's fixture closure
    shows either.
    """
    return "metadata" in getattr(item, "fixturenames", ())


def undeclared_gap(item: Any) -> str | None:
    """Why flight-iox cannot run this test, when the suite gives it no requirement to say so."""
    cls = getattr(item, "cls", None)
    if cls is None:
        return None
    for (owner, test), reason in UNDECLARED_GAPS.items():
        # the suite's per-backend copies are named ``StringTest_<backend>``
        if item.name == test and (cls.__name__ == owner or cls.__name__.startswith(owner + "_")):
            return reason
    return None


def skip_table_fixtures(items: list[Any]) -> None:
    """Gate tests that create tables (in fixtures or in the test) on ``create_table``.

    Also skips the few ``UNDECLARED_GAPS``, which no requirement covers.
    """
    import pytest
    from sqlalchemy.testing import config

    creates = not config.requirements.create_table.enabled
    for item in items:
        if creates and creates_tables(getattr(item, "cls", None)):
            item.add_marker(pytest.mark.skip(reason=f"fixture tables need CREATE TABLE: {NO_DDL}"))
        elif creates and creates_tables_in_test(item):
            item.add_marker(pytest.mark.skip(reason=f"the test creates a table: {NO_DDL}"))
        elif (reason := undeclared_gap(item)) is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
