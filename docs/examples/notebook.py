# %% [markdown]
# # promptsim from a notebook
#
# The Python API (`sim.api`): `run(scenario) -> Result`, with the panel and the summary as
# pandas DataFrames, the recommendation and the HTML report, and no run directory on disk.
# This file uses the `# %%` cell format: VS Code, PyCharm and Jupyter (with jupytext) open
# it as a notebook; `python docs/examples/notebook.py` runs it as a script (the tests do).

# %%
from pathlib import Path

from sim import run

ROOT = Path(__file__).resolve().parents[2] if "__file__" in globals() else Path.cwd()

# %% [markdown]
# A scenario is a path, a TOML string or a dict. A small one, written inline: two
# strategies on an app whose `add_to_cart` event fires in 30% of sessions.

# %%
SCENARIO = """
name = "cart_prompt"
seed = 3
devices = 2000
days = 60
replications = 3

[population.mix]
ios = 0.5
android13 = 0.3
chrome = 0.2

[behaviour.events]
add_to_cart = 0.3

[[strategies]]
name = "once_on_open"
campaigns = [{ id = "soft", frequency = { type = "once" } }]

[[strategies]]
name = "after_add_to_cart"

[[strategies.campaigns]]
id = "soft"
trigger = { type = "event", name = "add_to_cart" }
frequency = { type = "multiple", limit = 2, gap_days = 7 }
"""

result = run(SCENARIO)
print(f"{result.scenario.name}: {result.seconds:.1f} s")

# %% [markdown]
# The summary: one row per strategy and platform (and `all`), as `summary.csv`.

# %%
summary = result.summary
columns = ["strategy", "optin_horizon", "blocked_share", "annoyance_per_1k", "value"]
print(summary.loc[summary["platform"] == "all", columns].to_string(index=False))

# %% [markdown]
# The panel: one row per replication x strategy x cohort x day; any pandas question.

# %%
panel = result.panel
shown = panel.groupby("strategy", observed=True)["soft_prompts_shown"].sum()
print(shown.to_string())

# %% [markdown]
# What to ship, and the report (its figures go beside it).

# %%
rec = result.recommend()
print(f"recommended: {rec.strategy}; " + " ".join(rec.reasons))
page = result.report(Path("runs") / "notebook" / "report.html")
print(page)

# %% [markdown]
# A shipped scenario by path, with the command line's overrides.

# %%
quick = run(ROOT / "scenarios" / "quickstart.toml", devices=1500, replications=2)
print(quick.recommend().strategy)
