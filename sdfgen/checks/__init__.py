"""The checks of ``sdfgen check``, one module per family (rpmlint-style).

Each module has ``IDS`` (finding id -> severity) and ``run(context)`` yielding findings;
``README.md`` here documents every id. ``runner`` loads the SDFs and runs
the families in order; ``findings`` is the data they yield.

In: SDFs (and, with a repository, the packages they cut). Out: findings with a stable
id, file and line.
"""
