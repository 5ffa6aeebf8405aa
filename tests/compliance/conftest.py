"""SQLAlchemy's testing plugin, active only for the compliance run (see ``run.py``).

The default ``pytest`` run walks this folder too; there the plugin stays out of
the way, since it would take over collection for the whole session.
"""

from __future__ import annotations

import os

if os.environ.get("FLIGHT_IOX_SQLA_SUITE") == "1":
    import pytest
    from sqlalchemy.dialects import registry

    registry.register("flight_iox", "sqlalchemy_flight_iox.base", "FlightIoxDialect")
    registry.register("flight_iox.adbc", "sqlalchemy_flight_iox.base", "FlightIoxDialect")
    pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

    from sqlalchemy.testing.plugin import pytestplugin as _sqla
    from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: F403 (the plugin's hooks)

    def pytest_collection_modifyitems(
        session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """SQLAlchemy's own collection, then the table-creating classes gated on DDL."""
        _sqla.pytest_collection_modifyitems(session, config, items)
        from sqlalchemy_flight_iox.requirements import skip_table_fixtures

        skip_table_fixtures(items)
