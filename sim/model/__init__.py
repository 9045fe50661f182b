"""The behaviour and population model: who the users are and how they answer.

``behaviour`` (priors and the answer functions), ``population`` (a chunk of
devices drawn with NumPy), ``streams`` (counter-based random streams, so the
k-th answer of a device is the same under every strategy) and ``scenario``
(the TOML scenario, validated once). Built on ``sim.rules`` only.
"""
