"""The Train live tab's own text (bertgpt/app/train_view.py); the streaming run itself is in
test_app_live.py."""
from bertgpt.app.train_view import kept_note


def test_a_run_that_kept_earlier_weights_says_why():
    record = {"steps": 400, "best_step": 250, "final": {"step": 250, "val_loss": 2.3456}}
    note = kept_note("gpt", record)
    assert note.startswith("GPT: validation loss was lowest at step 250 (2.346)")
    assert "overfitting" in note and "step 250's" in note


def test_a_run_that_ended_on_its_best_says_nothing():
    assert kept_note("bert", {"steps": 400, "best_step": 400,
                               "final": {"val_loss": 1.0}}) == ""
    assert kept_note("bert", {"steps": 3}) == ""  # an old checkpoint's record
