"""The control plane: the platform's rules, which never run user code. [test process]

placement (pure decisions), pool (instances and their states), dispatch (one send),
outcomes (a phase's outcome as a FunctionGraph error), revision (configuration and version
as an instance spec), parallel (side-by-side runs on timelines of their own).
"""
