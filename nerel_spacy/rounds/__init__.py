"""Rounds of continued training after a pipeline's first stages: ``nerel-batch train-rounds``.

- ``schedule``: the rounds a ``.cfg`` file lists, checked, and each round's fingerprint;
- ``chain``: trains them one after another, each resumable, skipping those already done;
- ``paths``: where the chain may write, how it spells the paths it passes each round, and
  what a stopped round's checkpoint says (read only).
"""
from .chain import ChainError, ChainSettings, plan_chain, run_chain
from .schedule import Round, ScheduleError, read_schedule

__all__ = ["ChainError", "ChainSettings", "Round", "ScheduleError", "plan_chain", "read_schedule", "run_chain"]
