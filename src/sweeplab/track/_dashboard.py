"""optuna-dashboard on a study's own storage, bound to the loopback interface."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sweeplab.errors import require_extra
from sweeplab.store import load_study, open_storage

__all__ = ["dashboard_server"]

_log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("dashboard: " + format, *args)


def dashboard_server(study_dir: Path, host: str = "127.0.0.1", port: int = 8080) -> WSGIServer:
    """A WSGI server for optuna-dashboard on the study's journal (or RDB) storage.

    ``port=0`` picks a free port; the bound one is ``server.server_port``.
    Call ``serve_forever()`` to serve and ``shutdown()`` from another thread
    to stop.
    """
    require_extra("optuna_dashboard", "dashboard", "sweeplab dashboard")
    from optuna_dashboard import wsgi

    study = load_study(study_dir)
    app = wsgi(open_storage(study.dir.root, study.spec.study.storage))
    return make_server(host, port, app, handler_class=_QuietHandler)
