"""The durable record of a study: directory layout, trial records, provenance."""

from sweeplab.store._files import write_json, write_text
from sweeplab.store._provenance import collect_provenance
from sweeplab.store._records import TrialRecord, read_curves, read_record, write_trial
from sweeplab.store._study_dir import Study, StudyDir, load_study, summary_frame

__all__ = [
    "Study",
    "StudyDir",
    "TrialRecord",
    "collect_provenance",
    "load_study",
    "read_curves",
    "read_record",
    "summary_frame",
    "write_json",
    "write_text",
    "write_trial",
]
