"""Sample items shipped with the package, so a demo can run the pipeline with nothing to prepare.

Forty-eight short requirements, test cases and documentation passages about a fictional
library-lending service, in `samples.jsonl`; each is a ready `items` entry.
"""

from __future__ import annotations

from importlib import resources

import msgspec

from batchery_infer_atoms._model import Item

__all__ = ["load_samples"]

_decoder = msgspec.json.Decoder(Item)


def load_samples(limit: int | None = None) -> list[dict[str, str]]:
    """The sample items as `{"id", "kind", "text"}` mappings, in file order; the first `limit`."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")
    text = resources.files(__package__).joinpath("samples.jsonl").read_text(encoding="utf-8")
    items = [_decoder.decode(line) for line in text.splitlines() if line.strip()]
    return [msgspec.structs.asdict(item) for item in items[:limit]]
