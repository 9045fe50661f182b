"""The rules' configuration: the msgspec Structs that scenario TOML and the service's JSON
decode and validate, interpreted (never compiled).

``platforms`` (a profile per platform, OS level or browser, and what a device reports),
``campaigns`` (campaigns, their trigger, frequency, caps and audience, and the policy)
and ``verdict`` (``Decision``, the rules' answer). Each trigger and frequency kind is
declared once, here. The compiled rules around this package (``sim.COMPILED``) read the
native copies in ``sim.rules.native``, which is generated from these Structs.

mypyc cannot compile a module that defines a msgspec Struct (it drops the class options,
``frozen=True`` and the like), so the line between what is compiled and what is not is
this folder's edge.
"""
