"""The rules: pure functions over plain data, shared by the simulator and the service.

``config/`` holds what the rules are told, as msgspec Structs (interpreted): platform
profiles, campaigns and the policy, and the ``Decision`` they answer. Every other module
here is compiled with mypyc (``sim.COMPILED``): ``native`` (the configuration's native
copies, generated), ``state`` (one install's state), ``permission`` (its state machine),
``checks`` (a campaign's trigger, audience and frequency), ``decision`` (``decide``:
should this device see the soft prompt now, and what does its button do),
``reachability`` (MoEngage's 200 / 201 / 202) and ``credit`` (which campaign an answer is
credited to). Nothing here knows about SimPy, HTTP or storage, and nothing does I/O.
"""
