"""Training: the loop, checkpoints, distributed set-up, precision, logging. Entry point: `train`."""
