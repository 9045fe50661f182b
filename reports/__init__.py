"""Reports: run directories become DataFrames, figures and a self-contained HTML page.

``rundir`` reads a simulation run, ``compare`` pairs strategies by replication,
``figures`` draws them, ``html`` writes the page; ``load`` does the same for a
Locust run, ``fit`` and ``forecast`` turn observed rollout counts into a
forecast. ``sim/`` never imports this package: pictures live only here.
"""
