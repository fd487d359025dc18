"""Models in and out: bertgpt's checkpoint directories, transformers' weights and
folders, the Hugging Face Hub, and the bundled minis every user gets."""
