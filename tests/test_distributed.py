"""Data-parallel training: two CPU processes (gloo) end with identical weights."""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, text, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from bertgpt.text.tokenizer import train_tokenizer
    from bertgpt.pretrain.loop import TrainConfig, train
    tok = train_tokenizer("bpe", text, 400)  # same tokenizer on both ranks
    done = None
    for ev in train("gpt", text, tokenizer=tok,
                    model=dict(n_layer=1, n_head=2, n_embd=32, block_size=32),
                    cfg=TrainConfig(steps=4, batch_size=4, device="cpu")):
        done = ev
    torch.save({k: v.clone() for k, v in done["model"].state_dict().items()},
               os.path.join(out_dir, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_cpu_ranks_hold_identical_weights(tmp_path):
    from bertgpt.text.corpus import generate_world
    text = generate_world(seed=1, size=20_000)
    mp.spawn(_worker, args=(2, _free_port(), text, str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and training moved them: ranks saw different batches but applied the same update
    from bertgpt.model.config import ModelConfig
    from bertgpt.model.build import build
    torch.manual_seed(0)
    fresh = build(ModelConfig("gpt", vocab_size=a["tok_emb.weight"].shape[0], n_layer=1,
                              n_head=2, n_embd=32, block_size=32)).state_dict()
    assert not torch.equal(fresh["blocks.0.mlp.fc.weight"], a["blocks.0.mlp.fc.weight"])
