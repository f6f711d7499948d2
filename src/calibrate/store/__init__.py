"""The store: rubric versions, anchor sets and ratings in SQLite (default) or PostgreSQL.

Everything goes in through all-or-nothing imports (one transaction; any bad row and nothing is
written) and comes out as plain long arrays for the statistics core, never ORM rows. Writers take
turns and readers never wait for them (:func:`~calibrate.store.engine.writing`,
:func:`~calibrate.store.engine.reading`); what the database refuses is a
:class:`~calibrate.errors.StoreError`. The schema is managed by Alembic migrations
(``migrations/``), applied by :func:`open_store`.

- :mod:`~calibrate.store.engine`: URL, engine, migrations, transactions, row counts
- :mod:`~calibrate.store.guards`: checks of values that reach the store other than from a file
- :mod:`~calibrate.store.models`: the tables
- :mod:`~calibrate.store.definitions`: rubric versions and anchor sets
- :mod:`~calibrate.store.ratings`: rating imports and reads
- :mod:`~calibrate.store.corrections`: revisions of a rating
- :mod:`~calibrate.store.bulk`: bulk I/O shared by the above
"""

from calibrate.store.bulk import ImportReport
from calibrate.store.corrections import correct_rating, rating_history
from calibrate.store.definitions import (
    import_definition_dirs,
    import_definitions,
    stored_anchor_sets,
    stored_rubric,
    stored_rubrics,
)
from calibrate.store.engine import counts, create_store_engine, migrate, normalise_url, open_store
from calibrate.store.ratings import import_ratings, import_ratings_file, load_ratings

__all__ = [
    "ImportReport",
    "correct_rating",
    "counts",
    "create_store_engine",
    "import_definition_dirs",
    "import_definitions",
    "import_ratings",
    "import_ratings_file",
    "load_ratings",
    "migrate",
    "normalise_url",
    "open_store",
    "rating_history",
    "stored_anchor_sets",
    "stored_rubric",
    "stored_rubrics",
]
