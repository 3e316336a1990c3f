"""TextPrototypes: a few learned combinations of the frozen backbone's word embeddings."""

from __future__ import annotations

import torch
from torch import nn


class TextPrototypes(nn.Module):
    """K prototypes [K, D], each a learned linear combination of V word embeddings [V, D].

    The word embeddings are the backbone's own (frozen). `vocab_ids` restricts them to a
    condensed vocabulary: the map then has V' x K weights instead of V x K (on SmolLM2 the full
    table makes the map 49M parameters, most of the model) and costs V'/V of the compute per step.
    """

    def __init__(self, word_embeddings: torch.Tensor, n_prototypes: int = 1000,
                 vocab_ids: torch.Tensor | None = None) -> None:
        super().__init__()
        ids = torch.arange(len(word_embeddings)) if vocab_ids is None else torch.as_tensor(vocab_ids)
        self.register_buffer("vocab_ids", ids, persistent=False)
        self.register_buffer("words", word_embeddings[ids].detach().clone(), persistent=False)
        self.mapping = nn.Linear(len(ids), n_prototypes)

    def forward(self) -> torch.Tensor:
        return self.mapping(self.words.T).T  # [K, D]

    def nearest_words(self, top: int = 5) -> torch.Tensor:
        """Vocabulary ids [K, top] of the words closest (cosine) to each prototype."""
        with torch.no_grad():
            protos = nn.functional.normalize(self(), dim=-1)
            words = nn.functional.normalize(self.words, dim=-1)
            best = (protos @ words.T).topk(top, dim=-1).indices
        return self.vocab_ids[best]
