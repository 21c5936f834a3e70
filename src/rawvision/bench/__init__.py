"""Benchmarks: commands of their own, never tests: ``rawvision bench NAME ARGS...`` (or
``python -m rawvision.bench.NAME ARGS...``) runs ``rawvision.bench.NAME.main(ARGS)``. The training benchmarks
(``table1``, ``table2``, ``overhead``, ``ta_isp_detection``) build their runs from one task configuration:
``--config FILE`` and ``--set KEY=VALUE ...`` (see :mod:`rawvision.bench._report`)."""
