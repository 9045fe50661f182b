"""The eligibility service: the simulator's rules behind an HTTP API with durable storage.

``promptsim serve`` runs :class:`sim.service.http.service.Service` (a small ASGI
application) on a SQLite file or PostgreSQL. Every decision and state change calls the same rule
functions as the simulator (``sim.rules.decision``, ``sim.rules.permission``).
"""
