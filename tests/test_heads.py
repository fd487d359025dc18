import torch

from bertgpt.model.config import ModelConfig
from bertgpt.model.heads import QASpan, SequenceClassifier, TokenClassifier
from bertgpt.model.build import build

CFG = ModelConfig("bert", vocab_size=40, n_layer=1, n_head=2, n_embd=32, block_size=16)


def _data():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 40, (6, 10), generator=g)
    attn = torch.ones_like(ids)
    attn[0, 7:] = 0
    return ids, torch.zeros_like(ids), attn


def test_heads_use_embeddings_segments_and_config_width():
    torch.manual_seed(0)
    ids, seg, attn = _data()
    head = SequenceClassifier(build(CFG), 3).eval()
    logits, _ = head(ids, seg, attn)
    assert logits.shape == (6, 3)
    # segment ids reach the model (the seed article's heads dropped them)
    logits_b, _ = head(ids, torch.ones_like(seg), attn)
    assert not torch.allclose(logits, logits_b)


def test_qa_never_points_at_padding_and_ner_ignores_minus_100():
    torch.manual_seed(0)
    ids, seg, attn = _data()
    qa = QASpan(build(CFG)).eval()
    s, e, _ = qa(ids, seg, attn)
    assert s.shape == e.shape == (6, 10)
    assert torch.isinf(s[0, 7:]).all() and torch.isfinite(s[0, :7]).all()
    ner = TokenClassifier(build(CFG), 5).eval()
    labels = torch.full_like(ids, -100)
    labels[:, 2] = 1
    logits, loss = ner(ids, seg, attn, labels)
    assert logits.shape == (6, 10, 5) and torch.isfinite(loss)


def test_each_head_learns_a_toy_task():
    torch.manual_seed(0)
    ids, seg, attn = _data()
    y = (ids[:, 1] > 20).long()  # label readable from token 1
    head = SequenceClassifier(build(CFG), 2)
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3)
    for _ in range(60):
        _, loss = head(ids, seg, attn, y)
        opt.zero_grad(); loss.backward(); opt.step()
    assert loss.item() < 0.05
    frozen = SequenceClassifier(build(CFG), 2).freeze_encoder()
    trainable = [p for p in frozen.parameters() if p.requires_grad]
    assert len(trainable) == 2  # only the output layer's weight and bias
