"""Group planning: fuse only what pays, never mix group keys, respect caps."""

from __future__ import annotations

import torch

from sweeplab.engine import CPU_WORKING_SET, MemberSpec, group_cap, plan_groups, step_overhead
from sweeplab.engine._plan import _step_cost

CPU = torch.device("cpu")


def _m(units: tuple[int, ...], seed: int = 0, **kw: object) -> MemberSpec:
    return MemberSpec(units=units, seed=seed, batch_size=64, **kw)  # type: ignore[arg-type]


def test_same_shape_members_fuse_into_one_group() -> None:
    members = [_m((256, 256), seed=i) for i in range(6)]
    assert plan_groups(members, 784, 10, CPU) == [list(range(6))]


def test_narrow_members_are_not_padded_to_a_wide_one() -> None:
    members = [_m((16, 16)), _m((512, 512)), _m((16, 16), seed=1), _m((512, 512), seed=1)]
    groups = plan_groups(members, 784, 10, CPU)
    assert sorted(groups) == [[0, 2], [1, 3]]


def test_tiny_members_fuse_despite_different_widths() -> None:
    members = [_m((w,), seed=w) for w in (4, 8, 16, 32)]
    assert plan_groups(members, 4, 3, CPU) == [[0, 1, 2, 3]]


def test_group_keys_never_mix_and_every_member_is_planned_once() -> None:
    members = [
        _m((32,), optimizer="adam"),
        _m((32,), optimizer="sgd"),
        _m((32, 32), optimizer="adam"),
        _m((32,), optimizer="adam", seed=3),
    ]
    groups = plan_groups(members, 10, 3, CPU)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    for g in groups:
        assert len({members[i].group_key() for i in g}) == 1
    assert [0, 3] in groups


def test_planned_groups_are_never_modelled_slower_than_alone() -> None:
    widths = [16, 32, 64, 128, 256, 512, 256, 256, 64]
    members = [_m((w, w), seed=i) for i, w in enumerate(widths)]
    ov = step_overhead(CPU) / 64
    for g in plan_groups(members, 784, 10, CPU):
        fused = _step_cost([members[i].units for i in g], 784, 10, ov)
        alone = sum(_step_cost([members[i].units], 784, 10, ov) for i in g)
        assert fused <= alone


def test_caps_split_large_groups() -> None:
    members = [_m((256, 256), seed=i) for i in range(40)]
    cap = group_cap(members[0], 784, 10, CPU)
    assert cap == CPU_WORKING_SET // (4 * 4 * (784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10))
    groups = plan_groups(members, 784, 10, CPU)
    assert max(len(g) for g in groups) == cap
    assert sum(len(g) for g in groups) == 40
    assert all(len(g) <= 3 for g in plan_groups(members, 784, 10, CPU, cap=3))
    assert group_cap(members[0], 784, 10, CPU, torch.float64) == cap // 2
