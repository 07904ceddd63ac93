"""TF's error names (`tf.errors`), as this library raises them: `import tfckpt_lite.errors as
errors` where code said `tf.errors`.

`OpError` is `tfckpt_lite.CheckpointError`, the base of everything a checkpoint's content can
do wrong; each class keeps TF's `error_code` and also stays a builtin (`NotFoundError` for a
missing file is a `FileNotFoundError`, for a missing key a `KeyError`; `DataLossError` and
`InvalidArgumentError` are `ValueError`s).
"""

from ._errors import CheckpointError as OpError
from ._errors import (
    CheckpointNotFoundError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    DataLossError,
    InvalidArgumentError,
    NotACheckpointError,
    NotFoundError,
    TensorNotFoundError,
    UnimplementedError,
    UnsupportedCheckpointError,
)

NOT_FOUND = NotFoundError.error_code
INVALID_ARGUMENT = InvalidArgumentError.error_code
DATA_LOSS = DataLossError.error_code
UNIMPLEMENTED = UnimplementedError.error_code
UNKNOWN = OpError.error_code

__all__ = [
    "DATA_LOSS",
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "UNIMPLEMENTED",
    "UNKNOWN",
    "CheckpointNotFoundError",
    "ChecksumMismatchError",
    "CorruptCheckpointError",
    "DataLossError",
    "InvalidArgumentError",
    "NotACheckpointError",
    "NotFoundError",
    "OpError",
    "TensorNotFoundError",
    "UnimplementedError",
    "UnsupportedCheckpointError",
]
