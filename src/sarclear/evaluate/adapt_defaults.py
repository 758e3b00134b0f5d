"""Defaults of `evaluate --adapt`, in a module without imports so the CLI can show them cheaply."""

#: `--adapt` variants: the fusion fit (SAR-guided, the method) and the optical-only fit (the
#: comparison that shows what the radar adds), with their method names.
ADAPT_VARIANTS: dict[str, str] = {"sar": "adapt", "no-sar": "adapt-no-sar"}
#: Default fitting steps per tile: the step count of the docs/adapt.md benchmark table.
DEFAULT_ADAPT_STEPS: int = 300
