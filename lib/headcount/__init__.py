"""headcount: executable companion to "The Effect of Attention Head Count on Transformer Approximation".

Import-only: no work at import time. Three layers, each importing only from those below it
(tests/test_layers.py enforces it):

- the paper, ``headcount.*``: ``model`` (equation (4), the reference), ``tasks``, ``constructions``, ``theory``,
  ``analysis``, ``claims``, ``registry``, ``paper`` (transcribed tables), ``params``, ``paths`` (a leaf);
- the engine, ``headcount.engine.*``: ``train``, ``batched`` (the stacked engine), ``ckernel`` (+ kernels/),
  ``synthetic``, ``retrieval``, ``vit``, ``realdata``, ``sweep``, ``store``, ``cluster`` (Dask), ``progress``,
  ``bench`` (with ``bench_realdata``);
- the book, ``headcount.book.*``: ``runner``, ``pagecache``, ``status``, ``estimate``, ``compute``, ``cli``,
  ``plots``, ``judging``, ``gpucheck``, and ``pages.<page>`` (each page's parameters, sweeps, evidence and text).
"""

__version__ = "0.1.0"
