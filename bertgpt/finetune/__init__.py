"""After pre-training: fine-tune BERT for classification, QA spans and NER on held-out
tasks (loop.py, tasks.py), against GPT answering the same questions from a prompt
(prompting.py)."""
from . import prompting, tasks
from .loop import (SIZES, TASK_DEFAULTS, FinetuneConfig, compare, default_config, evaluate,
                   finetune, format_table, inspect, make_head, sweep)

__all__ = ["FinetuneConfig", "SIZES", "TASK_DEFAULTS", "compare", "default_config",
           "evaluate", "finetune", "format_table", "inspect", "make_head", "prompting",
           "sweep", "tasks"]
