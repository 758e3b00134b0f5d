"""Training: the loop, checkpoints, distributed set-up, precision, logging.

Entry point: `train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path`.
"""

from sarclear.train.loop import train

__all__ = ["train"]
