"""Photo ↔ feature join: the nearest feature of each layer within the layer's tolerance.

:class:`LayerIndex` does the geometry (metric, vectorised, bearing-aware); the service functions
cache one index per layer version and write :class:`~fieldkit.store.models.PhotoFeatureLink` rows.
"""

from .index import (
    BEARING_MAX_RATIO,
    BEARING_MIN_REACH_M,
    BEARING_WINDOW_DEG,
    JoinArrays,
    JoinResult,
    LayerIndex,
    layer_crs,
)
from .service import (
    LayerJoinStats,
    cache_stats,
    clear_index_cache,
    index_for_layer,
    join_layers,
    join_photos,
    rejoin_layer,
)

__all__ = [
    "BEARING_MAX_RATIO",
    "BEARING_MIN_REACH_M",
    "BEARING_WINDOW_DEG",
    "JoinArrays",
    "JoinResult",
    "LayerIndex",
    "LayerJoinStats",
    "cache_stats",
    "clear_index_cache",
    "index_for_layer",
    "join_layers",
    "join_photos",
    "rejoin_layer",
    "layer_crs",
]
