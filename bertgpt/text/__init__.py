"""Text in, pre-training examples out: tokenizers (WordPiece and byte-level BPE), the
generated world corpus, MLM masking, NSP pairs and BERT's packed segments."""
