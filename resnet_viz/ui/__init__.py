"""The Streamlit edge: the only part of the package that imports Streamlit. One module per concern:

* :mod:`~resnet_viz.ui.process`: the server process and its device, the forward gate;
* :mod:`~resnet_viz.ui.resolve`: the one typed :class:`~resnet_viz.links.View` of a rerun, the sidebar that chooses
  it, the one selected step;
* :mod:`~resnet_viz.ui.address`: the view in the address bar and the share box;
* :mod:`~resnet_viz.ui.presenter`: presenter mode and how diagrams, charts, captions and errors are drawn;
* :mod:`~resnet_viz.ui.session`: this session's own objects and the widgets' memory;
* :mod:`~resnet_viz.ui.slides`: the lesson as slides, each step's figure drawn from its page's renderers;
* :mod:`~resnet_viz.ui.classroom`: class mode: the teacher's and the students' panels, the room store, polling;
* one cache module per page family: :mod:`~resnet_viz.ui.feature_maps` (models, the capture store and batcher,
  grids), :mod:`~resnet_viz.ui.experiments`, :mod:`~resnet_viz.ui.inspector`, :mod:`~resnet_viz.ui.landscape`,
  :mod:`~resnet_viz.ui.ladder` (ResNet-50 under each cached weight set, and what each makes of a photo).

Pages use it as ``from resnet_viz import ui`` and read this rerun's view with ``v = ui.view()``; the names below
are what they call.
"""

from resnet_viz.links import View
from resnet_viz.ui.address import page_param, set_page_param, share_url, sync_address
from resnet_viz.ui.classroom import class_page, class_route
from resnet_viz.ui.experiments import (
    cached_delete_block,
    cached_gradient_flow,
    cached_identity_at_init,
    cached_path_sweep,
    cached_toy_sweep,
    identity_input_size,
    training_slot,
)
from resnet_viz.ui.feature_maps import (
    CaptureKey,
    Fit,
    PreparedImage,
    RequestTooLarge,
    budgeted_preprocessing,
    cache_store,
    cached_capture,
    cached_grid_png,
    cached_layer_stats,
    cached_preprocess,
    capture_store,
    capture_with_fallback,
    drop_upload,
    pretrained_model,
    refused_upload,
    shared_model,
    upload_key,
)
from resnet_viz.ui.inspector import (
    cached_erf,
    cached_record,
    cached_sanity_check,
    erf_fit,
    randomized_model,
    record_fit,
    sanity_fit,
)
from resnet_viz.ui.landscape import keep_landscape_result, landscape_result
from resnet_viz.ui.presenter import dev_caption, diagram, figure, show_error
from resnet_viz.ui.process import device, forward_gate, warm_process
from resnet_viz.ui.resolve import (
    arch_title,
    cached_trace,
    link_gave,
    on_row_select,
    presenting,
    request_view,
    select,
    selected_step,
    set_view,
    sidebar,
    steps_of,
    trace_of,
    translator,
    view,
)
from resnet_viz.ui.session import keep_widget_state, session_slot

__all__ = [
    "class_page", "class_route", "CaptureKey", "Fit", "PreparedImage", "RequestTooLarge", "budgeted_preprocessing", "cache_store",
    "drop_upload", "erf_fit", "record_fit", "refused_upload", "sanity_fit", "upload_key", "View", "arch_title", "cached_capture", "cached_delete_block", "cached_erf", "cached_gradient_flow",
    "cached_grid_png", "cached_identity_at_init", "cached_path_sweep", "cached_toy_sweep", "identity_input_size",
    "cached_layer_stats", "cached_preprocess", "cached_record",
    "cached_sanity_check", "cached_trace", "capture_store", "capture_with_fallback", "dev_caption", "device",
    "diagram", "figure", "forward_gate", "keep_landscape_result", "keep_widget_state", "landscape_result",
    "link_gave", "on_row_select", "page_param", "presenting", "pretrained_model", "randomized_model",
    "request_view", "select", "selected_step", "session_slot", "set_page_param", "set_view", "share_url",
    "shared_model", "show_error", "sidebar", "steps_of", "sync_address", "trace_of", "training_slot",
    "translator", "view", "warm_process",
]  # fmt: skip
