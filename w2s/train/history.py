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


def loss_fell(loss, share: float = 0.25) -> bool:
    """Whether training lowered the loss: the mean of the last `share` of the logged losses is below the mean of the
    first `share` (at least one each). Robust to one noisy step, and to a first loss that is low only because the
    output starts at zero (a face at its template): a short run's loss can rise for a few warm-up steps, then fall."""
    loss = [float(x) for x in loss]
    if len(loss) < 2:
        raise ValueError(f"loss_fell needs at least 2 logged losses, got {len(loss)}")
    k = max(1, int(len(loss) * share))
    return sum(loss[-k:]) / k < sum(loss[:k]) / k
