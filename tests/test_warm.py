"""The install-time warm-up runs the numba code paths of a real run without error."""

from curate import warm


def test_warm_compiles_the_kernels(capsys) -> None:
    warm.main()
    assert "numba kernels compiled and cached" in capsys.readouterr().out
