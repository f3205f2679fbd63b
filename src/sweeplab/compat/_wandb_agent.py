"""What W&B's sweep agent does to start one run of a script, done locally and offline.

Matches ``wandb/wandb_agent.py`` (``Agent._command_run``) and
``wandb/sdk/launch/sweeps/utils.py`` of wandb 0.31:

- the command is the sweep's ``command`` list, or ``${env} ${interpreter}
  ${program} ${args}``; a list item that is a whole macro is replaced by its
  list (``${args}`` gives ``--lr=0.01 --epochs=5``; ``${args_no_hyphens}``
  ``lr=0.01``; ``${args_no_boolean_flags}`` drops false booleans and gives
  ``--flag`` for true ones; ``${args_json}`` one JSON string;
  ``${args_json_file}`` the path of a file holding it; ``${env}``
  ``/usr/bin/env``; an unknown macro gives nothing), and
  ``${envvar:NAME}`` inside any item is the environment variable's value;
- the config is written as a W&B config file
  (``$WANDB_DIR/wandb/sweep-<sweep>/config-<run>.yaml``, ``{key: {value: v}}``)
  named by ``WANDB_SWEEP_PARAM_PATH``; ``wandb.init()`` reads it and its
  values win over the script's own defaults, as under W&B's agent;
- ``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID`` name the sweep and the run.

Two departures, both for running offline without an account:
``${interpreter}`` is this Python (``sys.executable``) rather than whatever
``python`` is first on ``PATH``, and ``WANDB_MODE=offline`` with
``WANDB_DIR`` set to the trial's own directory.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_COMMAND", "MACROS", "agent_command", "agent_env", "command_args"]

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
MACROS = (
    "env",
    "interpreter",
    "program",
    "args",
    "args_no_hyphens",
    "args_no_boolean_flags",
    "args_no_equals",
    "args_json",
    "args_json_file",
    "args_append_hydra",
    "args_override_hydra",
)
_ENVVAR = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")


def _plain(value: Any) -> Any:
    """Nested configs as plain dicts (YAML writes no dict subclasses)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def command_args(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The argument lists of each ``${args...}`` macro for a config (W&B's formats)."""
    flags, no_hyphens, no_booleans, no_equals, plus, plusplus = [], [], [], [], [], []
    for param, raw in config.items():
        value = _plain(raw)
        flag = f"{param}={value}"
        flags.append(f"--{flag}")
        no_hyphens.append(flag)
        no_equals += [f"--{param}", str(value)]
        plus.append(f"+{flag}")
        plusplus.append(f"++{flag}")
        if isinstance(value, bool):
            if value:
                no_booleans.append(f"--{param}")
        else:
            no_booleans.append(f"--{flag}")
    return {
        "args": flags,
        "args_no_hyphens": no_hyphens,
        "args_no_boolean_flags": no_booleans,
        "args_no_equals": no_equals,
        "args_json": [json.dumps(_plain(config))],
        "args_append_hydra": plus,
        "args_override_hydra": plusplus,
    }


def agent_command(
    command: Sequence[Any] | None,
    program: str,
    config: Mapping[str, Any],
    args_json_file: Path,
    env: Mapping[str, str],
) -> list[str]:
    """The argument list W&B's agent would run for ``config`` (writes the JSON file if used)."""
    template = [str(c) for c in (command or DEFAULT_COMMAND)]
    template = [_ENVVAR.sub(lambda m: env.get(m.group(1), m.group(1)), c) for c in template]
    macros: dict[str, list[str]] = {
        **command_args(config),
        "interpreter": [sys.executable],
        "program": [program],
        "args_json_file": [str(args_json_file)],
        "env": ["/usr/bin/env"] if os.name != "nt" else [],
    }
    if "${args_json_file}" in template:
        args_json_file.parent.mkdir(parents=True, exist_ok=True)
        args_json_file.write_text(macros["args_json"][0], encoding="utf-8")
    out: list[str] = []
    for item in template:
        if item.startswith("${") and item.endswith("}"):
            out += macros.get(item[2:-1], [])
        else:
            out.append(item)
    return out


def agent_env(
    base: Mapping[str, str],
    *,
    wandb_dir: Path,
    sweep_id: str,
    run_id: str,
    config: Mapping[str, Any],
    labels: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The run's environment, after writing its sweep-parameter file as the agent does."""
    param_file = wandb_dir / "wandb" / f"sweep-{sweep_id}" / f"config-{run_id}.yaml"
    param_file.parent.mkdir(parents=True, exist_ok=True)
    body = "wandb_version: 1"
    if config:
        wrapped = {k: {"value": _plain(v)} for k, v in config.items()}
        body += "\n\n" + yaml.safe_dump(wrapped, default_flow_style=False, sort_keys=False)
    param_file.write_text(body, encoding="utf-8")
    env = dict(base)
    # A disabled wandb writes no run log, so the metric could not be read.
    env.pop("WANDB_DISABLED", None)
    env.update(
        {
            "WANDB_MODE": "offline",
            "WANDB_DIR": str(wandb_dir),
            "WANDB_SWEEP_ID": sweep_id,
            "WANDB_RUN_ID": run_id,
            "WANDB_SWEEP_PARAM_PATH": str(param_file),
            # Flush the transaction log often, so per-step values reach the pruner.
            "WANDB__TRANSACTION_LOG_FLUSH_INTERVAL": "0.2",
        }
    )
    for key, value in (labels or {}).items():
        env[f"WANDB_{key.upper()}"] = value
    return env
