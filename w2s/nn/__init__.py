"""What every model shares: one checkpoint format (config.json + model.safetensors) and a few layers."""

from w2s.nn.checkpoint import CheckpointError, CheckpointMixin, Config, local_folder, resolve
from w2s.nn.layers import Block, SelfAttention, masked_mean, masked_mse, n_parameters

__all__ = [
    "Block", "CheckpointError", "CheckpointMixin", "Config", "SelfAttention", "local_folder", "masked_mean",
    "masked_mse", "n_parameters", "resolve",
]  # fmt: skip
