"""Which members train together: group sizes and groupings that pay.

A fused group computes every member at the padded (widest) shape, so fusing a
16-unit member with a 512-unit one costs the small one 32x its own work. What a
group saves is the fixed per-step cost (Python, kernel launches, the host
loop), paid once instead of once per member. :func:`plan_groups` fuses a
member into a group only when the modelled step cost of the group with it is
no more than the group's cost plus the member's cost alone, so a group is never
modelled slower than running its members one after another.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sweeplab.engine._calibrate import DEFAULT, calibration
from sweeplab.engine._member import MemberSpec

__all__ = ["CPU_WORKING_SET", "group_cap", "plan_groups", "step_overhead"]

CPU_WORKING_SET = 64 * 2**20
"""Bytes of parameters, gradients and optimizer state a CPU group may hold.

Measured with bench on a 2-core Xeon (784-256-256-10, Adam, 4.3 MB per
member): time per trial is flat from K = 4 to 16 and rises by 25-30 % at
K = 64, when the group no longer stays in cache."""

GPU_MEMORY_FRACTION = 0.5
"""Share of the free device memory (``torch.cuda.mem_get_info``) one group may use."""

MAX_GROUP = 1024

_OVERHEAD_FLOPS = {"cpu": 2e7, "cuda": 5e9, "mps": 5e9}
"""The fixed cost of one training step, in multiply-adds it is worth.

CPU: about 0.4 ms of per-step Python and dispatch at about 50 GFLOP/s on one
core. GPU: about 60 kernel launches of 5-10 us each against tens of TFLOP/s."""


def step_overhead(device: torch.device) -> float:
    """The fixed per-step cost on ``device``, in multiply-adds.

    On the CPU it is measured (:func:`sweeplab.engine._calibrate.calibration`:
    fixed seconds per step times multiply-adds per second of this machine);
    elsewhere, and with ``SWEEPLAB_CALIBRATION=off``, the constants above.
    """
    if device.type == "cpu":
        measured = calibration(device)
        if measured is not DEFAULT:
            return measured.overhead_work
    return _OVERHEAD_FLOPS.get(device.type, _OVERHEAD_FLOPS["cuda"])


def _dims(units: Sequence[int], n_features: int, n_classes: int) -> list[int]:
    return [n_features, *units, n_classes]


def _n_params(dims: Sequence[int]) -> int:
    return sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(len(dims) - 1))


def group_cap(
    member: MemberSpec,
    n_features: int,
    n_classes: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> int:
    """How many members shaped like ``member`` one group may hold on ``device``.

    On a GPU the budget is a share of the memory free right now (parameters,
    gradients, two optimizer states, a copy for slicing, and the activations of
    a batch); on the CPU it is :data:`CPU_WORKING_SET` of parameter-sized
    tensors, which keeps a group in cache.
    """
    if dtype == torch.bfloat16:  # bfloat16 products, float32 master weights and state
        dtype = torch.float32
    elem = torch.empty((), dtype=dtype).element_size()
    n_params = _n_params(_dims(member.units, n_features, n_classes))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        acts = member.batch_size * (sum(member.units) * 6 + n_features + 4 * n_classes)
        per_member = elem * (5 * n_params + acts)
        budget = int(free * GPU_MEMORY_FRACTION)
    else:
        per_member = elem * 4 * n_params
        budget = CPU_WORKING_SET
    return int(max(1, min(MAX_GROUP, budget // max(1, per_member))))


def _step_cost(
    units: Sequence[Sequence[int]], n_features: int, n_classes: int, overhead: float
) -> float:
    """Modelled cost of one step of a group whose members have ``units``."""
    widest = [max(u[i] for u in units) for i in range(len(units[0]))]
    dims = _dims(widest, n_features, n_classes)
    per_sample = sum(dims[i] * dims[i + 1] for i in range(len(dims) - 1))
    return overhead + 3.0 * len(units) * per_sample


def plan_groups(
    members: Sequence[MemberSpec],
    n_features: int,
    n_classes: int,
    device: torch.device,
    cap: int | None = None,
    dtype: torch.dtype = torch.float32,
    unit: int = 1,
) -> list[list[int]]:
    """Split ``members`` (indices into it) into groups that each train as one model.

    Members with different group keys never share a group. Within a key, the
    widest members are placed first and each further member joins the group
    where it adds the least modelled cost, if that is no more than its cost
    alone and the group stays within :func:`group_cap` (and ``cap``, if given);
    otherwise it starts a group. Indices keep their input order in each group.
    Each member stands for ``unit`` members of the same shape (the folds of a
    cross-validated trial), which count against the caps.
    """
    overhead = step_overhead(device)
    by_key: dict[tuple[object, ...], list[int]] = {}
    for i, m in enumerate(members):
        by_key.setdefault(m.group_key(), []).append(i)
    plans: list[list[int]] = []
    for indices in by_key.values():
        batch = members[indices[0]].batch_size
        ov = overhead / max(1, batch)

        def cost(group: Sequence[int], ov: float = ov) -> float:
            return _step_cost([members[i].units for i in group], n_features, n_classes, ov)

        order = sorted(indices, key=lambda i: (-cost([i]), i))
        groups: list[list[int]] = []
        for i in order:
            alone = cost([i])
            best: tuple[float, int] | None = None
            for g, group in enumerate(groups):
                limit = group_cap(members[group[0]], n_features, n_classes, device, dtype)
                if cap is not None:
                    limit = min(limit, cap)
                if len(group) * unit + unit > max(limit, unit):
                    continue
                added = cost([*group, i]) - cost(group)
                if added <= alone and (best is None or added < best[0]):
                    best = (added, g)
            if best is None:
                groups.append([i])
            else:
                groups[best[1]].append(i)
        plans += [sorted(g) for g in groups]
    return plans
