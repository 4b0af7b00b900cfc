from typing_extensions import Buffer

def splice(
    data: Buffer,
    offsets: Buffer,
    rows: Buffer,
    starts: Buffer,
    ends: Buffer,
    r_data: Buffer,
    r_offsets: Buffer,
    /,
) -> tuple[bytes, bytes]: ...
