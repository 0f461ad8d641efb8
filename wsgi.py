"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import gc

from portal import create_app

app = create_app()

# What is loaded by now (modules, mappers, the catalogs, configuration: about 130,000 objects) lives as
# long as the process. Moved out of the collector's generations, it is no longer walked by every full
# collection, which a worker otherwise ran every few hundred requests: on PostgreSQL the mean time of
# a cached category page fell by a tenth (docs/PERFORMANCE.md §5.10).
gc.freeze()
