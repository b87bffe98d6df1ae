"""What a training run returns and writes as ``history.json``: the logged losses, rates, evaluations and timing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # mean training loss since the previous logged step
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)  # {"step": s, **metrics}
    seconds: float = 0.0
    stopped_early: bool = False
    logs: dict[str, list[float]] = field(default_factory=dict)  # step_fn's logs, averaged like loss
    compute: dict = field(default_factory=dict)  # threads, kernels, versions, CPU (w2s.utils.runtime.compute_record)

    def to_json(self) -> dict:
        return asdict(self)
