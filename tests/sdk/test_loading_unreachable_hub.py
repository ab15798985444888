"""A model that is not cached while the Hub cannot be reached is a transient error naming why,
not ``invalid_input`` (the README's first example run without network)."""

from __future__ import annotations

import pytest
from huggingface_hub import constants
from reel_sdk import InvalidInput, TransientError
from reel_sdk.loading import load_errors_translated

from tests.utils.stack import free_port

OFFLINE_DIFFUSERS = OSError(
    "stabilityai/sdxl-turbo does not appear to have a file named model_index.json. Checkout "
    "'https://huggingface.co/stabilityai/sdxl-turbo/tree/main' for available files."
)


def test_not_cached_in_offline_mode__is_transient_and_says_offline(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(TransientError) as caught, load_errors_translated("stabilityai/sdxl-turbo"):
        raise OFFLINE_DIFFUSERS
    assert "HF_HUB_OFFLINE" in caught.value.message and "not cached" in caught.value.message


def test_not_cached_and_hub_unreachable__is_transient_and_names_the_endpoint(monkeypatch):
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    with pytest.raises(TransientError) as caught, load_errors_translated("stabilityai/sdxl-turbo"):
        raise OFFLINE_DIFFUSERS
    assert closed in caught.value.message and "unreachable" in caught.value.message


def test_a_local_directory_without_the_file__stays_invalid_input(tmp_path):
    with pytest.raises(InvalidInput), load_errors_translated(str(tmp_path)):
        raise OSError(f"{tmp_path} does not appear to have a file named model_index.json")
