"""The one inference path shared by validation, `evaluate` and `predict`.

* `norm`: how batch norm normalises at inference (`running` statistics or each window's own).
* `sampling`: dropout kept on for N stochastic passes; their mean is the prediction, their
  standard deviation the uncertainty.
* `windows`: an in-memory image through the same window grid and blending as a streamed scene.
* `settings`: the engine's settings, recorded in metrics.json and in the output GeoTIFF's tags.
"""
