from __future__ import annotations

import pytest

from stigmer_core.ids import IdPrefix, default_instance_id, is_id, new_id


def test_ids_have_prefix_and_sort_by_creation() -> None:
    ids = [new_id(IdPrefix.EXECUTION) for _ in range(50)]
    assert all(is_id(i, IdPrefix.EXECUTION) for i in ids)
    assert not is_id(ids[0], IdPrefix.WORKFLOW)


def test_default_instance_id_is_derived_from_the_workflow() -> None:
    workflow_id = new_id(IdPrefix.WORKFLOW)
    instance_id = default_instance_id(workflow_id)
    assert instance_id == default_instance_id(workflow_id)
    assert is_id(instance_id, IdPrefix.INSTANCE)
    assert instance_id[4:] == workflow_id[4:]
    with pytest.raises(ValueError, match="not a workflow id"):
        default_instance_id("wex-" + workflow_id[4:])
