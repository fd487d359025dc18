import json
import math

import pytest
import torch

from bertgpt.model import masks
from bertgpt.errors import ConfigError


def test_causal_is_lower_triangular_with_diagonal():
    m = masks.causal_mask(5)
    assert m.dtype == torch.bool and m.shape == (5, 5)
    for q in range(5):
        for k in range(5):
            assert bool(m[q, k]) == (k <= q)  # row = query, column = key
    # the seed article's triu(..., diagonal=1) is exactly the forbidden part
    seed = torch.triu(torch.ones(5, 5), diagonal=1).bool()
    assert torch.equal(m, ~seed)


def test_causal_on_device_and_bidirectional():
    m = masks.causal_mask(3, device="meta")
    assert m.device.type == "meta"
    assert masks.bidirectional_mask(4).all() and masks.bidirectional_mask(4).shape == (4, 4)
    assert masks.causal_mask(0).shape == (0, 0)
    with pytest.raises(ConfigError):
        masks.causal_mask(-1)


def test_padding_mask_shape_and_semantics():
    am = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    m = masks.padding_mask(am)
    assert m.shape == (2, 1, 1, 4) and m.dtype == torch.bool
    assert m[0, 0, 0].tolist() == [True, True, True, False]
    assert m[1, 0, 0].tolist() == [True, False, False, False]
    assert torch.equal(masks.padding_mask(am.bool()), m)
    with pytest.raises(ConfigError, match="unsqueeze"):
        masks.padding_mask(torch.tensor([1, 1, 0]))


def test_combine_broadcasts_and_ignores_none():
    am = torch.tensor([[1, 1, 0], [1, 1, 1]])
    c = masks.combine(masks.causal_mask(3), None, masks.padding_mask(am))
    assert c.shape == (2, 1, 3, 3)
    assert c[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert torch.equal(c[1, 0], masks.causal_mask(3))
    assert masks.combine(None, None) is None
    assert masks.combine() is None
    with pytest.raises(ConfigError, match="bool"):
        masks.combine(torch.ones(3, 3))


def test_apply_mask_puts_neg_inf_where_forbidden():
    s = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    out = masks.apply_mask(s, masks.causal_mask(4))
    assert torch.isneginf(out).equal(~masks.causal_mask(4))
    keep = masks.causal_mask(4)
    assert torch.equal(out[keep], s[keep])
    assert masks.apply_mask(s, None) is s
    p = out.softmax(-1)  # the diagonal is always allowed, so no NaN
    assert torch.allclose(p.sum(-1), torch.ones(4))


def test_safe_softmax_empty_row_is_zeros():
    s = torch.tensor([[0.0, 1.0], [float("-inf"), float("-inf")]])
    p = masks.safe_softmax(s)
    assert not torch.isnan(p).any()
    assert p[1].tolist() == [0.0, 0.0] and math.isclose(float(p[0].sum()), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("kind", masks.KINDS)
def test_explain_mask(kind):
    lengths = [4, 2, 3]
    out = masks.explain_mask(kind, lengths, seed=3)
    json.dumps(out, allow_nan=False)  # strict JSON: -inf is None
    assert out["legend"] == "row = the token that looks, column = what it may see"
    T = out["T"]
    assert T == 4 and len(out["allowed"]) == 3
    for b, n in enumerate(lengths):
        assert out["real"][b] == [t < n for t in range(T)]
        for q in range(T):
            allowed = out["allowed"][b][q]
            want = [(k <= q if "causal" in kind else True) and (k < n if "padding" in kind
                                                                 else True) for k in range(T)]
            assert allowed == want
            row_scores, row_p = out["masked_scores"][b][q], out["softmax"][b][q]
            assert [v is None for v in row_scores] == [not a for a in allowed]
            assert all(isinstance(v, float) and not math.isnan(v) for v in row_p)
            assert all(v == 0.0 for v, a in zip(row_p, allowed) if not a)
            assert abs(sum(row_p) - 1.0) < 1e-3  # every row sees something here
        assert out["empty_rows"][b] == []
    # the raw scores are the same numbers before masking, and the seed fixes them
    assert out["scores"] == masks.explain_mask(kind, lengths, seed=3)["scores"]
    assert out["scores"] != masks.explain_mask(kind, lengths, seed=4)["scores"]


def test_explain_mask_errors():
    with pytest.raises(ConfigError, match="unknown mask kind"):
        masks.explain_mask("sideways", [3])
    with pytest.raises(ConfigError):
        masks.explain_mask("causal", [])
    with pytest.raises(ConfigError):
        masks.explain_mask("causal", [0, 2])
    with pytest.raises(ConfigError, match="at most"):
        masks.explain_mask("causal", [1000])
