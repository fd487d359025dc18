"""bertgpt/app/tab_generate.py: the greedy twin of a shared model's generation is computed
once per prompt and is exactly what a fresh greedy decode gives."""
import pytest

from bertgpt.io.assets import bundled
from bertgpt.model.sampling import generate
from bertgpt.app import tab_generate as G


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


def test_partial_updates_only_for_a_generation_that_takes_a_while(monkeypatch):
    """Each streamed update costs the server a round of Gradio's processing: a quick answer
    comes as one update, a slow one streams (here: STREAM_EVERY made 0)."""
    if bundled("gpt") is None:
        pytest.skip("no bundled GPT")
    monkeypatch.setattr(G, "STREAM_EVERY", 60.0)
    quick = list(G.generate_full("bundled", "The cat", 1.0, 0, 1.0, 3, 10, None))
    assert len(quick) == 1
    monkeypatch.setattr(G, "STREAM_EVERY", 0.0)
    slow = list(G.generate_full("bundled", "The cat", 1.0, 0, 1.0, 3, 10, None))
    assert len(slow) == 11  # one per token, then the final answer with the greedy twin
    # Same seed, same answer, however it was streamed (only the measured speed differs).
    assert slow[-1][:2] == quick[-1][:2]
    assert {**slow[-1][2], "tokens_per_s": 0} == {**quick[-1][2], "tokens_per_s": 0}
