"""The ``fginit`` command line behind `pytest_fginit.cli`: `options` turns flags and files
into a configuration, an event and faults; `invoke` and `serve` run the two commands.
[test process: the command's own process plays the test's part]
"""
