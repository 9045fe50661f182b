"""promptsim: simulate, serve and stress push-permission soft prompts from one set of rules."""

__version__ = "0.1.0"
