from typing_extensions import Buffer

def hash_ids(
    weights: Buffer, length_weight: int, data: Buffer, offsets: Buffer, out: Buffer, /
) -> None: ...
