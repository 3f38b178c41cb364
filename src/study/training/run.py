"""What defines one training run, in one place.

A `Run` is built once from the validated config (`Run.from_config`) and passed
whole to the pre-flight and training jobs. It is what a checkpoint is bound to
and what each run's metrics.json records under "run". Like nanoGPT's config,
it holds only plain values, so it prints, compares and serialises as itself.

It holds what changes training or what training records, and nothing else: the
variant's spec without the lecture's text, the seed, the data selection, the
training settings, what the diagnostics record and when a dead run ends. How a run is judged (the
config's `outcomes` thresholds, claims, the lecture's numbers) is the tables
side's, so changing it re-judges the runs without retraining them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from study.layout import variant_spec, variant_subset


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    spec: dict
    subset: dict
    subset_seed: int
    training: dict
    diagnostics: dict
    dead_runs: dict

    @classmethod
    def from_config(cls, config: dict, variant: str, seed: int) -> Run:
        """The run of ``variant`` with ``seed`` under a config validated by the schema (defaults filled in)."""
        spec = variant_spec(config, variant)
        return cls(
            variant=variant,
            seed=int(seed),
            spec={key: value for key, value in spec.items() if key not in ("lecture", "subset")},
            subset=dict(variant_subset(config, variant)),
            subset_seed=config["subset_seed"],
            training=dict(config["training"]),
            diagnostics=dict(config["diagnostics"]),
            dead_runs=dict(config["dead_runs"]),
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
