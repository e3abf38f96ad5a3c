"""Hosting each instance in a process of its own, forked from a fork server. [test process
(host, client), fork server (server), instance process (runtime)]
"""
