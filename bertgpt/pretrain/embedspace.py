"""The embedding space as it forms: a 2-D PCA of the token embeddings of a few word
groups (the world corpus's countries, capitals and jobs), for Train live to redraw with
every probe.

Pure functions on a model's embedding table: no plotting, no UI. `embedding_map` returns
the points and a trace of how they were made, so the page can say what it drew:

* a word is looked up as the corpus writes it; a byte-level BPE (GPT) sees it with the
  space that precedes it mid-sentence (" Paris", one token "ĠParis"), since without the
  space it is a different, rarer token. A word the tokenizer splits into several pieces
  is drawn at the mean of its pieces' embeddings and marked `split`; one that contains
  the unknown token is left out (its vector would be [UNK]'s, shared by unrelated words).
* PCA: centre the vectors, `torch.linalg.svd`, keep the two leading right-singular
  vectors. The share of variance each keeps is S_k^2 / sum S^2.
* A frame is turned to face the previous one: SVD signs are arbitrary and two nearly
  equal components can swap from one probe to the next, so without this the picture
  would flip or spin while the model has hardly changed. The turn is the 2x2 orthogonal
  matrix that best maps the new points onto the old ones (orthogonal Procrustes), which
  keeps every distance in the plane; the plane itself, and the variance it keeps, stay
  PCA's.
"""
from __future__ import annotations

import math

import torch

from ..text.corpus import COUNTRIES, JOBS

# group -> words, in the corpus's own spelling (capitalised names, lower-case jobs).
WORLD_GROUPS = {"country": [row[0] for row in COUNTRIES],
                "capital": [row[1] for row in COUNTRIES],
                "job": [row[0] for row in JOBS]}


def word_pieces(tok, word: str) -> tuple[str, list[int]]:
    """(the text looked up, its token ids). Byte-level BPE gets the leading space a word
    has inside a sentence; WordPiece splits on spaces itself, so it gets the word."""
    text = " " + word if getattr(tok, "byte_level", False) else word
    return text, tok.encode(text)


def word_vectors(model, tok, groups: dict[str, list[str]]):
    """One vector per usable word (the mean of its pieces' input embeddings), and a row
    per word saying what was done with it."""
    table = model.tok_emb.weight.detach().float().cpu()
    unk = tok.special_id("unk") if tok.has("unk") else None
    rows, vectors = [], []
    for group, words in groups.items():
        for word in words:
            text, ids = word_pieces(tok, word)
            row = {"word": word, "group": group, "text": text,
                   "pieces": [tok.id_to_token(i) for i in ids], "split": len(ids) > 1}
            if not ids or (unk is not None and unk in ids):
                row["dropped"] = "unknown" if ids else "empty"
            else:
                vectors.append(table[ids].mean(0))
            rows.append(row)
    kept = torch.stack(vectors) if vectors else torch.zeros(0, table.shape[1])
    return kept, rows


def pca(x: torch.Tensor, k: int = 2) -> dict:
    """PCA of the rows of `x` by SVD of the centred matrix.

    Returns the scores ("coords", n x k: the centred rows in the basis of the leading
    right-singular vectors), those vectors ("components", k x d), the mean, and each
    component's share of the total variance ("explained"). Signs follow one convention
    (each component's largest-magnitude entry positive), so the same input always
    gives the same picture."""
    x = x.double()
    mean = x.mean(0)
    centred = x - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    comps = vh[:k]
    big = comps.abs().argmax(1)
    comps = comps * torch.sign(comps[torch.arange(len(comps)), big]).unsqueeze(1)
    total = float((s ** 2).sum())
    share = [float(v) / total if total > 0 else 0.0 for v in (s[:k] ** 2)]
    return {"coords": centred @ comps.T, "components": comps, "mean": mean,
            "explained": share}


def align(coords: torch.Tensor, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`coords` turned by the orthogonal matrix R minimising ||coords R - previous||
    (Procrustes: R = U V^T from the SVD of coords^T previous). Returns (coords R, R)."""
    u, _, vh = torch.linalg.svd(coords.T @ previous)
    rot = u @ vh
    return coords @ rot, rot


def silhouette(points: torch.Tensor, labels: list[str]) -> float:
    """Mean silhouette of the points (Rousseeuw 1987): per point, a = mean distance to its
    own group, b = mean distance to the nearest other group, s = (b - a) / max(a, b).
    Near 1: tight, separate groups; near 0: groups mixed together."""
    names = sorted(set(labels))
    if len(names) < 2 or len(points) < 3:
        return 0.0
    dist = torch.cdist(points.double(), points.double(),
                       compute_mode="donot_use_mm_for_euclid_dist")
    idx = {n: torch.tensor([i for i, lab in enumerate(labels) if lab == n]) for n in names}
    scores = []
    for i, lab in enumerate(labels):
        own = idx[lab][idx[lab] != i]
        if len(own) == 0:
            scores.append(0.0)
            continue
        a = float(dist[i, own].mean())
        b = min(float(dist[i, idx[n]].mean()) for n in names if n != lab)
        scores.append((b - a) / max(a, b) if max(a, b) > 0 else 0.0)
    return sum(scores) / len(scores)


def embedding_map(model, tok, groups: dict[str, list[str]] | None = None,
                  previous: dict | None = None) -> dict:
    """The 2-D map of the groups' words in `model`'s embedding table, turned to face
    `previous` (an earlier result of this function) where the same words are in both.

    Returns {"points": [{word, group, x, y, split, pieces}], "dropped": [rows],
    "explained": [share of PC1, PC2], "kept": their sum, "rotation_deg", "reflected",
    "aligned", "silhouette_2d", "silhouette_full"}: plain numbers and lists, so it can be
    pickled across the training worker's process and drawn as it is."""
    groups = groups or WORLD_GROUPS
    vectors, rows = word_vectors(model, tok, groups)
    used = [r for r in rows if "dropped" not in r]
    out = {"points": [], "dropped": [r for r in rows if "dropped" in r], "explained": [0.0, 0.0],
           "kept": 0.0, "rotation_deg": 0.0, "reflected": False, "aligned": False,
           "silhouette_2d": 0.0, "silhouette_full": 0.0}
    if len(used) < 3:  # too few points for a plane to mean anything
        return out
    result = pca(vectors)
    coords = result["coords"]
    if previous and previous.get("points"):
        before = {p["word"]: (p["x"], p["y"]) for p in previous["points"]}
        common = [i for i, r in enumerate(used) if r["word"] in before]
        if len(common) >= 2:
            old = torch.tensor([before[used[i]["word"]] for i in common], dtype=coords.dtype)
            _, rot = align(coords[common], old)
            coords = coords @ rot
            out.update(aligned=True, reflected=bool(torch.det(rot) < 0),
                       rotation_deg=math.degrees(math.atan2(float(rot[0, 1]),
                                                            float(rot[0, 0]))))
    labels = [r["group"] for r in used]
    out["points"] = [{"word": r["word"], "group": r["group"], "x": float(c[0]),
                      "y": float(c[1]), "split": r["split"], "pieces": r["pieces"]}
                     for r, c in zip(used, coords)]
    out["explained"] = result["explained"]
    out["kept"] = sum(result["explained"])
    out["silhouette_2d"] = silhouette(coords, labels)
    out["silhouette_full"] = silhouette(vectors, labels)
    return out
