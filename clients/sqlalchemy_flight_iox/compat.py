"""What differs between SQLAlchemy 1.4 and 2.x, in one place.

The dialect runs on both: tools such as Superset still pin ``sqlalchemy<2``. Names that
only 2.x has are imported for type checking alone (the ``Reflected*`` typed dicts,
``DBAPIConnection``) or resolved here, so importing the dialect on 1.4 never fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import reflection
from sqlalchemy.sql import functions

SQLALCHEMY_2 = int(sqlalchemy.__version__.split(".", 1)[0]) >= 2

if TYPE_CHECKING:
    GenericFunction = functions.GenericFunction[Any]
    Double = sqltypes.Double
else:
    # 1.4's GenericFunction is not generic, and it has no Double: a float64 is a Float there
    # (which the type compiler writes as DOUBLE all the same).
    GenericFunction = functions.GenericFunction
    Double = getattr(sqltypes, "Double", sqltypes.Float)


_F = TypeVar("_F", bound=Callable[..., Any])


def reflection_cache(fn: _F) -> _F:
    """``sqlalchemy.engine.reflection.cache``, also on methods with annotations under 1.4.

    1.4's decorator rebuilds the method's signature from its text and cuts the last
    character of it, which under ``from __future__ import annotations`` is the closing
    quote of the return annotation (a SyntaxError). The annotations are only for type
    checkers, so on 1.4 they are dropped before decorating.
    """
    if not SQLALCHEMY_2:
        fn.__annotations__ = {}
    return reflection.cache(fn)  # type: ignore[no-any-return]


def dbapi_connection(connection: Any) -> Any:
    """The DB-API connection under an SQLAlchemy ``Connection``.

    ``connection.connection`` is the pool's wrapper, whose ``dbapi_connection`` is the
    driver's; while 1.4 initializes a dialect it is the driver's connection itself.
    """
    wrapped = connection.connection
    return getattr(wrapped, "dbapi_connection", wrapped)


def returns_rows(compiled: Any) -> bool:
    """Whether a compiled INSERT has a RETURNING clause (2.x: ``effective_returning``)."""
    if SQLALCHEMY_2:
        return bool(compiled.effective_returning)
    return bool(compiled.returning)
