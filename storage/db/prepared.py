"""The few statements every chat event runs, executed straight on the driver.

Every update a person sends reads their account, their conversation state, their roles and
their answers, and most write an answer and the state back. Through SQLAlchemy's execution
layer each of those statements cost 0.1-0.6 ms of CPU on SQLite (the SQL itself: a few
microseconds) and about ten times what asyncpg needs on PostgreSQL; together they were most
of what an event cost. `Prepared` compiles a Core statement once per dialect with
SQLAlchemy (so the SQL, the bind order and the type conversions are SQLAlchemy's own) and
then runs it on the session's connection through the driver: same transaction, same
connection, none of the per-statement machinery.

What it gives up, on purpose and only for these statements: SQLAlchemy's statement events
(`trace` stands in for counting them) and its wrapping of driver errors (a failure here
still rolls the event's transaction back, as any error does). The ORM does not see these
writes: callers keep loaded objects in step themselves (see `submissions._touch`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_only

Processor = Callable[[Any], Any] | None

# Set by a benchmark to count statements (SQLAlchemy's events do not see these).
trace: Callable[[str], None] | None = None


@dataclass
class _Compiled:
    sql: str
    compiled: SQLCompiler
    order: tuple[str, ...]  # bind names in the order the driver takes them
    binds: Mapping[str, Callable[[Any], Any]]
    results: tuple[Processor, ...] | None  # None until the driver's column types are known
    defaults: Mapping[str, Callable[[], Any]]  # Python-side column defaults, by bind name
    fixed: Mapping[str, Any]  # values written into the statement (`state="idle"`)


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler) and compiled.positional, "positional drivers only"
    # An IN list or a callable value is computed at execution time: not supported here.
    assert not any(b.expanding or b.callable is not None for b in compiled.binds.values())
    fixed = {name: b.value for name, b in compiled.binds.items() if not b.required}
    # asyncpg's conversions depend on the column's PostgreSQL type: known on first run.
    results = None if dialect.name == "postgresql" else _processors(compiled, dialect, None)
    return _Compiled(compiled.string, compiled, tuple(compiled.positiontup or ()),
                     dict(compiled._bind_processors),  # type: ignore[arg-type]
                     results, _defaults(compiled), fixed)


def _processors(compiled: SQLCompiler, dialect: Dialect, coltypes: Sequence[Any] | None
                ) -> tuple[Processor, ...]:  # fmt: skip
    entries = compiled._result_columns
    types = coltypes if coltypes is not None else [None] * len(entries)
    return tuple(entry[3]._cached_result_processor(dialect, coltype)
                 for entry, coltype in zip(entries, types, strict=True))


def _defaults(compiled: SQLCompiler) -> dict[str, Callable[[], Any]]:
    """Columns the statement leaves out but that have a Python-side default (`default=0`,
    `onupdate=...`): SQLAlchemy's execution context fills these in; so do we."""
    found: dict[str, Callable[[], Any]] = {}
    for column, attr in [(c, "default") for c in compiled.insert_prefetch] + \
                        [(c, "onupdate") for c in compiled.update_prefetch]:
        default = getattr(column, attr)
        if not (default.is_scalar or default.is_callable):
            raise ValueError(f"{column}: only scalar or callable defaults")
        found[column.key] = partial(_default_value, default)
    return found


def _default_value(default: Any) -> Any:
    # SQLAlchemy wraps a callable default to take an execution context; ours ignore it.
    return default.arg(None) if default.is_callable else default.arg


async def _driver(session: AsyncSession) -> tuple[Dialect, Any]:
    """The dialect and DBAPI connection of the session's transaction (kept for it)."""
    bind = session.bind
    if isinstance(bind, AsyncConnection) and bind.in_transaction():
        # `storage.db.lanes.transaction`: the session joined a connection whose transaction is
        # already open; asking the session for it would only build its bookkeeping.
        raw = bind.sync_connection.connection  # type: ignore[union-attr]
        return bind.dialect, raw.dbapi_connection
    transaction = session.sync_session.get_transaction()
    cached = session.info.get("cchc.driver")
    if cached is not None and cached[0] is transaction:
        return cached[1], cached[2]
    connection = await session.connection()  # begins the transaction (BEGIN IMMEDIATE)
    raw = await connection.get_raw_connection()
    session.info["cchc.driver"] = (session.sync_session.get_transaction(), connection.dialect,
                                   raw.dbapi_connection)
    return connection.dialect, raw.dbapi_connection


