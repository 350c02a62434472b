"""xdist's units: a version's conformance cells together, every other test alone."""

from __future__ import annotations

from tests.scheduling import BATCHED, scope


def test_the_cells_of_one_version_are_one_unit_and_other_tests_their_own() -> None:
    a = BATCHED + "apply_patch_add@0.171.0]"
    b = BATCHED + "image_resume@0.171.0]"
    c = BATCHED + "apply_patch_add@0.135.0]"
    assert scope(a) == scope(b) == "conformance@0.171.0"
    assert scope(c) == "conformance@0.135.0"
    other = "tests/conformance/test_two_processes.py::test_two[exec_vs_exec@0.171.0]"
    assert scope(other) == other
    assert scope("tests/test_sessions.py::test_x") == "tests/test_sessions.py::test_x"
