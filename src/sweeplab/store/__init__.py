"""The study directory's one owner: layout, records, summary, provenance, confirmation, storage.

Every file under ``runs/<study>/`` is written and read through this package,
each by one typed module, atomically (temp file, fsync, rename); the index
(``index.jsonl``) and ``summary.csv`` are appended to under an ``flock``
(``_index``).

The storage openers (``open_storage``, ``stored_trial_count``, ``FlockLock``,
``JOURNAL_FILE``) import Optuna and are imported on first use, so commands that
only read a study directory (``status``, ``export``) do not pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sweeplab.store._confirmation import (
    CONFIRM_FILE,
    Confirmation,
    ConfirmCandidate,
    confirmed_settings,
    read_confirmation,
    write_confirmation,
)
from sweeplab.store._files import (
    backup_name,
    is_disk_full,
    stop_when_full,
    write_json,
    write_text,
)
from sweeplab.store._final import sha256_file, write_safetensors
from sweeplab.store._provenance import (
    collect_provenance,
    provenance_n_val,
    read_provenance,
    write_provenance,
)
from sweeplab.store._records import (
    TrialRecord,
    read_confusion,
    read_curves,
    read_record,
    write_trial,
)
from sweeplab.store._study_dir import (
    Damaged,
    Study,
    StudyDir,
    best_record,
    load_study,
    summary_frame,
)
from sweeplab.store._workers import Heartbeat, claim_lock, live_owners, owner_alive

if TYPE_CHECKING:
    from sweeplab.store._lock import FlockLock
    from sweeplab.store._storage import (
        JOURNAL_FILE,
        journal_ends_clean,
        open_journal,
        open_storage,
        stored_trial_count,
    )

__all__ = [
    "CONFIRM_FILE",
    "JOURNAL_FILE",
    "ConfirmCandidate",
    "Confirmation",
    "Damaged",
    "FlockLock",
    "Heartbeat",
    "Study",
    "StudyDir",
    "TrialRecord",
    "backup_name",
    "best_record",
    "claim_lock",
    "collect_provenance",
    "confirmed_settings",
    "is_disk_full",
    "journal_ends_clean",
    "live_owners",
    "load_study",
    "open_journal",
    "open_storage",
    "owner_alive",
    "provenance_n_val",
    "read_confirmation",
    "read_confusion",
    "read_curves",
    "read_provenance",
    "read_record",
    "sha256_file",
    "stop_when_full",
    "stored_trial_count",
    "summary_frame",
    "write_confirmation",
    "write_json",
    "write_provenance",
    "write_safetensors",
    "write_text",
    "write_trial",
]

#: Names that import Optuna, imported on first use, and the module that defines each.
_LAZY = {
    "FlockLock": "sweeplab.store._lock",
    "JOURNAL_FILE": "sweeplab.store._storage",
    "journal_ends_clean": "sweeplab.store._storage",
    "open_journal": "sweeplab.store._storage",
    "open_storage": "sweeplab.store._storage",
    "stored_trial_count": "sweeplab.store._storage",
}


def __getattr__(name: str) -> Any:
    """Import the Optuna-backed names on first use."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
