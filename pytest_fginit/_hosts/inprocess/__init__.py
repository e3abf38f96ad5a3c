"""Hosting instances inside the test process, each in a namespace of its own. [test
process; its phase, namespace, patches and deadline modules also in instance processes]
"""
