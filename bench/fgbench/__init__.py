"""pytest-fginit's benchmarks, as a package of rows with one runner. [bench process]

``bench/run.py`` is the command. The package:

* ``common``: the function, its event and configuration, the checks of its answers, the real
  clock; ``lambda_local``: the peer, python-lambda-local;
* ``rows/``: one module per group of rows (``cold`` 1a-1c, ``warm`` 2-2d, ``timeouts`` 3,
  ``process`` 4a-4d, ``burst`` 5a, ``memory`` 5b, ``suite`` 6-6b, ``process_burst`` 7,
  ``masking`` 8, ``scale`` 9a-9f, ``records`` 10, ``triggers`` 11a-11b, ``lifecycle``
  12a-12b, ``outside`` 13a-13b), each with its sides and a ``measure(plan,
  lambda_local) -> Section``: the rows, and its part of the method text from ``text/NAME.md``;
* ``model``: Plan, Row, Section and the interleaving of sides; ``runner``: the sections in
  order; ``units``, ``template``, ``report``: how it is written down.

A new row is a module in ``rows/`` with its template in ``text/``, and one line in
``runner.SECTIONS``.
"""
