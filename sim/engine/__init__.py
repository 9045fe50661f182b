"""The SimPy engine: runs a scenario's population under every strategy.

``chunk`` (the model of one chunk of devices), ``runner`` (replications and
chunks over worker processes), ``summary`` (intervals over replications),
``output`` (the run directory) and ``events`` (the event log's record).
"""
