"""What defines one training run, in one place.

A `Run` is built once from the validated config (`Run.from_config`) and passed
whole to the pre-flight and training jobs. It is what a checkpoint is bound to
and what each run's metrics.json records under "run". Like nanoGPT's config,
it holds only plain values, so it prints, compares and serialises as itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    spec: dict
    subset: dict
    subset_seed: int
    training: dict
    diagnostics: dict
    verdicts: dict

    @classmethod
    def from_config(cls, config: dict, variant: str, seed: int) -> Run:
        """The run of ``variant`` with ``seed`` under a config validated by the schema (defaults filled in)."""
        return cls(
            variant=variant,
            seed=int(seed),
            spec=dict(config["variants"][variant]),
            subset=dict(config["subset"]),
            subset_seed=config["subset_seed"],
            training=dict(config["training"]),
            diagnostics=dict(config["diagnostics"]),
            verdicts=dict(config["verdicts"]),
        )

    @classmethod
    def from_dict(cls, values: dict) -> Run:
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def with_training(self, training: dict) -> Run:
        """The same run with its training settings made concrete (such as 'auto' precision resolved)."""
        return dataclasses.replace(self, training=dict(training))

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]
