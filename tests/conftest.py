"""Test-wide settings. Markers, timeout and test paths live in pyproject.toml."""

import os

# Before anything imports Qt: with no platform and no DISPLAY, Qt aborts the whole run (exit 134).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the network: models and datasets come from local files or the pip cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Skip `gpu`-marked tests when no CUDA device is there (torch is imported only if any exist)."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in gpu_items:
            item.add_marker(skip)
