"""ddpm-bench's DINOv2 and CLIP feature networks, as a backbone plugin: ``--backbone dinov2`` gives FD_DINOv2 and KID
on DINOv2 ViT-L/14 features (Stein et al. 2023), ``--backbone clip`` FD_CLIP and CMMD on CLIP ViT-L/14@336 embeddings
(Jayasumana et al. 2024). The worked example of a third-party backbone plugin: ``register_backbones`` registers the
classes, ``plugin_unavailable`` says what is missing (transformers, or the weights) without importing anything heavy.
"""

from __future__ import annotations

from typing import Optional

from ddpm_bench.hookspecs import hookimpl
from ddpm_bench_backbones.networks import ClipBackbone, Dinov2Backbone, transformers_missing
from ddpm_bench_backbones.weights import cached_snapshot, hub_cache


@hookimpl
def register_backbones(register):
    register("dinov2", Dinov2Backbone, "DINOv2 ViT-L/14 (size=base: ViT-B/14), 1024-d: FD_DINOv2 and KID; "
                                       "weights=DIR or the Hugging Face cache")
    register("clip", ClipBackbone, "CLIP ViT-L/14@336, 768-d normalised embeddings: FD_CLIP, KID and CMMD; "
                                   "weights=DIR or the Hugging Face cache")


@hookimpl
def plugin_unavailable() -> Optional[str]:
    """transformers when it is missing, else the default networks whose weights are not in the Hugging Face cache
    (either still works with ``weights=DIR``)."""
    missing = transformers_missing()
    if missing:
        return missing
    absent = [f"{spec} ({repo})" for spec, repo in (("dinov2", Dinov2Backbone.SIZES["large"][0]),
                                                     ("clip", ClipBackbone.repo)) if cached_snapshot(repo) is None]
    if not absent:
        return None
    return (f"no weights for {' nor '.join(absent)} in the Hugging Face cache {hub_cache()}: huggingface-cli download "
            "REPO config.json model.safetensors there, or pass --backbone NAME:weights=DIR")
