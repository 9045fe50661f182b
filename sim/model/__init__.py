"""The behaviour and population model: who the users are and how they answer.

``behaviour`` (priors and the answer functions), ``population`` (a chunk of
devices drawn with NumPy), ``streams`` (counter-based random streams, so the
k-th answer of a device is the same under every strategy), ``scenario`` (the
TOML scenario, validated once), ``life`` and ``stage`` (one device life as
plain steps, lived by the engine and by the load-test device), ``clock`` (day 0
on the service's clock) and ``events`` (the event log). Built on ``sim.rules``
only.
"""
