"""Training batches from text: a token stream for GPT, MLM + NSP pairs for BERT.

Both classes answer the same four questions for `train.run`: a batch, its loss, how many
tokens it held, and validation metrics. Validation always uses the held-out end of the
text, with a fixed generator so successive evaluations are comparable.
"""
from __future__ import annotations

import math

import torch

from ..text.corpus import split_documents
from ..errors import TextError
from ..text.mlm import mask_tokens
from ..text.nsp import make_pairs, pack_pair

LN2 = math.log(2)


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The last `val_fraction` of the text is validation. Cut at a blank line (a document
    boundary) near that point when there is one, so no document is split in two."""
    if not text or not text.strip():
        raise TextError("the text is empty: paste or upload some text, or use the world corpus")
    cut = int(len(text) * (1 - val_fraction))
    near = len(text) * (1 - 2 * val_fraction)
    # Prefer a blank line, then a line end, then a space: without the fallbacks a text
    # with no blank line near the end was cut mid-word ("Paris" -> "Pa" | "ris").
    for sep in ("\n\n", "\n", " "):
        boundary = text.rfind(sep, 0, cut)
        if boundary > near:
            return text[:boundary + len(sep)], text[boundary + len(sep):]
    return text[:cut], text[cut:]


def _encode_long(tokenizer, text: str) -> list[int]:
    """Encode a long text in line-aligned chunks (fast, and the same tokens as whole)."""
    lines = text.splitlines(keepends=True)
    chunks, cur, size = [], [], 0
    for line in lines:
        cur.append(line)
        size += len(line)
        if size > 2000:
            chunks.append("".join(cur))
            cur, size = [], 0
    if cur:
        chunks.append("".join(cur))
    out: list[int] = []
    for enc in tokenizer.backend.encode_batch(chunks, add_special_tokens=False):
        out.extend(enc.ids)
    return out


class GPTData:
    def __init__(self, tokenizer, train_text: str, val_text: str, block: int, cfg):
        self.block = block
        self.train = torch.tensor(_encode_long(tokenizer, train_text), dtype=torch.long)
        self.val = torch.tensor(_encode_long(tokenizer, val_text), dtype=torch.long)
        if len(self.train) < block + 1:
            raise TextError(f"the text has only {len(self.train)} training tokens but the block "
                            f"size is {block}: use more text or a smaller block size")
        if len(self.val) < 2:
            raise TextError("the text is too short to hold out a validation part; use more text")
        # Characters per token turns nats/token into bits per character (bpc), which
        # compares runs with different tokenizers honestly.
        self.val_chars_per_token = len(val_text) / len(self.val)

    def batch(self, split, B, g, device):
        data = self.train if split == "train" else self.val
        T = min(self.block, len(data) - 1)
        starts = torch.randint(0, len(data) - T, (B,), generator=g)
        rows = torch.stack([data[s:s + T + 1] for s in starts.tolist()])  # (B, T+1)
        return rows.to(device, non_blocking=True)

    @staticmethod
    def loss(model, rows):
        return model.loss(rows[:, :-1], rows[:, 1:]), {}

    @staticmethod
    def tokens_in(rows):
        return rows.shape[0] * (rows.shape[1] - 1)

    def evaluate(self, model, B, n_batches, device):
        """Mean loss over evenly spaced windows of the validation stream."""
        T = min(self.block, len(self.val) - 1)
        n = max(1, min(B * n_batches, (len(self.val) - 1) // T))
        starts = torch.linspace(0, len(self.val) - T - 1, n).long().tolist()
        rows = torch.stack([self.val[s:s + T + 1] for s in starts]).to(device)
        total, count = 0.0, 0
        for chunk in rows.split(B):
            total += float(model.loss(chunk[:, :-1], chunk[:, 1:])) * chunk[:, 1:].numel()
            count += chunk[:, 1:].numel()
        nats = total / count
        return {"val_loss": nats, "val_bpc": nats / self.val_chars_per_token / LN2}


class BertData:
    def __init__(self, tokenizer, train_text: str, val_text: str, block: int, cfg):
        self.tok, self.block, self.cfg = tokenizer, block, cfg
        self.ids = {r: tokenizer.special_id(r) for r in ("pad", "cls", "sep", "mask")}
        self.specials = list(tokenizer.special_ids)
        self.train_docs = self._tokenize(train_text)
        self.val_docs = self._tokenize(val_text) or self.train_docs[-2:]
        self.nsp = cfg.nsp and _nsp_possible(self.train_docs)
        # NSP needs two documents; a single document still trains MLM, and says so.
        self.note = "" if self.nsp or not cfg.nsp else (
            "NSP is off: the text needs at least two documents (separate them with a blank line)")
        self.epoch, self.queue = 0, []
        # Validation always comes from the held-out docs: when they cannot make NSP pairs
        # (one document) it measures MLM only. (Pairs from the training docs would report
        # a validation loss on text the model trains on.)
        self.val_pairs = self._pairs(self.val_docs, seed=10_000 + cfg.seed)

    def _tokenize(self, text):
        docs = split_documents(text) if text.strip() else []
        flat = [s for d in docs for s in d]
        encoded = iter(e.ids for e in self.tok.backend.encode_batch(flat, add_special_tokens=False))
        out = [[next(encoded) for _ in d] for d in docs]
        # A "sentence" longer than a sequence (text without . ! ?) is cut into pieces that
        # fit; otherwise collate kept its first block - 2 tokens and never trained on the rest.
        n = max(1, self.block - 2)
        out = [[s[i:i + n] for s in d for i in range(0, len(s), n)] for d in out]
        return [[s for s in d if s] for d in out if any(d)]

    def _pairs(self, docs, seed):
        if self.nsp and _nsp_possible(docs):
            return [(p.a, p.b, p.label) for p in make_pairs(
                docs, seed=seed, shuffle=True, same_document_bug=self.cfg.nsp_same_document)]
        # MLM only: each sequence is a run of consecutive sentences from one document.
        seqs = []
        for d in docs:
            cur = []
            for s in d:
                if cur and len(cur) + len(s) > self.block - 2:
                    seqs.append(cur)
                    cur = []
                cur = cur + s
            seqs.append(cur)
        return [(s, None, -100) for s in seqs if s]

    def _next_examples(self, B):
        out = []
        while len(out) < B:
            if not self.queue:
                self.queue = self._pairs(self.train_docs, seed=self.cfg.seed + self.epoch)
                self.epoch += 1
            out.append(self.queue.pop())
        return out

    def _collate(self, examples, g, device):
        rows, segs = [], []
        for a, b, _ in examples:
            if b is None:
                ids = [self.ids["cls"]] + a[: self.block - 2] + [self.ids["sep"]]
                rows.append(ids)
                segs.append([0] * len(ids))
            else:
                packed = pack_pair(a, b, cls_id=self.ids["cls"], sep_id=self.ids["sep"],
                                   max_len=self.block)
                rows.append(packed.input_ids)
                segs.append(packed.segment_ids)
        T = max(len(r) for r in rows)  # pad to the longest in this batch, not to block
        ids = torch.full((len(rows), T), self.ids["pad"], dtype=torch.long)
        seg = torch.zeros((len(rows), T), dtype=torch.long)
        for i, (r, s) in enumerate(zip(rows, segs)):
            ids[i, :len(r)] = torch.tensor(r)
            seg[i, :len(s)] = torch.tensor(s)
        attn = (ids != self.ids["pad"]).long()
        inputs, labels = self.targets(ids, attn, g)
        nsp = torch.tensor([lab for _, _, lab in examples], dtype=torch.long)
        batch = {"input_ids": inputs, "segment_ids": seg, "attention_mask": attn,
                 "labels": labels,
                 # MLM-only examples (b is None) carry no NSP label: -100s would make NaN.
                 "nsp_labels": nsp if self.nsp and examples[0][1] is not None else None}
        return {k: (v.to(device) if v is not None else None) for k, v in batch.items()}

    def targets(self, ids, attn, g):
        """(model input, labels) for padded ids: MLM masking with the configured rates.
        A subclass may set another objective on the same batches (the Lab's left-to-right
        arm, finetune/lab.py)."""
        masked = mask_tokens(ids, mask_id=self.ids["mask"], special_ids=self.specials,
                             vocab_size=self.tok.vocab_size, prob=self.cfg.mlm_prob,
                             mask_rate=self.cfg.mlm_mask_rate,
                             random_rate=self.cfg.mlm_random_rate, generator=g)
        return masked.input_ids, masked.labels

    def batch(self, split, B, g, device):
        return self._collate(self._next_examples(B), g, device)

    @staticmethod
    def loss(model, b):
        loss, parts = model.pretraining_loss(b["input_ids"], b["segment_ids"],
                                             b["attention_mask"], b["labels"], b["nsp_labels"])
        out = {"mlm_loss": parts["mlm_loss"],
               "mlm_acc": parts["mlm_correct"] / max(1, parts["mlm_count"])}
        if "nsp_correct" in parts:
            out["nsp_acc"] = parts["nsp_correct"] / max(1, parts["nsp_count"])
        return loss, out

    @staticmethod
    def tokens_in(b):
        return int(b["attention_mask"].sum())

    def evaluate(self, model, B, n_batches, device):
        g = torch.Generator().manual_seed(1234)  # same masks every evaluation
        # A short text holds fewer validation examples than the budget: repeat them (with
        # fresh masks), so a few tokens still get selected and the figure is not noise.
        n = B * n_batches
        examples = (self.val_pairs * (n // max(1, len(self.val_pairs)) + 1))[:n]
        sums = {"mlm_loss": 0.0, "mlm_correct": 0, "mlm_count": 0, "nsp_correct": 0, "nsp_count": 0}
        for i in range(0, len(examples), B):
            b = self._collate(examples[i:i + B], g, device)
            _, parts = model.pretraining_loss(b["input_ids"], b["segment_ids"],
                                              b["attention_mask"], b["labels"], b["nsp_labels"])
            sums["mlm_loss"] += float(parts["mlm_loss"]) * parts["mlm_count"]
            for k in ("mlm_correct", "mlm_count", "nsp_correct", "nsp_count"):
                sums[k] += int(parts.get(k, 0))
        if not sums["mlm_count"]:  # nothing was masked: there is no loss to report, not 0.0
            out = {"val_loss": float("nan"), "val_mlm_acc": float("nan")}
        else:
            out = {"val_loss": sums["mlm_loss"] / sums["mlm_count"],
                   "val_mlm_acc": sums["mlm_correct"] / sums["mlm_count"]}
        if sums["nsp_count"]:
            out["val_nsp_acc"] = sums["nsp_correct"] / sums["nsp_count"]
        return out


def _nsp_possible(docs) -> bool:
    return len(docs) >= 2 and any(len(d) >= 2 for d in docs)
