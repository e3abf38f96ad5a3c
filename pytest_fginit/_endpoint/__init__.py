"""The local FunctionGraph endpoint behind `pytest_fginit.endpoint`. [test process]

Each module has one job: `routes` reads a request's path, `signature` checks its
SDK-HMAC-SHA256 signature, `answers` turns a record into the bytes the platform would send,
and `server` is the loopback HTTP server that ties them to the emulators.
"""
