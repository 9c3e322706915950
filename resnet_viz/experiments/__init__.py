"""Why residual learning helps, as experiments that run on a CPU: pure torch, no Streamlit.

* :func:`synthetic_shapes` — an offline, procedurally generated 10-class image data set (CIFAR-10 is not
  shipped and there may be no internet), deterministic from a seed;
* :func:`gradient_flow` — one backward pass at initialisation through a plain and a residual network with the
  same weights on the same batch: the gradient norm of every conv layer along depth;
* :func:`identity_at_init` — with ``zero_init_residual`` every block starts as the identity: ‖F(x)‖ measured;
* :func:`train_degradation` — train plain-20/56 and ResNet-20/56 on the same data, errors per epoch
  (the paper's Figures 1 and 6), with a progress callback and a stop flag checked between batches;
* :func:`remove_block` / :func:`block_removal_sweep` — Veit et al. (2016): delete one block's residual branch
  (the block becomes its shortcut) and measure the accuracy left, versus deleting a block of the plain net.

One module each: :mod:`.data` (the data set), :mod:`.nets`, :mod:`.gradient_flow`, :mod:`.identity`,
:mod:`.config` and :mod:`.training` (degradation), :mod:`.block_removal`, :mod:`.summaries` (what the page reads
off the shipped records, as typed records), :mod:`.readings` (the sentences those records call for) and
:mod:`.shipped` (the one reader of the shipped files). Every function builds its own fresh models, so no shared (cached) model is ever touched.
"""

from resnet_viz.experiments.block_removal import (
    BlockDeletion,
    ShortcutOnly,
    block_names,
    block_removal_sweep,
    delete_block_experiment,
    removable,
    remove_block,
)
from resnet_viz.experiments.config import (
    DATASETS,
    LIVE_CONFIG,
    LIVE_RUN_SECONDS_2_CORES,
    TEST_SEED_OFFSET,
    TrainConfig,
)
from resnet_viz.experiments.data import (
    PAIR_CLASSES,
    SHAPE_CLASSES,
    generate,
    make_data,
    shape_pairs,
    synthetic_shapes,
    test_data,
)
from resnet_viz.experiments.gradient_flow import (
    DEFAULT_STEPS,
    GradientFlow,
    GradientSteps,
    gradient_flow,
    gradient_steps,
    gradient_steps_record,
)
from resnet_viz.experiments.identity import (
    IDENTITY_BATCH,
    BlockIdentity,
    identity_at_init,
    residual_branch,
    shortcut_branch,
)
from resnet_viz.experiments.nets import cifar_net, load_trained, main_path_convs
from resnet_viz.experiments.summaries import (
    BehindEpochs,
    DepthComparison,
    GradientStepsSummary,
    GradientSummary,
    MeanRun,
    RemovalSummary,
    behind_epochs,
    chance_error,
    depth_comparison,
    gradient_steps_summary,
    gradient_summary,
    mean_runs,
    removal_summary,
    shipped_seeds,
    train_steps,
)
from resnet_viz.experiments.training import (
    DegradationResult,
    ProgressFn,
    RunCurves,
    Stopped,
    augment_batch,
    evaluate,
    train_degradation,
    train_network,
    train_one,
)

__all__ = [
    "BehindEpochs",
    "BlockDeletion",
    "BlockIdentity",
    "DepthComparison",
    "GradientStepsSummary",
    "GradientSummary",
    "MeanRun",
    "RemovalSummary",
    "DATASETS",
    "DegradationResult",
    "DEFAULT_STEPS",
    "GradientFlow",
    "GradientSteps",
    "LIVE_CONFIG",
    "LIVE_RUN_SECONDS_2_CORES",
    "ProgressFn",
    "RunCurves",
    "PAIR_CLASSES",
    "SHAPE_CLASSES",
    "ShortcutOnly",
    "Stopped",
    "TEST_SEED_OFFSET",
    "TrainConfig",
    "augment_batch",
    "block_names",
    "block_removal_sweep",
    "cifar_net",
    "delete_block_experiment",
    "behind_epochs",
    "chance_error",
    "depth_comparison",
    "gradient_summary",
    "mean_runs",
    "shipped_seeds",
    "train_steps",
    "IDENTITY_BATCH",
    "evaluate",
    "generate",
    "gradient_flow",
    "gradient_steps",
    "gradient_steps_record",
    "gradient_steps_summary",
    "identity_at_init",
    "load_trained",
    "main_path_convs",
    "make_data",
    "removable",
    "removal_summary",
    "remove_block",
    "residual_branch",
    "shape_pairs",
    "shortcut_branch",
    "synthetic_shapes",
    "test_data",
    "train_degradation",
    "train_network",
    "train_one",
]