class Prepared:
    """A Core statement (or one per dialect, for upserts) run on the driver."""

    def __init__(self, statement: Executable | Mapping[str, Executable]) -> None:
        self._statements = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statements = self._statements
            statement = (statements[dialect.name] if isinstance(statements, Mapping)
                         else statements)
            compiled = self._compiled[dialect.name] = _compile(statement, dialect)
        return compiled

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it; the rows it returns (none for a plain write), values converted.
        Pending ORM changes are flushed first, as SQLAlchemy's autoflush would, and writes
        waiting for the transaction's next statement (`later`) go out before it."""
        await _autoflush(session)
        dialect, dbapi = await _driver(session)
        await _send(_take_waiting(session), dialect, dbapi)
        return await self.run_on(dialect, dbapi, params)

    async def run_on(self, dialect: Dialect, dbapi: Any, params: Mapping[str, Any]
                     ) -> list[tuple[Any, ...]]:  # fmt: skip
        """Run it on this DBAPI connection (as `rows` does, without the session's part)."""
        compiled = self._for(dialect)
        values = {**compiled.fixed, **params}
        for key, default in compiled.defaults.items():
            values[key] = default()
        binds = compiled.binds
        args = [binds[key](values[key]) if key in binds else values[key]
                for key in compiled.order]
        if trace is not None:
            trace(compiled.sql)
        if dialect.name == "postgresql":
            raw = await _asyncpg_fetch(dbapi, compiled, dialect, args)
        else:
            raw = dbapi.execute(compiled.sql, args).fetchall()  # sqlite3, in the loop
        results = compiled.results
        assert results is not None
        return [_convert(row, results) for row in raw]

    async def later(self, session: AsyncSession, params: Mapping[str, Any], *,
                    with_state: Prepared | None = None) -> None:  # fmt: skip
        """Run this write with the transaction's next statement, not on its own (see
        `Waiting`); at once where it cannot wait (a session outside storage.db.lanes.transaction).
        `with_state`: the same write with the chat's state save, in one statement."""
        info = _lane_info(session)
        if info is None:
            await self.rows(session, params)
            return
        await _autoflush(session)  # writes keep their order
        info.setdefault(_WAITING, []).append(Waiting(self, dict(params), with_state))

    async def first(self, session: AsyncSession, params: Mapping[str, Any]
                    ) -> tuple[Any, ...] | None:  # fmt: skip
        rows = await self.rows(session, params)
        return rows[0] if rows else None


async def _autoflush(session: AsyncSession) -> None:
    sync = session.sync_session
    if sync.autoflush and (sync.new or sync.deleted or sync.dirty):
        await session.flush()


async def _asyncpg_fetch(adapter: Any, compiled: _Compiled, dialect: Dialect,
                         args: Sequence[Any]) -> list[Any]:  # fmt: skip
    # SQLAlchemy's asyncpg adapter opens the transaction lazily, on its first statement;
    # when a prepared statement comes first, open it the same way.
    if not adapter._started:
        await adapter._start_transaction()
    connection = adapter._connection
    if compiled.results is None:
        statement = await connection.prepare(compiled.sql)
        oids = [attribute.type.oid for attribute in statement.get_attributes()]
        compiled.results = _processors(compiled.compiled, dialect, oids)
    return list(await connection.fetch(compiled.sql, *args))


def _convert(row: Sequence[Any], processors: tuple[Processor, ...]) -> tuple[Any, ...]:
    return tuple(value if process is None or value is None else process(value)
                 for value, process in zip(row, processors, strict=True))


# -- writes that wait for the transaction's next statement -----------------------------------
#
# On PostgreSQL every statement is a round trip. A write whose result nobody reads (an
# answer: storage.services.submissions.record_answer) can wait and travel with the next statement:
# the chat's state save, which then carries it in one statement (`take_state_carrier`);
# else, just before it, whatever statement the transaction runs next (`Prepared.rows`, and
# SQLAlchemy's own through `run_waiting`); at the latest, before COMMIT (storage.db.lanes). It
# waits on the transaction's connection (a lane), in the same transaction.

_WAITING = "cchc.waiting"  # in the lane connection's info: writes not sent yet


@dataclass(frozen=True)
class Waiting:
    statement: Prepared
    params: Mapping[str, Any]
    with_state: Prepared | None  # the same write with the chat's state save


def _lane_info(session: AsyncSession) -> dict[Any, Any] | None:
    """The info of the connection the session's transaction runs on, if it is a lane."""
    bind = session.bind
    if isinstance(bind, AsyncConnection) and bind.in_transaction():
        return bind.info
    return None


def _take_waiting(session: AsyncSession) -> list[Waiting]:
    info = _lane_info(session)
    return info.pop(_WAITING, []) if info is not None else []


async def flush_waiting(session: AsyncSession) -> None:
    """Send the writes still waiting (storage.db.lanes, before COMMIT)."""
    waiting = _take_waiting(session)
    if waiting:
        await _send(waiting, *await _driver(session))


async def _send(waiting: list[Waiting], dialect: Dialect, dbapi: Any) -> None:
    for write in waiting:
        await write.statement.run_on(dialect, dbapi, write.params)


def drop_waiting(info: dict[Any, Any]) -> None:
    """A failed transaction's writes never reach the next one (storage.db.lanes)."""
    info.pop(_WAITING, None)


def take_state_carrier(session: AsyncSession) -> tuple[Prepared, Mapping[str, Any]] | None:
    """The statement and params of the one write waiting, if it can carry the chat's state
    save along (it waits no more then)."""
    info = _lane_info(session)
    waiting = info.get(_WAITING) if info is not None else None
    if info is None or not waiting or len(waiting) > 1 or waiting[0].with_state is None:
        return None
    write = info.pop(_WAITING)[0]
    return write.with_state, write.params


def run_waiting(conn: Connection, cursor: Any, statement: str, parameters: Any,
                context: Any, executemany: bool) -> None:  # fmt: skip
    """SQLAlchemy's before_cursor_execute (storage.db.engine sets it on every engine): whatever
    waits on this connection goes out first. Runs inside SQLAlchemy's greenlet, hence
    `await_only`."""
    waiting = conn.info.pop(_WAITING, None)
    if waiting:
        await_only(_send(waiting, conn.dialect, conn.connection.dbapi_connection))
