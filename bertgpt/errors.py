"""Typed errors. Every message says what is wrong and what to do about it.

The CLI turns a `BertGptError` into one line on stderr and exit code 2; the app turns it
into a `gr.Error`. Anything else escaping the core is a bug.
"""


class BertGptError(ValueError):
    """Base class: bad input a user can fix."""


class ConfigError(BertGptError):
    """A model or training setting is out of range, or a preset is unknown."""


class TextError(BertGptError):
    """Text input is empty, not UTF-8, binary, too large, or too short for the task."""


class CheckpointError(BertGptError):
    """A model directory is missing, corrupt, or does not match what was asked for."""
