"""genrec's benchmark harness: the scripts behind BENCHMARKS.md, outside the product package.

Run a suite with ``python -m benchmarks <suite> [options]`` from the repository root
(``python -m benchmarks --help`` lists them); each suite is also a module with ``main()``.
"""
