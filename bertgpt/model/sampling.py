"""From logits to text: next-token distributions, temperature / top-k / top-p, generation
with a KV cache, and BERT's fill-mask.

The order of operations is fixed and stated once: temperature -> top-k -> top-p, the
order transformers' `generate` applies its warpers in. Every step returns its work (raw
probabilities, after temperature, what each cut kept, the renormalised distribution the
token is actually drawn from) so the app can draw exactly what was sampled from.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError, TextError


@dataclass
class Step:
    raw: torch.Tensor       # (V,) softmax(logits)
    scaled: torch.Tensor    # (V,) softmax(logits / temperature)
    kept_k: torch.Tensor    # (V,) bool, survived top-k
    kept_p: torch.Tensor    # (V,) bool, survived top-k and then top-p
    final: torch.Tensor     # (V,) the distribution the token is drawn from
    token: int | None = None

    def top(self, n: int = 10, id_to_token=None) -> list[dict]:
        """The n most likely tokens under the raw distribution, with every stage's value."""
        order = torch.argsort(self.raw, descending=True)[:n].tolist()
        if self.token is not None and self.token not in order:
            order.append(self.token)
        return [{"id": i, "token": id_to_token(i) if id_to_token else str(i),
                 "raw": float(self.raw[i]), "scaled": float(self.scaled[i]),
                 "kept_k": bool(self.kept_k[i]), "kept_p": bool(self.kept_p[i]),
                 "final": float(self.final[i]), "chosen": i == self.token} for i in order]


def check_settings(temperature: float, top_k: int, top_p: float):
    if not temperature >= 0:  # also catches NaN
        raise ConfigError(f"temperature must be 0 or more (0 = greedy), got {temperature}")
    if not isinstance(top_k, int) or top_k < 0:
        raise ConfigError(f"top_k must be a whole number >= 0 (0 = off), got {top_k}")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1] (1 = off), got {top_p}")


def distribution(logits, temperature=1.0, top_k=0, top_p=1.0) -> Step:
    """Apply temperature, then top-k, then top-p to one position's logits (V,)."""
    check_settings(temperature, top_k, top_p)
    logits = logits.detach().float().cpu()
    raw = logits.softmax(-1)
    if temperature == 0:
        # The limit T -> 0 puts all mass on the argmax: greedy decoding.
        scaled = torch.zeros_like(raw)
        scaled[int(raw.argmax())] = 1.0
    else:
        scaled = (logits / temperature).softmax(-1)
    kept_k = torch.ones_like(raw, dtype=torch.bool)
    if 0 < top_k < raw.numel():
        kept_k = torch.zeros_like(kept_k).scatter(0, torch.topk(scaled, top_k).indices, True)
    p = torch.where(kept_k, scaled, 0.0)
    p = p / p.sum()
    kept_p = kept_k.clone()
    if top_p < 1:
        # Nucleus (Holtzman et al. 2019): the smallest set of most likely tokens whose
        # mass reaches top_p. A token is kept if the mass *before* it is still < top_p.
        probs, order = torch.sort(p, descending=True)
        before = probs.cumsum(0) - probs
        keep_sorted = before < top_p
        kept_p = torch.zeros_like(kept_k).scatter(0, order, keep_sorted) & kept_k
    final = torch.where(kept_p, p, 0.0)
    return Step(raw, scaled, kept_k, kept_p, final / final.sum())


def sample(step: Step, generator: torch.Generator | None = None) -> int:
    step.token = int(torch.multinomial(step.final, 1, generator=generator))
    return step.token


def _prompt_ids(tokenizer, prompt: str) -> list[int]:
    ids = tokenizer.encode(prompt) if prompt else []
    if not ids:  # an empty prompt starts from the end-of-text token, as GPT-2 does
        ids = [tokenizer.special_id("eos")]
    return ids


@torch.no_grad()
def generate_stream(model, tokenizer, prompt: str, *, max_new_tokens=50, temperature=1.0,
                    top_k=0, top_p=1.0, seed=0, use_cache=True, stop_at_eos=True):
    """Yield one dict per new token: id, text, the probability it had, and its Step.

    With the cache each step feeds one token; without it the whole prefix is recomputed
    (the benchmark compares the two). Past block_size the window slides, so the cache is
    dropped and the last block_size tokens are recomputed each step.
    """
    check_settings(temperature, top_k, top_p)
    if not 0 < max_new_tokens <= 4096:
        raise ConfigError(f"max_new_tokens must be between 1 and 4096, got {max_new_tokens}")
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(int(seed) % 2**63)
    ids = _prompt_ids(tokenizer, prompt)
    block = model.cfg.block_size
    eos = tokenizer.special_id("eos") if tokenizer.has("eos") else None
    cache = None
    feed = ids[-block:]
    for _ in range(max_new_tokens):
        x = torch.tensor([feed], device=device)
        out = model(x, cache=cache, use_cache=use_cache)
        step = distribution(out.logits[0, -1], temperature, top_k, top_p)
        tok = sample(step, g)
        ids.append(tok)
        yield {"id": tok, "text": tokenizer.decode([tok]), "prob": float(step.final[tok]),
               "raw_prob": float(step.raw[tok]), "step": step}
        if stop_at_eos and tok == eos:
            return
        if use_cache and len(ids) <= block:
            cache, feed = out.cache, [tok]
        else:
            cache, feed = None, ids[-block:]


def generate(model, tokenizer, prompt: str, **kw) -> dict:
    """The whole generation at once: text, and each token with its probability."""
    tokens = [{k: v for k, v in t.items() if k != "step"}
              for t in generate_stream(model, tokenizer, prompt, **kw)]
    return {"prompt": prompt, "text": tokenizer.decode(
        [t["id"] for t in tokens]), "tokens": tokens}


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[dict]:
    """BERT's guesses for every [MASK] in `text`: one list of (token, prob) per mask."""
    if not isinstance(top_k, int) or not 1 <= top_k <= 100:
        raise ConfigError(f"top_k must be a whole number from 1 to 100, got {top_k}")
    if not text or not text.strip():
        raise TextError("type a sentence containing [MASK], e.g. 'the capital of france is [MASK] .'")
    mask_id = tokenizer.special_id("mask")
    ids = [tokenizer.special_id("cls")] + tokenizer.encode(text) + [tokenizer.special_id("sep")]
    positions = [i for i, t in enumerate(ids) if t == mask_id]
    if not positions:
        raise TextError("the text has no [MASK] token: write [MASK] where BERT should guess a word")
    if len(ids) > model.cfg.block_size:
        raise TextError(f"the text is {len(ids)} tokens; this model reads at most "
                        f"{model.cfg.block_size}. Shorten it.")
    model.eval()
    device = next(model.parameters()).device
    out = model(torch.tensor([ids], device=device))
    probs = out.mlm_logits[0, positions].float().softmax(-1).cpu()
    skip = set(tokenizer.special_ids)
    results = []
    for n, pos in enumerate(positions):
        p = probs[n].clone()
        p[list(skip)] = 0  # a special token is never a word to fill in
        p[tokenizer.vocab_size:] = 0  # embedding rows past the tokenizer's spell no word
        top = torch.topk(p, min(top_k, p.numel()))
        results.append({"position": pos, "candidates": [
            {"token": tokenizer.id_to_token(int(i)), "id": int(i), "prob": float(v)}
            for v, i in zip(top.values, top.indices)]})
    return results
