"""The rules: pure functions over plain data, shared by the simulator and the service.

``platforms`` (one profile per platform), ``permission`` (the state machine of
one install), ``campaigns`` (campaigns and frequency strategies as data),
``decision`` (``decide``: should this device see the soft prompt now, and what
does its button do) and ``reachability`` (MoEngage's 200 / 201 / 202). Nothing
here knows about SimPy, HTTP or storage, and nothing here does I/O.
"""
