"""The embedding map of Train live (bertgpt/pretrain/embedspace.py): PCA against numpy's
SVD, frames turned to face the previous one, split words, and the groups separating on
the bundled trained models but not on random ones."""
import numpy as np
import pytest
import torch

from bertgpt.io.assets import bundled
from bertgpt.model.build import build
from bertgpt.model.config import ModelConfig
from bertgpt.pretrain.embedspace import (WORLD_GROUPS, align, embedding_map, pca, silhouette,
                                         word_pieces)
from bertgpt.text.tokenizer import train_tokenizer


def test_pca_matches_numpy_and_is_an_orthonormal_projection():
    g = torch.Generator().manual_seed(0)
    # Anisotropic on purpose: two clearly leading directions.
    x = torch.randn(40, 6, generator=g, dtype=torch.float64) * torch.tensor([5., 3., 1., .5, .2, .1])
    out = pca(x)
    centred = (x - x.mean(0)).numpy()
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = out["components"].numpy()
    assert comps @ comps.T == pytest.approx(np.eye(2), abs=1e-10)  # orthonormal
    for k in range(2):  # the same directions as numpy's, up to sign
        assert abs(comps[k] @ vt[k]) == pytest.approx(1.0, abs=1e-10)
    assert out["explained"] == pytest.approx(list(s[:2] ** 2 / (s ** 2).sum()))
    # The scores are the projection: projected back, they give the best rank-2 fit,
    # whose error is exactly the variance of the dropped components.
    back = out["coords"].numpy() @ comps
    assert ((centred - back) ** 2).sum() == pytest.approx((s[2:] ** 2).sum())


def test_pca_signs_follow_one_convention():
    x = torch.randn(30, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, b = pca(x), pca(-x)  # -x has the same components up to sign
    assert torch.allclose(a["components"], b["components"])
    for row in a["components"]:
        assert row[row.abs().argmax()] > 0


def test_align_undoes_a_rotation_and_a_flip():
    g = torch.Generator().manual_seed(2)
    before = torch.randn(25, 2, generator=g, dtype=torch.float64)
    theta = 0.9
    turn = torch.tensor([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]],
                        dtype=torch.float64)
    flip = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    moved = before @ turn @ flip
    fixed, rot = align(moved, before)
    assert torch.allclose(fixed, before, atol=1e-10)
    assert torch.allclose(rot.T @ rot, torch.eye(2, dtype=torch.float64), atol=1e-12)
    assert torch.det(rot) < 0  # it had to undo a reflection


def _tiny_gpt_and_tokenizer(seed=0):
    text = " ".join(f"The capital of {c} is {cap}. A {j} works hard." for c, cap, *_ in
                    __import__("bertgpt.text.corpus", fromlist=["COUNTRIES"]).COUNTRIES
                    for j in ("teacher", "doctor"))
    tok = train_tokenizer("bpe", text * 3, 300, model="gpt")
    torch.manual_seed(seed)
    net = build(ModelConfig("gpt", vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16,
                            block_size=16))
    return net, tok


