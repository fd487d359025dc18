"""Fine-tuning heads on top of a pre-trained BERT.

The seed article's heads call `self.bert.encoder(input_ids, ...)`: that skips the
embeddings (token ids go straight into the encoder), drops the segment ids, and
hard-codes a width of 768. Here every head runs the full `BERT.encode` (embeddings,
segments, padding mask) and takes its width from the config. Classification uses the
pooled [CLS] (dense + tanh), as BERT does (paper §4.1), not the raw [CLS] vector.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from .bert import BERT


class _Head(nn.Module):
    def __init__(self, bert: BERT, n_out: int, dropout: float = 0.1):
        super().__init__()
        self.bert = bert
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(bert.cfg.n_embd, n_out)
        nn.init.normal_(self.out.weight, std=0.02)
        nn.init.zeros_(self.out.bias)

    def freeze_encoder(self, frozen: bool = True):
        """Train only the head (a linear probe) when frozen."""
        for p in self.bert.parameters():
            p.requires_grad_(not frozen)
        return self


class SequenceClassifier(_Head):
    """Sentiment, topic, entailment: one label per sequence, from the pooled [CLS]."""

    def forward(self, input_ids, segment_ids=None, attention_mask=None, labels=None):
        hidden, _ = self.bert.encode(input_ids, segment_ids, attention_mask)
        logits = self.out(self.drop(self.bert.pool(hidden)))  # (B, n_labels)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return logits, loss


class QASpan(_Head):
    """Extractive QA (SQuAD style): a start and an end score for every token."""

    def __init__(self, bert: BERT, dropout: float = 0.1):
        super().__init__(bert, 2, dropout)

    def forward(self, input_ids, segment_ids=None, attention_mask=None, start=None, end=None):
        hidden, _ = self.bert.encode(input_ids, segment_ids, attention_mask)
        start_logits, end_logits = self.out(self.drop(hidden)).unbind(-1)  # (B, T) each
        if attention_mask is not None:  # an answer never starts or ends on padding
            pad = attention_mask == 0
            start_logits = start_logits.masked_fill(pad, float("-inf"))
            end_logits = end_logits.masked_fill(pad, float("-inf"))
        loss = None
        if start is not None and end is not None:
            loss = (F.cross_entropy(start_logits, start) + F.cross_entropy(end_logits, end)) / 2
        return start_logits, end_logits, loss


class TokenClassifier(_Head):
    """NER and other tagging: one label per token; label -100 marks tokens to ignore
    ([CLS], [SEP], padding, and word continuations when tagging whole words)."""

    def forward(self, input_ids, segment_ids=None, attention_mask=None, labels=None):
        hidden, _ = self.bert.encode(input_ids, segment_ids, attention_mask)
        logits = self.out(self.drop(hidden))  # (B, T, n_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return logits, loss
