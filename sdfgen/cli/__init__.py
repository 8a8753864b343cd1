"""The command line: parse options, call the library, print.

In: argv. Out: output on stdout, one-line errors on stderr, exit codes.

``app`` (the ``sdfgen`` typer app; commands register themselves from ``propose`` and
``sdf``), ``options`` (repository options every command shares), ``render`` (terminal
presentation with rich), ``runner`` (the one place where exceptions become messages and
exit codes, for ``sdfgen`` and ``builder``). Heavy modules are imported inside the
commands, so ``sdfgen --help`` starts about as fast as Python.
"""