def test_the_next_frame_faces_the_previous_one():
    net, tok = _tiny_gpt_and_tokenizer()
    plain = embedding_map(net, tok)
    assert not plain["aligned"]
    # Say the last frame showed this picture turned by 40 degrees and mirrored: the next
    # frame of the same table must show it that way too, not PCA's own orientation.
    c, s = np.cos(0.7), np.sin(0.7)
    shown = {**plain, "points": [{**p, "x": c * p["x"] - s * p["y"],
                                  "y": -(s * p["x"] + c * p["y"])} for p in plain["points"]]}
    turned = embedding_map(net, tok, previous=shown)
    assert turned["aligned"] and turned["reflected"]
    for p, q in zip(turned["points"], shown["points"]):
        assert (p["x"], p["y"]) == pytest.approx((q["x"], q["y"]), abs=1e-9)
    # A small training step later (a little noise on the table) it stays close, while
    # PCA's own orientation would sit far from what was shown.
    with torch.no_grad():
        net.tok_emb.weight.add_(1e-4 * torch.randn_like(net.tok_emb.weight))
    later = embedding_map(net, tok, previous=shown)

    def gap(m):
        return sum((p["x"] - q["x"]) ** 2 + (p["y"] - q["y"]) ** 2
                   for p, q in zip(m["points"], shown["points"]))
    size = sum(p["x"] ** 2 + p["y"] ** 2 for p in shown["points"])
    assert gap(later) < 0.01 * size < gap(embedding_map(net, tok))
    # Turning never changes distances in the plane, nor the variance the plane keeps.
    pa = torch.tensor([[p["x"], p["y"]] for p in plain["points"]], dtype=torch.float64)
    pt = torch.tensor([[p["x"], p["y"]] for p in turned["points"]], dtype=torch.float64)
    def dists(q):  # exact pairwise distances (cdist's matmul shortcut rounds small ones)
        return (q[:, None, :] - q[None, :, :]).norm(dim=-1)
    assert torch.allclose(dists(pa), dists(pt), rtol=1e-9, atol=1e-15)
    assert turned["explained"] == pytest.approx(plain["explained"])


def test_split_words_are_the_mean_of_their_pieces_and_marked():
    net, tok = _tiny_gpt_and_tokenizer()
    # A byte-level BPE sees the leading space a word has inside a sentence.
    assert word_pieces(tok, "Paris")[0] == " Paris"
    groups = {"odd": ["Zyxwvut", "Qqqq", "Paris"], "job": ["teacher", "doctor"]}
    m = embedding_map(net, tok, groups)
    split = {p["word"]: p for p in m["points"] if p["split"]}
    assert "Zyxwvut" in split and len(split["Zyxwvut"]["pieces"]) > 1
    # Mean of the piece vectors, then the same centring and projection as every word.
    from bertgpt.pretrain.embedspace import word_vectors
    vectors, rows = word_vectors(net, tok, groups)
    ids = word_pieces(tok, "Zyxwvut")[1]
    assert torch.allclose(vectors[0], net.tok_emb.weight[ids].detach().mean(0))


def test_words_the_tokenizer_does_not_know_are_left_out():
    tok = train_tokenizer("wordpiece", "the capital of france is paris . " * 50, 60,
                          model="bert")
    torch.manual_seed(0)
    net = build(ModelConfig("bert", vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16,
                            block_size=16))
    m = embedding_map(net, tok, {"a": ["france", "paris", "ж"], "b": ["capital", "the"]})
    assert [d["word"] for d in m["dropped"]] == ["ж"]
    assert {p["word"] for p in m["points"]} == {"france", "paris", "capital", "the"}


def test_silhouette_tells_tight_groups_from_mixed_ones():
    tight = torch.tensor([[0., 0.], [0., .1], [10., 0.], [10., .1]])
    assert silhouette(tight, ["a", "a", "b", "b"]) > 0.9
    assert silhouette(tight, ["a", "b", "a", "b"]) < 0


@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_trained_models_separate_the_groups_random_ones_do_not(arch):
    loaded = bundled(arch)
    if loaded is None:
        pytest.skip(f"the bundled {arch} is missing")
    trained = embedding_map(loaded.model, loaded.tokenizer)
    assert len(trained["points"]) == sum(map(len, WORLD_GROUPS.values()))  # all known
    randoms = []
    for seed in range(3):
        torch.manual_seed(seed)
        randoms.append(embedding_map(build(loaded.model.cfg), loaded.tokenizer))
    # Seen here: bert 0.77 (2-D) / 0.19 (full width), gpt 0.92 / 0.29; random inits of the
    # same shape -0.04..-0.09 / about -0.01: their words are scattered, groups mixed.
    for key in ("silhouette_2d", "silhouette_full"):
        best_random = max(r[key] for r in randoms)
        assert trained[key] > 0.1 and trained[key] > best_random + 0.1, key
    # PCA of iid random vectors keeps little in two directions; training makes a plane
    # of the directions the groups differ along.
    assert trained["kept"] > 2 * max(r["kept"] for r in randoms)
