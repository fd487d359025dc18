"""bertgpt/ui/tab_generate.py: the greedy twin of a shared model's generation is computed
once per prompt and is exactly what a fresh greedy decode gives."""
import pytest

from bertgpt.assets import bundled
from bertgpt.sampling import generate
from bertgpt.ui import tab_generate as G


def test_greedy_twin_is_cached_for_shared_models_and_equals_a_fresh_decode():
    if bundled("gpt") is None:
        pytest.skip("no bundled GPT")
    prompt = "The capital of Japan is"
    G._shared_greedy.cache_clear()
    first = list(G.generate_full("bundled", prompt, 1.0, 0, 0.9, 1, 12, None))[-1]
    second = list(G.generate_full("bundled", prompt, 1.0, 0, 0.9, 2, 12, None))[-1]
    info = G._shared_greedy.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    loaded = bundled("gpt")
    fresh = generate(loaded.model, loaded.tokenizer, prompt, max_new_tokens=12, temperature=0.0)
    assert first[2]["greedy"] == second[2]["greedy"] == prompt + fresh["text"]
    assert first[1] == second[1]  # the greedy panel itself
