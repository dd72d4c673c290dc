"""The policy as a Dagster resource: one TOML file over built-in defaults (see ``ml.policy``)."""

from __future__ import annotations

from dagster import ConfigurableResource

from ml.policy import Policy, load_policy

__all__ = ["PolicyResource"]


class PolicyResource(ConfigurableResource):
    """Every threshold of dubsync.

    Attributes
    ----------
    path : str
        A policy TOML file; empty for the defaults.
    """

    path: str = ""

    def load(self) -> Policy:
        """The policy (raises ``ml.errors.ParameterError`` naming a bad file, key or value)."""
        return load_policy(self.path or None)
