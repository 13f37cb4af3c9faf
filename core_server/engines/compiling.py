"""Optional torch.compile of the UNet (COCREATE_COMPILE=1, or `cocreate serve --compile`).

The UNet is where a job spends its time. Compiling costs once per model load and again for each
new shape (working size, number of candidates) until PyTorch marks the sizes dynamic; README
"Speed" says how long, measured.
"""

from __future__ import annotations

import os

from torch import nn

COMPILE_ENV = "COCREATE_COMPILE"


def requested() -> bool:
    return os.environ.get(COMPILE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def compile_in_place(module: nn.Module) -> None:
    # nn.Module.compile keeps the module object, so the pipeline still sees a UNet2DConditionModel.
    module.compile()
