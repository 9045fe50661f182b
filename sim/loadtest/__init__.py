"""Load tests: simulated devices replay the simulator's behaviour against the real API.

The modules here hold everything a Locust run needs *except* Locust itself, so
tests and ``promptsim load`` import them without gevent's monkey-patching:
``world`` (what one load process shares), ``device`` (one device's life over HTTP),
``shapes`` (load stages as data), ``budgets``, ``results`` (Locust's CSV and
stats into a summary), ``consistency`` (the after-run check), ``api`` (a small
blocking HTTP client), ``locust_options`` (the locustfiles' options, declared as text
and checked once) and ``local`` (a local service for the run). Only
``locust_user`` and ``locust_shape`` import Locust; the locustfiles in
``scenarios/locust/`` import those, and Locust always runs in a subprocess.
"""
