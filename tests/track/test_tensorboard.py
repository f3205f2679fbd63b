"""TensorBoard: read the event files back with tensorboard's own readers."""

from __future__ import annotations

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, metadata

from sweeplab.store import Study
from sweeplab.track import SCALAR_TAGS
from tests.track.conftest import curves

pytestmark = pytest.mark.slow


def test_every_scalar_of_every_trial_is_readable(tracked: Study) -> None:
    records = tracked.records()
    assert sorted(r.epochs_trained for r in records) == [2, 3, 4]
    for record in records:
        acc = EventAccumulator(str(tracked.dir.root / "tensorboard" / f"trial-{record.number:05d}"))
        acc.Reload()
        frame = curves(tracked, record.number)
        tags = set(acc.Tags()["scalars"])
        for column, tag in SCALAR_TAGS.items():
            events = acc.Scalars(tag)
            assert [e.step for e in events] == list(frame["epoch"]), tag
            assert [e.value for e in events] == pytest.approx(list(frame[column]), rel=1e-6)
        lr = acc.Scalars("learning_rate")
        assert [e.value for e in lr] == pytest.approx([record.params["lr"]] * len(frame))
        for split in ("val", "test"):
            for key, value in (getattr(record, split) or {}).items():
                (event,) = acc.Scalars(f"hparam/{split}_{key}")
                assert event.value == pytest.approx(value, rel=1e-6)
                assert event.step == record.epochs_trained
        assert "hparam/objective" in tags
        (text,) = acc.Tensors("architecture/text_summary")
        body = text.tensor_proto.string_val[0].decode()
        assert "4 x 8" in body
        assert "8 x 3" in body
        assert "67 parameters" in body


def test_hparams_plugin_lists_every_trial(tracked: Study) -> None:
    logdir = str(tracked.dir.root / "tensorboard")
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, logdir)
    ctx = backend_context.Context(base_plugin.TBContext(data_provider=provider, logdir=logdir))
    request = context.RequestContext()
    content = ctx.hparams_metadata(request, "")
    assert len(content) == 3
    for run, tags in content.items():
        start = metadata.parse_session_start_info_plugin_data(tags[metadata.SESSION_START_INFO_TAG])
        end = metadata.parse_session_end_info_plugin_data(tags[metadata.SESSION_END_INFO_TAG])
        number = int(run.split("-")[1])
        record = next(r for r in tracked.records() if r.number == number)
        assert start.hparams["epochs"].number_value == record.params["epochs"]
        assert start.hparams["optimizer"].string_value == "adam"
        assert start.hparams["seed"].string_value == str(record.seed)
        assert end.status == api_pb2.STATUS_SUCCESS
    experiment = ctx.experiment_from_metadata(
        request, "", True, content, ctx.hparams_from_data_provider(request, "", None)
    )
    hparams = {h.name for h in experiment.hparam_infos}
    assert {"lr", "epochs", "units1", "batch_size", "seed"} <= hparams
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {"hparam/val_accuracy", "hparam/test_accuracy", "Loss/val"} <= metrics
