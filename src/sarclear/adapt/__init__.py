"""`sarclear adapt`: fit the project's U-Net to one scene's own clear pixels and inpaint its clouds.

Internal learning (Czerkawski et al., "Deep Internal Learning for Inpainting of Cloud-Affected
Regions in Satellite Imagery", Remote Sensing 2022, 14(6):1342): every partly cloudy scene carries
its own training data, its clear pixels with the radar of the same place, so no pretrained model
and no domain gap. Modules: `scene` (read and mask the scene), `holes` (cloud-shaped holes from the
scene's own mask), `pairs` (training batches), `fit` (the optimisation), `run` (the command's work).
"""

from sarclear.adapt.run import adapt_scene

__all__ = ["adapt_scene"]
