"""Write ``assets/curves/shattered_init.json``: the lesson's shattered-gradients measurement (plain-56 and
ResNet-56 at initialisation, 5 seeds, the 256-image default path, first-stage width 4), so that a lesson page reads
it instead of spending seconds of CPU on it. ``tests/test_shattered.py`` (slow, ``recorded_floats``) recomputes it.

    python scripts/make_shattered.py
"""

from __future__ import annotations

import json

from resnet_viz import paths
from resnet_viz.experiments import shattered


def main() -> None:
    record = shattered.init_lag1_record()
    out = paths.CURVES_DIR / paths.SHATTERED_INIT_FILE
    out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}: {record['lag1']}")


if __name__ == "__main__":
    main()
