"""Defaults of the inference engine, in a module without imports so the CLI can show them cheaply."""

#: How batch norm normalises at inference (`sarclear.inference.norm`): each window's own statistics,
#: the running averages kept during training, or `auto`: the one that matches how the model was
#: trained (`window` for batch norm trained on one image per step, else `running`).
NORM_MODES: tuple[str, ...] = ("auto", "window", "running")
#: The mode every inference path uses unless told otherwise: chosen by measurement (docs/train.md).
DEFAULT_NORM_MODE: str = "auto"
#: ONNX metadata key of the mode an exported graph normalises with (`sarclear export-onnx`).
NORM_KEY: str = "sarclear_norm_mode"
#: Stochastic passes for `--uncertainty` unless `--samples` says otherwise: few, since each pass
#: costs a full prediction (docs/predict.md has the cost and the ranking quality).
DEFAULT_SAMPLES: int = 8
