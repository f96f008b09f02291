"""The database: models, engines, one transaction per event or job, migrations.

What the rest of the code uses is here: `create_engine(url)` once in the composition root,
`session_factory(engine)`, then `async with transaction(sessions) as session:` for each
event or job (storage.db.session), and `upgrade(engine)` before first use.
"""

from storage.db.engine import (
    BUSY_TIMEOUT_MS,
    POOL_SIZE,
    READ_ONLY,
    create_engine,
    dialect_name,
    is_sqlite,
    normalize_url,
)
from storage.db.migrate import current_revision, upgrade
from storage.db.session import Sessions, session_factory, transaction
from storage.db.throwaway import create_database, drop_database

__all__ = [
    "BUSY_TIMEOUT_MS",
    "POOL_SIZE",
    "READ_ONLY",
    "Sessions",
    "create_database",
    "create_engine",
    "current_revision",
    "dialect_name",
    "drop_database",
    "is_sqlite",
    "normalize_url",
    "session_factory",
    "transaction",
    "upgrade",
]
