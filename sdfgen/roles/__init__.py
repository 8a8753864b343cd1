"""File roles: which kind of slice a packaged file goes into, or that it is left out.

In: paths, with :class:`~sdfgen.facts.PackageFile` facts where known. Out:
:class:`~sdfgen.roles.labels.Role` decisions with a reason.

``labels`` (the roles and how slice names map to them) -> ``rules`` (hand-written rules
from facts and paths) -> ``features`` (what the model sees of a file) -> ``model`` (the
JSON model: loading, prediction, combination with the rules; plain Python). Training
lives beside them and is imported only by ``sdfgen train``: ``corpus`` (the labelled
corpus), ``fitting`` (the one scikit-learn module), ``training`` (nested grouped
cross-validation, ``sdfgen train``) and ``report`` (scores and ``models/REPORT.md``).
"""
